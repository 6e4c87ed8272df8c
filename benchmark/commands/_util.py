"""Small helpers shared by command modules."""

from __future__ import annotations

from tabulate import tabulate


def print_table(rows: list[dict], headers: str = "keys") -> None:
    if not rows:
        print("(none)")
        return
    print(tabulate(rows, headers=headers, tablefmt="github"))
