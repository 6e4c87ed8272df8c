"""The papers' table layouts per test set, and the published numbers (`paper_results.json`).

A layout names its columns by the papers' column ids (SIG, BAK, OVL, SESQA, LSD, WER, SPK; PESQ,
SiSPNR, SSIM, SiSNR, STOI, MOS) and says which metric (and sub-score) fills each, and, where a
metric has versions, which backend produced the published numbers: a run's default metrics
(each builder's `TestSetInfo.metrics` = `layout_metrics`) ask for that backend and the report
names the backend behind every column.
SESQA, Dolby's in-house model, is not public: its column is filled by NISQA, the public full-band
stand-in, and footnoted as such. MOS columns are the papers' listening tests: no metric fills them
(see `listen-test`); only the published rows show values.

Backends of the published numbers (LSD and SiSPNR have versions; see metrics/lsd.py, sispnr.py):
- 001/002 (MaskSR, MaskSR2): LSD `voicefixer2022`. Both cite "the public implementation in [1]"
  (VoiceFixer) in 2024, when every public one - voicefixer_main after 9c94468 (Feb 2022) and the
  PyPI `ssr_eval` 0.0.7 (2023) - computes the 2022 form. The numbers agree: on the same released
  SR set, 001's Unprocessed LSD (2-16 kHz rates) is 2.889 against 003's 2.78 (mean of 3.13, 2.97,
  2.70, 2.32 in the 2021 form), +0.11; the 2022 form exceeds the 2021 one by +0.17 on our 16-bit
  SR renderings of the 8 VCTK excerpts (3.230 vs 3.065), and by about 0 on noisy input (ALL-GSR
  Unprocessed: 001 2.014, 003 2.00).
- 003/004 (VoiceFixer): LSD and SiSPNR `voicefixer2021` (voicefixer_main evaluation_proc at
  0c206f7; 003 was submitted in Oct 2021, 004's numbers are 003's); PESQ-wb, SiSNR and STOI
  `speechmetrics` (the same file computes them with speechmetrics: resampy to 16 kHz for PESQ,
  the files' own rate otherwise, zero-padding).
A test set may have several layouts (sr and all_gsr: MaskSR's and VoiceFixer's tables).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PAPER_RESULTS = Path(__file__).with_name("paper_results.json")


@dataclass(frozen=True)
class Column:
    paper_id: str                 # column id in paper_results.json
    header: str
    metric: str                   # metric name in the METRICS registry
    sub: str | None = None        # metric sub-score column (None: the metric's first column)
    digits: int = 3
    higher_is_better: bool = True
    backend: str | None = None    # the metric backend the published numbers used (None: any)

    @property
    def spec(self) -> str:
        """The metric spec a run asks for: `lsd:voicefixer2021`, or the bare name."""
        return f"{self.metric}:{self.backend}" if self.backend else self.metric


@dataclass(frozen=True)
class Layout:
    name: str
    source: str                   # the paper table it reproduces
    testsets: tuple[str, ...]
    columns: tuple[Column, ...]
    by_subset: bool = False       # one table per subset (dns2020: with/without reverb, real)
    subset_columns: dict | None = None  # subset -> paper ids shown (dns2020 real: no Spk Sim)
    papers: tuple[str, ...] = ("001", "002")   # seeds whose published rows it shows

    @property
    def metrics(self) -> tuple[str, ...]:
        """Metric specs its measured columns need (MOS columns have none)."""
        return tuple(dict.fromkeys(c.spec for c in self.columns if c.metric))


SIG = Column("SIG", "DNSMOS SIG ↑", "dnsmos", "SIG")
BAK = Column("BAK", "DNSMOS BAK ↑", "dnsmos", "BAK")
OVL = Column("OVL", "DNSMOS OVL ↑", "dnsmos", "OVRL")
SESQA = Column("SESQA", "NISQA ↑ †", "nisqa", "MOS")
LSD = Column("LSD", "LSD ↓", "lsd", None, higher_is_better=False, backend="voicefixer2022")
WER = Column("WER", "WER (%) ↓", "wer", None, digits=2, higher_is_better=False)
SPK = Column("SPK", "Spk Sim ↑", "spk_sim", None)

# VoiceFixer (003, 004): two decimals, as published; LSD and SiSPNR in their 2021 versions
VF_PESQ = Column("PESQ", "PESQ-wb ↑", "pesq", None, digits=2, backend="speechmetrics")
VF_LSD = Column("LSD", "LSD ↓", "lsd", None, digits=2, higher_is_better=False, backend="voicefixer2021")
VF_SISPNR = Column("SiSPNR", "SiSPNR ↑", "sispnr", None, digits=2, backend="voicefixer2021")
VF_SSIM = Column("SSIM", "SSIM ↑", "ssim", None, digits=2)
VF_SISNR = Column("SiSNR", "SiSNR ↑", "si_snr", None, digits=2, backend="speechmetrics")
VF_STOI = Column("STOI", "STOI ↑", "stoi", None, digits=2, backend="speechmetrics")
VF_MOS = Column("MOS", "MOS ↑ ‡", "", None, digits=2)
VF = ("003", "004")

LAYOUTS: tuple[Layout, ...] = (
    Layout("full_band", "MaskSR (001) Table 1", ("sr", "all_gsr"), (SIG, BAK, OVL, SESQA, LSD, SPK)),
    Layout("vctk_gsr", "MaskSR2 (002) Table I", ("vctk_gsr",), (SIG, BAK, OVL, SESQA, LSD, WER, SPK)),
    Layout("libri_noisy", "MaskSR2 (002) Table III", ("libri_noisy",), (SIG, BAK, OVL, WER, SPK)),
    Layout("dns2020", "MaskSR (001) Table 4 / MaskSR2 (002) Table IV", ("dns2020",),
           (SIG, BAK, OVL, SPK), by_subset=True,
           subset_columns={"real_recordings": ("SIG", "BAK", "OVL")}),
    Layout("vf_all_gsr", "VoiceFixer (003) Table 1 / (004) Table 1", ("all_gsr",),
           (VF_PESQ, VF_LSD, VF_SISPNR, VF_SSIM, VF_MOS), papers=VF),
    Layout("vf_sr", "VoiceFixer (003) Table 6, per sampling rate", ("sr",),
           (VF_LSD, VF_SISPNR, VF_SSIM, VF_MOS), by_subset=True, papers=VF),
    Layout("vf_denoise", "VoiceFixer (003) Table 7 / (004) Table 2", ("denoise",),
           (VF_SISNR, VF_PESQ, VF_SISPNR, VF_MOS), papers=VF),
    Layout("vf_derev", "VoiceFixer (003) Table 8", ("derev",), (VF_PESQ, VF_SISPNR, VF_MOS), papers=VF),
    Layout("vf_decli", "VoiceFixer (003) Table 9 / (004) Table 3, per clipping level", ("decli",),
           (VF_SISNR, VF_STOI, VF_PESQ, VF_MOS), by_subset=True, papers=VF),
)

FOOTNOTES = {
    "SESQA": "† The papers' SESQA (Dolby in-house, not public) is not available; the column shows "
             "NISQA (full-band, 48 kHz), the public stand-in. Paper rows show the published SESQA.",
    "WER": "WER is corpus-level: total word errors over total reference words, in %.",
    "MOS": "‡ MOS is the papers' listening test; no metric fills it (run `listen-test`). Paper rows "
           "show the published MOS.",
}


ALIASES = {"OVL": ("OVRL",), "OVRL": ("OVL",), "MOS": ("mos", "MOS_PRED", "mos_pred")}


def resolve_column(available: list[str], sub: str | None) -> str | None:
    """The metric sub-score that fills a column: the named one (or an alias), else the first
    column when none is named; None when the named sub-score does not exist."""
    if not available:
        return None
    if sub is None:
        return available[0]
    for name in (sub, *ALIASES.get(sub, ())):
        if name in available:
            return name
    return None


def layouts_for(testset: str) -> tuple[Layout, ...]:
    """Every paper layout of a test set, in LAYOUTS order (MaskSR's first, then VoiceFixer's)."""
    return tuple(layout for layout in LAYOUTS if testset in layout.testsets)


def layout_for(testset: str) -> Layout | None:
    found = layouts_for(testset)
    return found[0] if found else None


def layout_metrics(testsets: list[str]) -> list[str]:
    """The metric specs the sets' tables need (`lsd:voicefixer2021` where a table's published
    numbers used a backend), in table order. Each builder's `TestSetInfo.metrics` (what a run
    scores by default) must list them: tests/test_report_tables.py checks it."""
    names: list[str] = []
    for t in testsets:
        for layout in layouts_for(t):
            names += [m for m in layout.metrics if m not in names]
    return names


def canonical_subset(subset: str) -> str:
    """Map a manifest subset name onto the papers' subsets: dns2020's, and decli's clipping levels
    ("clip_0.25", "0.10" -> "0.25", "0.1")."""
    s = (subset or "").lower()
    level = re.fullmatch(r"(?:clip(?:ping)?[_-]?(?:level[_-]?)?)?(0\.\d+)", s)
    if level:
        return f"{float(level.group(1)):g}"
    if "real" in s:
        return "real_recordings"
    if "no_reverb" in s or "without" in s or "noreverb" in s:
        return "no_reverb"
    if "reverb" in s:
        return "with_reverb"
    return subset


@cache
def paper_results() -> dict:
    return json.loads(PAPER_RESULTS.read_text())


@dataclass
class PaperRow:
    system: str
    sources: list[str]
    values: dict[str, float | None]       # paper column id -> value


def _agree(a: dict, b: dict) -> bool:
    """Two published rows are one if they share a reported column and agree on every one."""
    shared = [k for k in a if k in b and a[k] is not None and b[k] is not None]
    return bool(shared) and all(a[k] == b[k] for k in shared)


def paper_rows(testset: str, subset: str = "", papers: tuple[str, ...] | None = None) -> list[PaperRow]:
    """Published rows for a set (and subset), from the given seeds only ("001", ...; None: all);
    identical rows from two papers are merged."""
    rows: list[PaperRow] = []
    for table in paper_results()["tables"]:
        if table["testset"] != testset or (table["subset"] or "") != (subset or ""):
            continue
        if papers is not None and not any(f"({p})" in table["source"] for p in papers):
            continue
        for name, vals in table["rows"].items():
            values = dict(zip(table["columns"], vals, strict=True))
            same = next((r for r in rows if r.system == name and _agree(r.values, values)), None)
            if same:     # the same row (004 repeats 003's numbers, fewer columns): one row, both sources
                same.sources.append(table["source"])
                same.values.update({k: v for k, v in values.items() if v is not None})
                continue
            if any(r.system == name for r in rows):   # same row name, other numbers: label it
                name = f"{name} [{table['source'].split(' ')[0]}]"
            rows.append(PaperRow(name, [table["source"]], values))
    return rows


def paper_runtime() -> dict:
    return paper_results()["runtime"]
