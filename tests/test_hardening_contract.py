"""The plugin contract at the boundary, through the real CLI on real VoiceBank-DEMAND pairs: a
metric value that is not a finite float and a system output that is not float audio of the
input's length are item errors naming the plugin and the item; the run goes on."""

from __future__ import annotations

import sqlite3

import integrity_support as isup
import numpy as np
import pytest
import runner_support as rs

from benchmark.cli import main
from benchmark.core import paths
from benchmark.core.audio import read_audio
from benchmark.run.contract import ContractError, check_output, check_values, length_tolerance


@pytest.fixture
def plugins(monkeypatch, tmp_path):
    isup.register()
    yield
    isup.unregister()


def _run(systems: list[str], metrics: list[str], name: str) -> int:
    return main(["run", "--systems", *systems, "--metrics", *metrics, "--name", name,
                 "--profile", "offline"])


def _con(name: str) -> sqlite3.Connection:
    return sqlite3.connect(paths.runs_dir() / name / "store.sqlite")


METRIC_CASES = {"t_mnone": "v=None (NoneType)", "t_mstr": "v='4.2' (str)", "t_mnan": "v=nan",
                "t_minf": "v=inf"}
SYSTEM_CASES = {
    "t_int16": "int16 samples; the contract is float audio in [-1, 1] (integer PCM is refused",
    "t_short": "samples at 16000 Hz for an input of",
    "t_none": "a NoneType, expected a 1-D float waveform",
}


def test_a_metric_value_that_is_not_a_finite_float_is_an_item_error(isolated_env, corpora, plugins):
    """None and a string aborted the whole run ("failed to load"); NaN was stored as an empty
    value with "Item errors: 0". Now each is the item's error; the other metric scores."""
    rs.make_vb_set(corpora, paths.testsets_dir(), n=2)
    assert _run(["unprocessed"], [*METRIC_CASES, "t_rms"], "m") == 0      # the run finishes
    con = _con("m")
    for metric, shown in METRIC_CASES.items():
        rows = con.execute("SELECT value, error FROM scores WHERE metric=?", (metric,)).fetchall()
        assert len(rows) == 2
        for value, error in rows:
            assert value is None
            assert error.startswith(f"metric '{metric}' returned for item 'vb_pairs/vb_pairs_00")
            assert error.endswith(f"{shown}, expected a finite float"), error
    good = con.execute("SELECT value FROM scores WHERE metric='t_rms'").fetchall()
    assert len(good) == 2 and all(np.isfinite(v) for (v,) in good)    # the other metric scored
    md = (paths.reports_dir() / "m" / "report.md").read_text()
    assert "\nItem errors: 8" in md and "v=nan, expected a finite float" in md


def test_a_system_output_that_breaks_the_contract_is_an_item_error(isolated_env, corpora, plugins):
    rs.make_vb_set(corpora, paths.testsets_dir(), n=2)
    assert _run([*SYSTEM_CASES, "unprocessed"], ["t_rms"], "s") == 0
    con = _con("s")
    for system, says in SYSTEM_CASES.items():
        rows = con.execute("SELECT path, error FROM outputs WHERE system=?", (system,)).fetchall()
        assert len(rows) == 2
        for path, error in rows:
            assert path is None
            assert error.startswith(f"system '{system}' returned for item 'vb_pairs/vb_pairs_00"), error
            assert says in error
    ok = con.execute("SELECT COUNT(*) FROM outputs WHERE system='unprocessed' AND error IS NULL")
    assert ok.fetchone()[0] == 2


def test_an_output_within_the_length_tolerance_is_cut_to_the_input(isolated_env, corpora, plugins):
    rs.make_vb_set(corpora, paths.testsets_dir(), n=1)
    assert _run(["t_long1"], ["t_rms"], "l") == 0          # 100 samples longer: within ± 800
    (path,) = _con("l").execute("SELECT path FROM outputs WHERE system='t_long1'").fetchone()
    y, sr = read_audio(path)
    x, _ = read_audio(next((paths.testsets_dir() / "vb_pairs" / "degraded").glob("*.wav")))
    assert y.size == x.size and sr == 16000
    assert float(np.max(np.abs(y - x))) < 1e-3              # the audio itself, unchanged


def test_contract_checks_directly():
    assert length_tolerance(16000) == 800 and length_tolerance(44100) == 2205
    x = np.zeros(16000, np.float64)
    assert check_output(x, 16000 + 800, 16000, "s", "i").dtype == np.float32
    with pytest.raises(ContractError, match="16000 samples at 16000 Hz for an input of 16801"):
        check_output(x, 16801, 16000, "s", "i")
    with pytest.raises(ContractError, match=r"shape \(2, 8\)"):
        check_output(np.zeros((2, 8), np.float32), 8, 16000, "s", "i")
    with pytest.raises(ContractError, match="1 NaN/Inf samples"):
        check_output(np.array([0.0, np.inf]), 2, 16000, "s", "i")
    assert check_values({"a": np.float32(1.5), "b": 2}, "m", "i") == {"a": 1.5, "b": 2.0}
    for bad in (True, 1j, [1.0], None):
        with pytest.raises(ContractError, match="metric 'm' returned for item 'i' a="):
            check_values({"a": bad}, "m", "i")
