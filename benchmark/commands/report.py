"""`report RUN`: regenerate a run's report from its store alone."""

from __future__ import annotations

import argparse

NAME = "report"
HELP = "regenerate a run's Markdown report (and with --html its listening page) from its store"
DESCRIPTION = """\
Reads $BENCHMARK_DATA/runs/<RUN>/store.sqlite (nothing else: no audio, no models) and writes
$BENCHMARK_REPORTS/<RUN>/report.md, scores.csv, summary.json and plots/*.png; with --html also
index.html, the listening page (audio players and spectrograms per item, the report's tables).
Under every table, paired differences of each system against the column's best (or --baseline):
95 % CI by paired bootstrap over items, Wilcoxon / bootstrap p Holm-corrected within the table.

example:
  python -m benchmark report demo
  python -m benchmark report demo --baseline unprocessed
  python -m benchmark report demo --html --listen-items 4
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_name", metavar="RUN", help="run name")
    p.add_argument("--out", metavar="DIR", help="output folder (default $BENCHMARK_REPORTS/RUN)")
    p.add_argument("--html", action="store_true", help="also write the listening page index.html")
    p.add_argument("--baseline", metavar="SYSTEM",
                   help="compare every system with this one in the paired columns (default: each "
                        "column's best measured system)")
    p.add_argument("--listen-items", type=int, metavar="N",
                   help="items per listening-page table (default 3), chosen stratified by distortion")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from benchmark.report.listen import listen_items
    from benchmark.report.writer import write_report
    from benchmark.run.store import validate_run_name
    validate_run_name(args.run_name)       # a name, never a path
    listen_items(args.listen_items)        # a bad N fails before any work
    path = write_report(args.run_name, Path(args.out) if args.out else None, html=args.html,
                        listen_items=args.listen_items, baseline=args.baseline)
    print(f"report: {path}" + (f"; listening page: {path.with_name('index.html')}" if args.html else ""))
    return 0
