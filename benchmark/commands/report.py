"""`report RUN`: regenerate a run's report from its store alone."""

from __future__ import annotations

import argparse

from benchmark.commands._util import not_implemented

NAME = "report"
HELP = "regenerate a run's Markdown report (and --html page) from its store"
DESCRIPTION = "Reads $BENCHMARK_DATA/runs/<RUN>/store.sqlite and writes reports/<RUN>/report.md."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_name", metavar="RUN", help="run name")
    p.add_argument("--html", action="store_true", help="also write the listening page and plots")


def run(args: argparse.Namespace) -> int:
    return not_implemented("report", "Runner, results store, paper-style reports")
