"""`runtime`: the MaskSR Table 2 runtime protocol."""

from __future__ import annotations

import argparse

from benchmark.commands._util import not_implemented

NAME = "runtime"
HELP = "time systems on inputs of given lengths (MaskSR Table 2 protocol)"
DESCRIPTION = """\
Times each system on synthetic inputs of each length, after a warm-up call that is excluded,
and records wall time, real-time factor and the device.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--systems", nargs="+", required=True, metavar="SYSTEM")
    p.add_argument("--lengths", nargs="+", type=float, default=[4, 8, 12, 16], metavar="SECONDS")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--out", metavar="FILE", help="write the timings as CSV/JSON")


def run(args: argparse.Namespace) -> int:
    return not_implemented("runtime", "Metrics")
