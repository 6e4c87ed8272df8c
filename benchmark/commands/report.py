"""`report RUN`: regenerate a run's report from its store alone."""

from __future__ import annotations

import argparse

NAME = "report"
HELP = "regenerate a run's Markdown report from its store"
DESCRIPTION = """\
Reads $BENCHMARK_DATA/runs/<RUN>/store.sqlite (nothing else: no audio, no models) and writes
$BENCHMARK_REPORTS/<RUN>/report.md, scores.csv and summary.json.

example:
  python -m benchmark report demo
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_name", metavar="RUN", help="run name")
    p.add_argument("--out", metavar="DIR", help="output folder (default $BENCHMARK_REPORTS/RUN)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from benchmark.report import write_report
    path = write_report(args.run_name, Path(args.out) if args.out else None)
    print(f"report: {path}")
    return 0
