"""`score`: score audio files or folders outside a run."""

from __future__ import annotations

import argparse

from benchmark.commands._util import not_implemented

NAME = "score"
HELP = "score files or folders with chosen metrics (outside a run)"
DESCRIPTION = """\
Scores processed audio produced by any system. PATH is a file or a folder; folders are paired
with --reference by relative file name (unpaired files are listed as errors).

example:
  python -m benchmark score --metrics dnsmos lsd --degraded out/ --reference clean/ --out s.csv
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--metrics", nargs="+", required=True, metavar="METRIC")
    p.add_argument("--degraded", required=True, metavar="PATH", help="file or folder to score")
    p.add_argument("--reference", metavar="PATH", help="clean reference file or folder")
    p.add_argument("--transcripts", metavar="FILE", help="'<relative path or id> <text>' per line")
    p.add_argument("--profile", choices=("paper", "offline"), default="offline")
    p.add_argument("--out", metavar="FILE", help="write per-item scores to .csv or .json")


def run(args: argparse.Namespace) -> int:
    return not_implemented("score", "Metrics")
