"""Small helpers shared by command modules."""

from __future__ import annotations

from tabulate import tabulate


def print_table(rows: list[dict], headers: str = "keys") -> None:
    if not rows:
        print("(none)")
        return
    print(tabulate(rows, headers=headers, tablefmt="github"))


def precision_config(system: str, precision: str) -> dict:
    """{"precision": P} for a system that offers inference precisions (class attribute
    `precisions`), when P is not the default fp32; else {} (other systems' keys stay as they are)."""
    from systems import SYSTEMS
    if precision == "fp32" or system not in SYSTEMS:
        return {}
    return {"precision": precision} if precision in getattr(SYSTEMS.get(system), "precisions", ()) else {}


def add_restore_arguments(p, unit: str = "item") -> None:
    """The options `run` and `restore` share for running systems: checkpoints, inference precision,
    the per-`unit` duration limit and the per-`unit` call timeout."""
    from benchmark.core.audio import DEFAULT_MAX_ITEM_SECONDS
    from benchmark.run.processes import DEFAULT_ITEM_TIMEOUT
    p.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH",
                   help="checkpoint folder for a MaskSR-family system")
    p.add_argument("--precision", choices=("fp32", "bf16", "tf32"), default="fp32",
                   help="CUDA inference precision of the systems that offer it (the MaskSR family); "
                        "part of their cache key")
    p.add_argument("--max-item-seconds", type=float, default=DEFAULT_MAX_ITEM_SECONDS, metavar="S",
                   help=f"per-{unit} duration limit, checked from the file header before reading "
                        f"(default {DEFAULT_MAX_ITEM_SECONDS:g} s); longer {unit}s are item errors")
    p.add_argument("--item-timeout", type=float, default=DEFAULT_ITEM_TIMEOUT, metavar="S",
                   help=f"seconds a plugin call may take per {unit} before it is stopped and the "
                        f"{unit} recorded as an error (default {DEFAULT_ITEM_TIMEOUT:g})")
