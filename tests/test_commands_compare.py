"""`compare RUN_A RUN_B` and the report's paired columns on real runs: a hand-made set of the real
VoiceBank-DEMAND pairs, one system run at two settings ("two checkpoints"), refusals for
different builds, no shared items and bad arguments, and `report --baseline`."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest
import runner_support as rs
from report_support import table_rows
from scipy import stats as sps

from benchmark.cli import main
from benchmark.core import paths
from benchmark.core.audio import read_audio, write_audio
from benchmark.report import paired
from systems.base import SYSTEMS, System, SystemInfo

GAIN_ENV = "T_GAIN"


class Gain(System):
    """x * $T_GAIN: the same system name and version with another setting, as two checkpoints."""
    info = SystemInfo(name="t_gain", version="1", rate=16000, description="test: x * gain",
                      backend="numpy", max_batch=8)

    def restore(self, items):
        return [float(os.environ.get(GAIN_ENV, "0.5")) * it.audio for it in items]


@pytest.fixture
def runs(isolated_env, corpora, plugins, monkeypatch):
    SYSTEMS.register(Gain)
    try:
        folder = rs.make_vb_set(corpora, paths.testsets_dir(), n=6)   # build: manifest sha256
        base = ["--systems", "unprocessed", "t_gain", "--testsets", "vb_pairs", "--metrics", "t_snr",
                "t_rms", "--profile", "offline"]
        assert main(["run", *base, "--name", "ga"]) == 0
        monkeypatch.setenv(GAIN_ENV, "0.25")
        assert main(["run", *base, "--name", "gb"]) == 0
        yield folder, base
    finally:
        SYSTEMS._entries.pop("t_gain", None)


def _scores(run: str, system: str, metric: str) -> dict[str, float]:
    rows = csv.DictReader(open(paths.reports_dir() / run / "scores.csv"))
    return {r["item_id"]: float(r["value"]) for r in rows if r["system"] == system and r["metric"] == metric}


def test_compare_detects_a_changed_system_and_not_an_unchanged_one(runs, tmp_path, capsys):
    capsys.readouterr()
    out = tmp_path / "diff.json"
    assert main(["compare", "ga", "gb", "--systems", "t_gain", "--metrics", "t_snr", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "# `gb` (B) against `ga` (A)" in text
    heads, rows = table_rows(text)
    assert heads[:6] == ["System", "Metric", "N", "A", "B", "Δ (B − A)"]
    assert rows["t_gain"]["B vs A"] == "B worse" and rows["t_gain"]["N"] == "6"
    res = json.loads(out.read_text())
    (row,) = res["pairs"]
    a, b = _scores("ga", "t_gain", "t_snr"), _scores("gb", "t_gain", "t_snr")
    d = np.array([b[i] - a[i] for i in sorted(a)])
    assert row["n"] == 6 and row["diff"] == pytest.approx(d.mean(), rel=1e-6)
    assert row["value_a"] == pytest.approx(np.mean(list(a.values())), rel=1e-6)
    # x0.25 is further from the clean target than x0.5 on every item (SNR -0.6 to -3.4 dB): p = 2/64
    assert np.all(d < 0) and row["p"] == pytest.approx(sps.wilcoxon(d).pvalue) == pytest.approx(2 / 64)
    assert row["p_holm"] == row["p"] and row["significant"] and row["verdict"] == "B worse"
    assert row["ci_high"] < 0 and row["mde"] > 0
    # every shared system and metric: unprocessed is the same in both runs (difference 0, p 1)
    csv_out = tmp_path / "diff.csv"
    assert main(["compare", "ga", "gb", "--out", str(csv_out)]) == 0
    rows = list(csv.DictReader(open(csv_out)))
    assert list(rows[0]) == list(paired.PAIR_FIELDS)
    assert {(r["system"], r["metric"], r["column"]) for r in rows} == {
        (s, m, c) for s in ("unprocessed", "t_gain") for m, c in (("t_snr", "SNR"), ("t_rms", "dB"))}
    un = next(r for r in rows if r["system"] == "unprocessed" and r["metric"] == "t_snr")
    assert float(un["diff"]) == 0 and float(un["p"]) == 1 and un["verdict"] == f"{paired.MARK} n.s."
    # Holm over the set's 4 tests: t_gain's two p-values (2/64 each) become 4 * 2/64 and 3 * ...
    gain = sorted(float(r["p_holm"]) for r in rows if r["system"] == "t_gain")
    assert gain[0] == pytest.approx(min(1, 4 * 2 / 64))


def test_compare_refuses_other_builds_no_shared_items_and_bad_arguments(runs, corpora, capsys, monkeypatch):
    folder, base = runs
    capsys.readouterr()
    assert main(["compare", "ga", "gb", "--systems", "t_nope"]) == 2
    assert "system 't_nope' is not in run 'ga' or 'gb'" in capsys.readouterr().err
    assert main(["compare", "ga", "gb", "--out", "x.txt"]) == 2
    assert "must end in .csv or .json" in capsys.readouterr().err
    assert main(["compare", "ga", "ga"]) == 2 and "two different runs" in capsys.readouterr().err
    assert main(["compare", "ga", "../x"]) == 2
    # the set's files changed under the same manifest (no CHECKSUMS: a hand-made set): one item's
    # input differs between the runs
    first = folder / "degraded" / sorted(os.listdir(folder / "degraded"))[0]
    x, sr = read_audio(first)
    write_audio(first, 0.9 * x, sr)
    assert main(["run", *base, "--name", "gc"]) == 0
    capsys.readouterr()
    assert main(["compare", "ga", "gc"]) == 2
    err = capsys.readouterr().err
    assert "scored different builds of test set 'vb_pairs'" in err and "1 of the item ids" in err
    # a rebuild with another manifest (one item's transcript): another build, every item differs
    man = folder / "manifest.jsonl"
    man.write_text(man.read_text().replace('"speaker": "p287"', '"speaker": "p287b"', 1))
    assert main(["run", *base, "--name", "gd"]) == 0
    capsys.readouterr()
    assert main(["compare", "ga", "gd"]) == 2
    assert "6 of the item ids" in capsys.readouterr().err
    # a set of other items only
    rs.make_vctk_set(corpora, paths.testsets_dir(), n=2)
    assert main(["run", "--systems", "unprocessed", "--testsets", "vctk_mini", "--metrics", "t_rms",
                 "--profile", "offline", "--name", "gv"]) == 0
    capsys.readouterr()
    assert main(["compare", "ga", "gv"]) == 2
    assert "share no restored item" in capsys.readouterr().err


def test_report_shows_paired_columns_and_takes_a_baseline(runs, capsys):
    md = (paths.reports_dir() / "gb" / "report.md").read_text()
    assert "Paired differences (system − best" in md
    heads, rows = table_rows(md[md.index("Paired differences (system − best"):])
    assert heads == ["System", "N", "Δ t_rms dB", "Δ t_snr SNR"] and rows["t_gain"]["N"] == "6"
    summary = json.loads((paths.reports_dir() / "gb" / "summary.json").read_text())
    assert summary["paired"]["correction"] == "holm, within each table"
    cells = summary["tables"]["vb_pairs"]["all"]
    snr = {s: cells[s]["t_snr:SNR"] for s in ("unprocessed", "t_gain")}
    best = max(snr, key=lambda s: snr[s]["mean"])
    other = ({"unprocessed", "t_gain"} - {best}).pop()
    assert snr[best]["paired"] == {"reference": True, "role": "best"}
    p = snr[other]["paired"]
    assert p["reference"] == best and p["n"] == 6 and p["test"] == "wilcoxon"
    assert p["diff"] == pytest.approx(snr[other]["mean"] - snr[best]["mean"], rel=1e-9)
    # against a chosen baseline instead
    assert main(["report", "gb", "--baseline", "t_gain"]) == 0
    md = (paths.reports_dir() / "gb" / "report.md").read_text()
    assert "system − baseline" in md and "the baseline `t_gain`" in md
    cells = json.loads((paths.reports_dir() / "gb" / "summary.json").read_text())["tables"]["vb_pairs"]["all"]
    assert cells["t_gain"]["t_snr:SNR"]["paired"]["role"] == "baseline"
    assert cells["unprocessed"]["t_rms:dB"]["paired"]["reference"] == "t_gain"
    capsys.readouterr()
    assert main(["report", "gb", "--baseline", "nope"]) == 2
    assert "--baseline nope: not a system of run 'gb'" in capsys.readouterr().err
