"""The runtime protocol (MaskSR Table 2): warm-up excluded, repeats timed, device recorded, stored
into a run and shown in its report next to the published A100 numbers."""

from __future__ import annotations

import csv

import pytest
import runner_support as rs

from benchmark.cli import main
from benchmark.core import paths
from metrics.runtime import Runtime


@pytest.fixture
def plugins(monkeypatch, tmp_path):
    rs.register()
    calls = tmp_path / "calls.log"
    monkeypatch.setenv(rs.CALLS_ENV, str(calls))
    yield calls
    rs.unregister()


def test_runtime_command_times_repeats_after_a_warmup(isolated_env, plugins, monkeypatch, capsys):
    monkeypatch.setenv("RUNNER_TEST_DELAY", "0.02")    # t_half sleeps 20 ms per call
    out = isolated_env / "timings.csv"
    assert main(["runtime", "--systems", "t_half", "--lengths", "1", "2", "--repeats", "3",
                 "--out", str(out), "--name", "rt"]) == 0
    # one warm-up + 3 timed calls per length
    assert plugins.read_text().splitlines() == ["restore t_half 1"] * 8
    rows = list(csv.DictReader(open(out)))
    assert [float(r["length_s"]) for r in rows] == [1.0, 2.0]
    for r in rows:
        assert 0.02 <= float(r["mean_s"]) < 0.5 and int(r["repeats"]) == 3
        assert float(r["rtf"]) == pytest.approx(float(r["mean_s"]) / float(r["length_s"]), rel=1e-3)
        assert r["device"].startswith("cpu")
    md = (paths.reports_dir() / "rt" / "report.md").read_text()
    assert "MaskSR (001) Table 2 protocol" in md
    assert "| MaskSR-S (paper) | NVIDIA A100 GPU |" in md and "| t_half | cpu" in md
    assert main(["runtime", "--systems", "t_half", "--repeats", "0"]) == 2
    assert "--repeats must be >= 1" in capsys.readouterr().err


def test_runtime_metric_values_come_from_the_runner():
    m = Runtime()
    s = m.from_timing(0.5, 2.0, "cpu")
    assert s.values == {"seconds": 0.5, "rtf": 0.25} and s.aux["device"] == "cpu"
    assert m.from_timing(None, 2.0, "cpu").error
    assert "measured by the runner" in m.score([object()])[0].error
