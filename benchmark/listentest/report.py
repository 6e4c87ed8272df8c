"""`listen-test report`: the listening test's section, in the papers' layout (001 Table 3 / 002
Table II: one column per system, MOS ± 95 % CI), next to the published MOS rows of the same test
set (`paper_mos.json`), then per-condition details, the paired tests and the listener screening.

Written to TEST/report.md and TEST/mos.json, and joined to the run's report: the section is saved
as $BENCHMARK_DATA/runs/<run>/report_sections/listening_test_<name>.md (beside the run's store,
so it survives a deleted reports folder) and the run's report is regenerated; the writer appends
every file of that folder (benchmark.report.writer.extra_sections).
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

from benchmark.core.errors import BenchmarkError
from benchmark.core.markdown import markdown_table as _table
from benchmark.listentest.analysis import Analysis, analyse
from benchmark.listentest.db import RatingsDB
from benchmark.listentest.design import TARGET, UNPROCESSED, load_design
from benchmark.report.writer import SECTIONS_DIR, write_report
from benchmark.run.store import STORE_NAME, run_folder

PAPER_MOS = Path(__file__).with_name("paper_mos.json")


@cache
def paper_tables() -> list[dict]:
    return json.loads(PAPER_MOS.read_text())["tables"]


def _num(x: float, d: int = 2) -> str:
    return f"{x:.{d}f}" if x is not None and math.isfinite(x) else "–"


def _mos(cell, bold: bool = False) -> str:
    if cell.n == 0:
        return "–"
    s = f"{cell.mean:.2f} ± {cell.ci:.2f}" if math.isfinite(cell.ci) else f"{cell.mean:.2f}"
    return f"**{s}**" if bold else s


def _columns(a: Analysis, papers: list[dict]) -> list[tuple[str, str]]:
    """(header, harness name) per column: Unprocessed, Target, the papers' systems in their order,
    then the test's other systems."""
    cols: list[tuple[str, str]] = [(UNPROCESSED, UNPROCESSED), (TARGET, TARGET)]
    measured = {m.system for m in a.mos}
    for t in papers:
        for header, name, _, _ in t["rows"]:
            if name not in {c[1] for c in cols} and (name in measured or t is papers[0]):
                cols.append((header, name))
    for m in a.mos:
        if m.system not in {c[1] for c in cols}:
            cols.append((m.system, m.system))
    return cols


def markdown(a: Analysis) -> str:
    d = a.design
    papers = [t for t in paper_tables() if t["testset"] == d.testset]
    cols = _columns(a, papers)
    by_sys = {m.system: m for m in a.mos}
    kept = a.kept
    n_items = len(d.items)
    headers = ["", *[h if h == n or n in (UNPROCESSED, TARGET) else f"{h} (`{n}`)" for h, n in cols]]
    rows = [[f"this test ({len(kept)} listeners, {n_items} items)"] +
            [_mos(by_sys[n].cell, bold=n == a.best) if n in by_sys else "–" for _, n in cols]]
    for t in papers:
        vals = {name: (v, ci) for _, name, v, ci in t["rows"]}
        who = (f"{t['listeners']} listeners, {t['items']} items" if t["listeners"] else "as published")
        rows.append([f"{t['source']} (paper; {who})"] +
                    [("–" if n not in vals else f"{vals[n][0]:.2f}" +
                      (f" ± {vals[n][1]:.2f}" if vals[n][1] is not None else "")) for _, n in cols])
    md = [f"## Listening test `{d.name}` (ACR, MOS ± 95 % CI)",
          f"Test set `{d.testset}` of run `{d.run}`: {n_items} items × {len(d.conditions)} "
          f"conditions, each rated by every listener in an order of their own; {len(a.listeners)} "
          f"listeners rated, {len(kept)} kept after screening. Target is the hidden reference "
          "(rated, never labelled). MOS: mean over the kept listeners' ratings, ± the half-width "
          "of the Student t 95 % interval over ratings. **Bold**: best system.",
          _table(headers, rows)]
    if papers:
        md.append("(paper) rows: published MOS of the papers' own listening tests (other listeners, "
                  "the papers' full-size test sets), for orientation, not a measured comparison.")
    detail = []
    comp = {c.system: c for c in a.comparisons}
    for m in a.mos:
        c = comp.get(m.system)
        boot = f"[{_num(m.boot_lo)}, {_num(m.boot_hi)}]" if a.bootstrap else "not run"
        vs = ("best" if m.system == a.best else
              (f"{_num(c.mean_diff)} (n={c.n_pairs}, p={c.p:.3g}, Holm {c.p_holm:.3g})" if c and c.n_pairs else "–"))
        detail.append([m.code, m.system, m.role, str(m.cell.n), str(m.n_listeners), str(m.n_items),
                       _mos(m.cell), boot, vs])
    md += ["### Per condition",
           _table(["code", "condition", "role", "ratings", "listeners", "items", "MOS ± 95 % CI (t)",
                   "bootstrap 95 % (listeners × items)", f"best − this, Wilcoxon vs `{a.best}`"], detail),
           f"Paired test: two-sided Wilcoxon signed-rank test of the ratings of `{a.best}` (the best "
           "system) against each other condition, paired by (listener, item), zero differences "
           "dropped; p-values Holm-adjusted over the comparisons."
           + (" Bootstrap: 2000 crossed resamplings of listeners and items, seed 0, percentile interval."
              if a.bootstrap else "")]
    lrows = []
    for c in a.listeners:
        gold = ", ".join(f"{g}/{e}" for e, g in c.gold) or "–"
        traps = ", ".join(f"{g}/{e}" for e, g in c.traps) or "–"
        lrows.append([f"`{c.listener[:12]}`", c.source, f"{c.n_rated}/{c.n_trials}", gold, traps,
                      _num(c.variance), "kept" if c.kept else "excluded: " + "; ".join(c.reasons)])
    md += ["### Listener screening",
           f"Rule: {d.screening.rule()}.",
           _table(["listener", "source", "rated", "gold (given/expected)", "traps (given/asked)",
                   "rating variance", "decision"], lrows)]
    md.append("Test design: " + "; ".join(d.notes) + ".")
    return "\n\n".join(md) + "\n"


def summary(a: Analysis) -> dict:
    return {"test": a.design.name, "run": a.design.run, "testset": a.design.testset,
            "kept_listeners": a.kept, "best": a.best,
            "mos": {m.system: {"code": m.code, "role": m.role, **m.cell.to_dict(),
                               "listeners": m.n_listeners, "items": m.n_items,
                               "bootstrap95": [m.boot_lo, m.boot_hi] if a.bootstrap else None}
                    for m in a.mos},
            "comparisons": {c.system: {"n_pairs": c.n_pairs, "mean_diff": c.mean_diff,
                                       "statistic": c.statistic, "p": c.p, "p_holm": c.p_holm}
                            for c in a.comparisons},
            "listeners": {c.listener: {"kept": c.kept, "reasons": c.reasons, "rated": c.n_rated,
                                       "trials": c.n_trials} for c in a.listeners}}


def _finite(x):
    """JSON has no NaN: undefined numbers (a CI of one rating, a skipped bootstrap) become null."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x


def write(folder: Path, bootstrap: bool = False, join_run: bool = True) -> tuple[Path, Analysis]:
    design = load_design(folder)
    db = RatingsDB(folder)
    try:
        a = analyse(design, db, bootstrap=bootstrap)
    finally:
        db.close()
    if not a.rows:
        raise BenchmarkError(f"listening test '{design.name}' has no ratings yet "
                             "(serve it with `listen-test serve`, or import P.808 answers)")
    md = markdown(a)
    (folder / "report.md").write_text(md)
    (folder / "mos.json").write_text(json.dumps(_finite(summary(a)), indent=1, sort_keys=True))
    if join_run and (run_folder(design.run) / STORE_NAME).exists():
        sec = run_folder(design.run) / SECTIONS_DIR
        sec.mkdir(parents=True, exist_ok=True)
        (sec / f"listening_test_{design.name}.md").write_text(md)
        write_report(design.run)
    return folder / "report.md", a
