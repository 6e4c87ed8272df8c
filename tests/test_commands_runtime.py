"""The runtime protocol (MaskSR Table 2): warm-up excluded, repeats timed, device recorded, stored
into a run and shown in its report next to the published A100 numbers."""

from __future__ import annotations

import csv

import pytest
import runner_support as rs
from report_support import table_rows

from benchmark.cli import main
from benchmark.core import paths


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
    _, rows = table_rows(md[md.index("MaskSR (001) Table 2 protocol"):])
    assert rows["MaskSR-S (paper)"]["device"] == "NVIDIA A100 GPU"
    assert rows["t_half"]["device"].startswith("cpu")
    assert main(["runtime", "--systems", "t_half", "--repeats", "0"]) == 2
    assert "--repeats must be >= 1" in capsys.readouterr().err


def test_runtime_keep_stored_times_only_missing_lengths(isolated_env, plugins, monkeypatch, capsys):
    monkeypatch.setenv("RUNNER_TEST_DELAY", "0.01")
    base = ["runtime", "--systems", "t_half", "--repeats", "2", "--name", "rt2", "--no-report"]
    assert main(base + ["--lengths", "1"]) == 0
    assert len(plugins.read_text().splitlines()) == 3               # warm-up + 2 repeats
    assert not (paths.reports_dir() / "rt2" / "report.md").exists()   # --no-report
    plugins.write_text("")
    out = isolated_env / "t.json"
    assert main(base + ["--lengths", "1", "2", "--keep-stored", "--out", str(out)]) == 0
    # length 1 is kept from the store; only length 2 is timed (one warm-up + 2 repeats)
    assert plugins.read_text().splitlines() == ["restore t_half 1"] * 3   # one item per call
    assert "kept 1 stored timing(s)" in capsys.readouterr().out
    import json
    assert [r["length_s"] for r in json.loads(out.read_text())] == [1.0, 2.0]
    plugins.write_text("")
    assert main(base + ["--lengths", "1", "2", "--repeats", "3", "--keep-stored"]) == 0
    assert len(plugins.read_text().splitlines()) == 8               # 2 stored repeats < 3: re-timed
    assert main(["runtime", "--systems", "t_half", "--keep-stored"]) == 2
    assert "need --name RUN" in capsys.readouterr().err


def test_per_item_runtime_is_read_from_the_output_rows(isolated_env, corpora, plugins, monkeypatch):
    """Runtime is not a metric: the report's per-item seconds and RTF are the runner's timings of
    each system call, stored with the outputs (`outputs.seconds` / `audio_seconds`)."""
    from metrics import METRICS
    assert "runtime" not in METRICS
    monkeypatch.setenv("RUNNER_TEST_DELAY", "0.05")   # t_half sleeps 50 ms per item
    rs.make_vb_set(corpora, paths.testsets_dir())
    assert main(["run", "--systems", "t_half", "--metrics", "t_rms", "--profile", "offline",
                 "--name", "timed", "--limit", "3"]) == 0
    from benchmark.report.results import item_timings, load
    from benchmark.run.store import Store
    store = Store.existing("timed")
    try:
        data = load(store, "timed")
        rows = {r.item_id: r for r in store.item_outputs()}
    finally:
        store.close()
    timings = item_timings(data)
    assert len(timings) == 3 and {t.system for t in timings} == {"t_half"}
    for t in timings:
        row = rows[t.item_id]
        assert t.seconds == row.seconds and t.audio_seconds == row.audio_seconds
        assert t.rtf == pytest.approx(row.seconds / row.audio_seconds)
        assert t.device == "cpu"
    # one 3-item call (max_batch 4) sleeps 150 ms; each item gets its share by audio length
    assert 0.15 <= sum(t.seconds for t in timings) < 1.5
    assert not [r for r in data.records if r.metric == "runtime"]
    md = (paths.reports_dir() / "timed" / "report.md").read_text()
    assert "## Runtime per item (measured by the runner)" in md
    assert table_rows(md[md.index("## Runtime per item"):])[1]["t_half"]["N"] == "3"
