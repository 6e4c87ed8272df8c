"""`train`: the MaskSR / MaskSR2 trainer."""

from __future__ import annotations

import argparse

from benchmark.commands._util import not_implemented

NAME = "train"
HELP = "train a MaskSR-family model (CPU, one GPU, or DDP via torchrun)"
DESCRIPTION = """\
Trains a MaskSR / MaskSR2 configuration with on-the-fly degradation of clean speech.

example:
  python -m benchmark train masksr2_s --speech VCTK/wav48 --noise noise/ --out checkpoints/masksr2_s
  torchrun --nproc_per_node 4 -m benchmark train masksr2_l ...
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config_name", metavar="NAME", help="model configuration (e.g. masksr2_s)")
    p.add_argument("--speech", nargs="+", required=True, metavar="DIR")
    p.add_argument("--noise", nargs="+", required=True, metavar="DIR")
    p.add_argument("--rirs", nargs="+", metavar="DIR", help="RIR folders (default: simulate)")
    p.add_argument("--out", required=True, metavar="DIR", help="checkpoint folder")
    p.add_argument("--steps", type=int)
    p.add_argument("--batch", type=int)
    p.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")


def run(args: argparse.Namespace) -> int:
    return not_implemented("train", "MaskSR and MaskSR2")
