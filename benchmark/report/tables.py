"""The papers' published numbers (`paper_results.json`) and how the report fills a layout's columns.
The layouts themselves (which columns each paper table shows, for which sets, with which metric
backend) are data in `benchmark.run.layouts`, where the metric plan reads them too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from benchmark.run.layouts import (  # noqa: F401  (the report's names for the layouts' data)
    LAYOUTS,
    Column,
    Layout,
    layout_for,
    layout_metrics,
    layouts_for,
)

PAPER_RESULTS = Path(__file__).with_name("paper_results.json")


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
