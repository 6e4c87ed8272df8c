"""The papers' table layouts per test set, and the published numbers (`paper_results.json`).

A layout names its columns by the papers' column ids (SIG, BAK, OVL, SESQA, LSD, WER, SPK) and
says which metric (and sub-score) fills each. SESQA, Dolby's in-house model, is not public:
its column is filled by NISQA, the public full-band stand-in, and footnoted as such.
"""

from __future__ import annotations

import json
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


@dataclass(frozen=True)
class Layout:
    name: str
    source: str                   # the paper table it reproduces
    testsets: tuple[str, ...]
    columns: tuple[Column, ...]
    by_subset: bool = False       # one table per subset (dns2020: with/without reverb, real)
    subset_columns: dict | None = None  # subset -> paper ids shown (dns2020 real: no Spk Sim)

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.metric for c in self.columns))


SIG = Column("SIG", "DNSMOS SIG ↑", "dnsmos", "SIG")
BAK = Column("BAK", "DNSMOS BAK ↑", "dnsmos", "BAK")
OVL = Column("OVL", "DNSMOS OVL ↑", "dnsmos", "OVRL")
SESQA = Column("SESQA", "NISQA ↑ †", "nisqa", "MOS")
LSD = Column("LSD", "LSD ↓", "lsd", None, higher_is_better=False)
WER = Column("WER", "WER (%) ↓", "wer", None, digits=2, higher_is_better=False)
SPK = Column("SPK", "Spk Sim ↑", "spk_sim", None)

LAYOUTS: tuple[Layout, ...] = (
    Layout("full_band", "MaskSR (001) Table 1", ("sr", "all_gsr"), (SIG, BAK, OVL, SESQA, LSD, SPK)),
    Layout("vctk_gsr", "MaskSR2 (002) Table I", ("vctk_gsr",), (SIG, BAK, OVL, SESQA, LSD, WER, SPK)),
    Layout("libri_noisy", "MaskSR2 (002) Table III", ("libri_noisy",), (SIG, BAK, OVL, WER, SPK)),
    Layout("dns2020", "MaskSR (001) Table 4 / MaskSR2 (002) Table IV", ("dns2020",),
           (SIG, BAK, OVL, SPK), by_subset=True,
           subset_columns={"real_recordings": ("SIG", "BAK", "OVL")}),
)

FOOTNOTES = {
    "SESQA": "† The papers' SESQA (Dolby in-house, not public) is not available; the column shows "
             "NISQA (full-band, 48 kHz), the public stand-in. Paper rows show the published SESQA.",
    "WER": "WER is corpus-level: total word errors over total reference words, in %.",
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


def layout_for(testset: str) -> Layout | None:
    for layout in LAYOUTS:
        if testset in layout.testsets:
            return layout
    return None


def canonical_subset(subset: str) -> str:
    """Map a manifest subset name onto the papers' dns2020 subsets."""
    s = (subset or "").lower()
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


def paper_rows(testset: str, subset: str = "") -> list[PaperRow]:
    """Published rows for a set (and subset); identical rows from two papers are merged."""
    rows: list[PaperRow] = []
    for table in paper_results()["tables"]:
        if table["testset"] != testset or (table["subset"] or "") != (subset or ""):
            continue
        for name, vals in table["rows"].items():
            values = dict(zip(table["columns"], vals, strict=True))
            same = next((r for r in rows if r.system == name and r.values == values), None)
            if same:
                same.sources.append(table["source"])
                continue
            if any(r.system == name for r in rows):   # same row name, other numbers: label it
                name = f"{name} [{table['source'].split(' ')[0]}]"
            rows.append(PaperRow(name, [table["source"]], values))
    return rows


def paper_runtime() -> dict:
    return paper_results()["runtime"]
