"""`run`: restore every item of the selected test sets with every system, score, report."""

from __future__ import annotations

import argparse

from benchmark.commands._util import not_implemented

NAME = "run"
HELP = "run systems on test sets, score the outputs and write the report"
DESCRIPTION = """\
Restores every item of every selected test set with every system, scores the outputs, stores
everything in $BENCHMARK_DATA/runs/<run>/store.sqlite and writes reports/<run>/report.md.
Re-running the same command recomputes nothing; an interrupted run continues where it stopped.

example:
  python -m benchmark run --systems masksr2_l voicefixer
  python -m benchmark run --systems unprocessed nsnet2 --testsets dns2020 --profile offline
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--systems", nargs="+", required=True, metavar="SYSTEM",
                   help="systems to run (see `systems list`)")
    p.add_argument("--testsets", nargs="+", metavar="SET", help="test sets (default: all built)")
    p.add_argument("--metrics", nargs="+", metavar="METRIC", help="metrics (default: each set's table)")
    p.add_argument("--profile", choices=("paper", "offline"), default="paper",
                   help="metric backends: the papers' (needs downloaded weights) or bundled ones")
    p.add_argument("--name", help="run name (default: derived from systems and sets)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes")
    p.add_argument("--limit", type=int, help="only the first N items of each set")
    p.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH",
                   help="checkpoint folder for a MaskSR-family system")


def run(args: argparse.Namespace) -> int:
    return not_implemented("run", "Runner, results store, paper-style reports")
