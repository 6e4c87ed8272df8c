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
