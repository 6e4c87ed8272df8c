"""The VoiceFixer papers' published numbers (003 Tables 1, 6-9; 004 Tables 1-3) checked value by
value against the seed text, and the table layouts that show them (metric specs with backends)."""

from __future__ import annotations

import re
from pathlib import Path

from report_support import table_rows

from benchmark.report.tables import (
    LAYOUTS,
    canonical_subset,
    layout_metrics,
    layouts_for,
    paper_results,
    paper_rows,
)
from metrics import METRICS
from metrics.base import choose_backend, parse_metric_spec

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def _seed(prefix: str) -> str:
    return next(SEEDS.glob(f"{prefix}_*.txt")).read_text()


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


def test_voicefixer_tables_match_the_seed_text_in_order():
    """Every transcribed value is found in the seed after the previous one of its table (rows in
    reading order; 003 Table 6 by metric lines), either as printed with two decimals or, where the
    OCR garbled it, as the recorded OCR token with the same digits."""
    texts = {"003": _seed("003"), "004": _seed("004")}
    checked, ocr_used, per_table = 0, 0, {}
    for t in paper_results()["tables"]:
        paper = re.search(r"\((\d{3})\)", t["source"]).group(1)
        if paper not in texts:
            continue
        text = texts[paper]
        pos = text.index(t["seed_anchor"])
        names, cols = list(t["rows"]), t["columns"]
        for vals in t["rows"].values():
            assert len(vals) == len(cols), t["source"]
        cells = ([(n, c, t["rows"][n][j]) for j, c in enumerate(cols) for n in names]
                 if t["seed_order"] == "columns" else
                 [(n, c, v) for n in names for c, v in zip(cols, t["rows"][n], strict=True)])
        ocr, illegible = t.get("seed_ocr", {}), t.get("illegible", {})
        for name, col, v in cells:
            key = f"{name}|{col}"
            if v is None:
                if key in illegible:                       # recorded as unreadable, and it is there
                    assert illegible[key].split(" ")[0] in text, key
                continue
            printed = f"{v:.2f}"
            token = ocr.get(key, printed)
            if key in ocr:
                assert _digits(token) == _digits(printed), (t["source"], key, token, v)
                ocr_used += 1
            found = text.find(token, pos)
            assert found >= 0, (t["source"], t["subset"], key, token)
            pos = found + len(token)
            checked += 1
        per_table[(t["source"], t["subset"])] = sum(v is not None for vals in t["rows"].values() for v in vals)
    assert checked == 442 and ocr_used == 32, (checked, ocr_used)
    # spot checks against the seed tables
    assert per_table[("VoiceFixer (003) Table 6", "2kHz")] == 30
    sr2 = {r.system: r.values for r in paper_rows("sr", "2kHz", ("003", "004"))}
    assert sr2["Unprocessed"] == {"LSD": 3.13, "SiSPNR": 9.18, "SSIM": 0.68, "MOS": None}
    dec = {r.system: r for r in paper_rows("decli", "0.1", ("003", "004"))}
    assert dec["SSPADE"].values == {"SiSNR": 10.31, "STOI": 0.92, "PESQ": 2.12, "MOS": 2.63}
    assert dec["Unprocessed"].sources == ["VoiceFixer (003) Table 9", "VoiceFixer-IS (004) Table 3"]
    den = {r.system: r.values for r in paper_rows("denoise", "", ("003",))}
    assert den["Oracle-Mel"] == {"SiSNR": -17.52, "PESQ": 2.85, "SiSPNR": 12.84, "MOS": 3.64}


def test_layouts_declare_backends_and_cover_every_transcribed_table():
    # every published table is shown by a layout of its test set that has all its columns
    for t in paper_results()["tables"]:
        paper = re.search(r"\((\d{3})\)", t["source"]).group(1)
        shown = [lay for lay in layouts_for(t["testset"]) if paper in lay.papers]
        assert shown, t["source"]
        assert set(t["columns"]) <= {c.paper_id for c in shown[0].columns}, t["source"]
    # MaskSR's LSD is the 2022 form, VoiceFixer's LSD and SiSPNR the 2021 forms
    specs = layout_metrics(["sr", "all_gsr", "denoise", "derev", "decli"])
    assert {"lsd:voicefixer2022", "lsd:voicefixer2021", "sispnr:voicefixer2021", "pesq:speechmetrics",
            "ssim", "si_snr:speechmetrics", "stoi:speechmetrics"} <= set(specs)
    assert "" not in specs and not any(s.startswith(":") for s in specs)   # MOS: no metric
    for spec in specs:                                     # every layout spec resolves offline
        ms = parse_metric_spec(spec)
        cls = METRICS.get(ms.name)
        assert choose_backend(cls.info, ms.backend, "offline", False) in cls.info.backends
    assert [lay.name for lay in layouts_for("sr")] == ["full_band", "vf_sr"]
    assert {lay.name for lay in LAYOUTS} >= {"vf_all_gsr", "vf_denoise", "vf_derev", "vf_decli"}
    assert canonical_subset("clip_0.10") == "0.1" and canonical_subset("0.25") == "0.25"
    assert canonical_subset("2kHz") == "2kHz" and canonical_subset("synthetic_no_reverb") == "no_reverb"


def _decli_like_set(corpora, root):
    """A hand-made 16 kHz set named `decli` with the clipping-level subsets 0.25 and 0.1 (real
    VoiceBank pairs; the degraded side is the noisy file, which is all this test needs)."""
    import shutil

    from benchmark.core.audio import read_audio
    from testsets.manifest import ManifestItem, write_manifest
    src, folder = corpora / "VoiceBank-DEMAND", root / "decli"
    (folder / "degraded").mkdir(parents=True)
    (folder / "target").mkdir(parents=True)
    items = []
    for k, noisy in enumerate(sorted((src / "noisy_testset_wav").glob("*.wav"))[:4]):
        shutil.copy(noisy, folder / "degraded" / noisy.name)
        shutil.copy(src / "clean_testset_wav" / noisy.name, folder / "target" / noisy.name)
        x, sr = read_audio(noisy)
        items.append(ManifestItem(id=f"d{k}", degraded=f"degraded/{noisy.name}",
                                  target=f"target/{noisy.name}", rate=sr, target_rate=sr,
                                  duration=x.size / sr, subset="0.25" if k % 2 else "0.1"))
    write_manifest(folder / "manifest.jsonl", items)


def test_report_shows_a_voicefixer_layout_per_subset_with_its_backends(isolated_env, corpora):
    from benchmark.cli import main
    from benchmark.core import paths
    _decli_like_set(corpora, paths.testsets_dir())
    assert main(["run", "--systems", "unprocessed", "--testsets", "decli", "--metrics",
                 "si_snr:speechmetrics", "stoi:speechmetrics", "pesq:speechmetrics", "pesq",
                 "--profile", "offline", "--name", "vf"]) == 0
    md = (paths.reports_dir() / "vf" / "report.md").read_text()
    assert "Layout: VoiceFixer (003) Table 9 / (004) Table 3, per clipping level." in md
    for sub in ("0.1", "0.25"):
        section = md.split(f"### `decli` / {sub} (2 items)")[1].split("###")[0]
        headers, rows = table_rows(section)
        assert headers == ["System", "N", "SiSNR ↑", "STOI ↑", "PESQ-wb ↑", "MOS ↑ ‡"]
        assert rows["unprocessed"]["MOS ↑ ‡"] == "n/a"                    # MOS: listening test
        sspade = {"0.25": ["17.43", "0.98", "3.55", "3.34"], "0.1": ["10.31", "0.92", "2.12", "2.63"]}
        assert [rows["SSPADE (paper)"][h] for h in headers[2:]] == sspade[sub]
        assert "VoiceFixer (003) Table 9; VoiceFixer-IS (004) Table 3" in section
        # the column notes: the backend the published numbers used produced each column
        assert "- PESQ-wb ↑: pesq backend `speechmetrics`" in section
        assert "- SiSNR ↑: si_snr backend `speechmetrics`" in section and "‡ MOS is the papers'" in section
