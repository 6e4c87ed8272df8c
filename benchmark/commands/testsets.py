"""`testsets build|list|verify`: rebuild the papers' test sets from raw corpora."""

from __future__ import annotations

import argparse

from benchmark.commands._util import not_implemented

NAME = "testsets"
HELP = "build, list and verify test sets"
DESCRIPTION = """\
Builds the papers' test sets deterministically from raw corpora ($BENCHMARK_CORPORA) into
$BENCHMARK_DATA/testsets/<name>/ with manifest.jsonl and CHECKSUMS.

  testsets list                         each set, its source corpora and whether they are found
  testsets build NAME|all [--items N] [--seed S] [--out DIR] [--workers W] [--allow-repeat]
  testsets verify [NAME..] [--out DIR]  re-hash rendered files against CHECKSUMS
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="list test sets and whether their corpora are found")
    b = sub.add_parser("build", help="build one test set or all")
    b.add_argument("names", nargs="+", metavar="NAME", help="test set name(s) or 'all'")
    b.add_argument("--items", type=int, help="number of items (default: the paper's count)")
    b.add_argument("--seed", type=int, help="random seed (default: the set's paper seed)")
    b.add_argument("--out", help="output folder (default $BENCHMARK_DATA/testsets)")
    b.add_argument("--workers", type=int, default=2, help="rendering processes (default 2)")
    b.add_argument("--allow-repeat", action="store_true",
                   help="reuse source utterances when the corpus has fewer than --items")
    v = sub.add_parser("verify", help="re-hash built test sets against their CHECKSUMS")
    v.add_argument("names", nargs="*", metavar="NAME")
    v.add_argument("--out", help="test-set folder (default $BENCHMARK_DATA/testsets)")


def run(args: argparse.Namespace) -> int:
    return not_implemented(f"testsets {args.action}", "Test sets")
