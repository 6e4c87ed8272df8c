"""Reports: the papers' layouts with measured and published rows, CI and N, direction-aware bold,
corpus-level WER, breakdowns, provenance; regenerated from the store alone; the published
numbers file checked against the seeds' text."""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import runner_support as rs
from report_support import table_rows
from scipy import stats as sps

from benchmark.cli import main
from benchmark.core import paths
from benchmark.report.stats import corpus_ratio, mean_ci
from benchmark.report.tables import paper_results, paper_rows

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def _seed_text(prefix: str) -> str:
    return next(SEEDS.glob(f"{prefix}_*.txt")).read_text()


def test_published_numbers_match_the_seed_papers():
    texts = {"001": _seed_text("001"), "002": _seed_text("002")}
    n = 0
    for table in paper_results()["tables"]:
        paper = re.search(r"\((\d{3})\)", table["source"]).group(1)
        if paper not in texts:         # 003/004 (OCR'd seeds): tests/test_report_tables.py
            continue
        text = texts[paper]
        for name, vals in table["rows"].items():
            assert len(vals) == len(table["columns"]), (table["source"], name)
            for col, v in zip(table["columns"], vals, strict=True):
                if v is None:
                    continue
                s = f"{v:.2f}" if col == "WER" else f"{v:.3f}"
                assert s in text, (table["source"], name, col, s)
                n += 1
    rt = paper_results()["runtime"]
    for vals in rt["rows"].values():
        assert " ".join(f"{v:.2f}" for v in vals) in texts["001"].replace("\t", " ")
    assert n > 300
    # spot checks against the papers' tables (layout, de-interleaved merged rows)
    dns = {r.system: r.values for r in paper_rows("dns2020", "no_reverb")}
    assert dns["FRCRN"] == {"SIG": 3.578, "BAK": 4.133, "OVL": 3.335, "SPK": 0.970}
    assert "MaskSR-S [MaskSR2]" in dns and dns["MaskSR-S [MaskSR2]"]["SIG"] == 3.616
    vctk = {r.system: r.values for r in paper_rows("vctk_gsr")}
    assert vctk["DFNet3"]["WER"] == 8.64 and vctk["Target"]["LSD"] == 0.0


def test_mean_ci_and_corpus_ratio():
    x = [3.1, 2.9, 3.4, 3.0, 2.7]
    cell = mean_ci(x)
    lo, hi = sps.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=sps.sem(x))
    assert cell.n == 5 and cell.mean == pytest.approx(np.mean(x)) and cell.ci == pytest.approx((hi - lo) / 2)
    assert mean_ci([1.0]).n == 1 and math.isnan(mean_ci([1.0]).ci) and mean_ci([]).n == 0
    # corpus level: 3 + 0 + 1 edits over 10 + 2 + 8 words = 20 %, not the mean of per-item WERs
    w = corpus_ratio([3, 0, 1], [10, 2, 8], 100.0)             # WER in %
    assert w.mean == pytest.approx(20.0) and w.n == 3 and 0 < w.ci < 20


@pytest.fixture
def vctk_run(isolated_env, corpora, monkeypatch):
    monkeypatch.setenv("BENCHMARK_CORPORA", str(corpora))
    assert main(["testsets", "build", "vctk_gsr", "--items", "2"]) == 0
    rs.register()
    try:
        assert main(["run", "--systems", "unprocessed", "target", "t_half", "--metrics", "lsd", "wer",
                     "--profile", "offline", "--name", "rep"]) == 0
    finally:
        rs.unregister()
    return paths.reports_dir() / "rep"


@pytest.mark.slow
def test_report_layout_rows_bold_provenance_and_regeneration(vctk_run):
    md = (vctk_run / "report.md").read_text()
    import hashlib
    build = hashlib.sha256((paths.testsets_dir() / "vctk_gsr" / "CHECKSUMS").read_bytes()).hexdigest()
    assert f"## Test set `vctk_gsr` (2 items, build `{build[:12]}`)" in md and "MaskSR2 (002) Table I" in md
    headers, rows = table_rows(md[md.index("## Test set `vctk_gsr`"):])   # the main table
    assert headers[2:] == ["DNSMOS SIG ↑", "DNSMOS BAK ↑", "DNSMOS OVL ↑", "NISQA ↑ †", "LSD ↓",
                           "WER (%) ↓", "Spk Sim ↑"]
    assert rows["target (oracle)"]["LSD ↓"].startswith("0.000")      # LSD of the target itself
    assert [rows["DFNet3 (paper)"][h] for h in headers[2:]] == [
        "3.266", "4.066", "2.981", "3.115", "1.899", "8.64", "0.880"]
    assert rows["unprocessed"]["N"] == "2" and "±" in rows["unprocessed"]["LSD ↓"]
    # DNSMOS, NISQA not run here
    assert rows["unprocessed"]["DNSMOS SIG ↑"] == rows["unprocessed"]["NISQA ↑ †"] == "n/a"
    # LSD is lower-is-better: the unscaled input beats the x0.5 copy and gets the bold
    assert rows["unprocessed"]["LSD ↓"].startswith("**") and not rows["t_half"]["LSD ↓"].startswith("**")
    summary = json.loads((vctk_run / "summary.json").read_text())
    cells = summary["tables"]["vctk_gsr"]["all"]
    assert cells["t_half"]["LSD"]["mean"] > cells["unprocessed"]["LSD"]["mean"]
    # WER is corpus-level: total edits / total words of the per-item aux counts
    recs = list(csv.DictReader(open(vctk_run / "scores.csv")))
    wer_items = [r for r in recs if r["metric"] == "wer" and r["system"] == "target"]
    assert len(wer_items) == 2 and cells["target"]["WER"]["n"] == 2
    assert "WER is corpus-level" in md and "backend `pocketsphinx`" in md
    assert "(not the papers' backend)" in md
    # breakdowns from manifest parameters, runtime table, provenance
    assert "#### Breakdown by SNR (`vctk_gsr`)" in md or "#### Breakdown by bandwidth" in md
    assert "## Runtime per item" in md and "## Provenance" in md
    assert re.search(r"git commit: `[0-9a-f]{40}", md)
    sets = table_rows(md, "set")[1]
    assert (sets["vctk_gsr"]["items"], sets["vctk_gsr"]["seed"]) == ("2", "1000")
    assert "Item errors: 0" in md
    # regenerate from the store alone: no test set, no outputs, no report left
    before = (vctk_run / "report.md").read_text()
    shutil.rmtree(paths.testsets_dir())
    shutil.rmtree(paths.runs_dir() / "rep" / "outputs")
    shutil.rmtree(vctk_run)
    assert main(["report", "rep"]) == 0
    assert (vctk_run / "report.md").read_text() == before
    assert main(["report", "nope"]) == 2


def test_breakdown_bins_from_builder_manifests():
    from benchmark.report.breakdown import factors
    gsr = {"subset": "", "params": {"distortion": {
        "clip_eta": 0.3, "gain": 0.9, "lowpass": {"cutoff": 3000.0, "filter_type": "cheby1", "order": 4},
        "noise_lowpass": True, "reverb": False, "snr_db": 4.2}, "room": None}}
    assert factors(gsr) == {"SNR": "0–5 dB", "bandwidth": "2–4 kHz", "clipping": "0.25 ≤ η < 0.5",
                            "reverb": "no reverb"}
    clean = {"params": {"distortion": {"clip_eta": None, "lowpass": None, "noise_lowpass": False,
                                       "reverb": True, "snr_db": None}}}
    assert factors(clean) == {"SNR": "no noise", "bandwidth": "full band", "clipping": "no clipping",
                              "reverb": "reverb"}
    sr = {"subset": "2kHz", "params": {"cutoff": 1000.0, "filter": "cheby1", "low_rate": 2000, "order": 8}}
    assert factors(sr) == {"subset": "2kHz", "bandwidth": "≤ 2 kHz"}
