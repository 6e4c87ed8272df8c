"""Small helpers shared by command modules."""

from __future__ import annotations

from tabulate import tabulate

from benchmark.core.errors import NotImplementedYet


def not_implemented(what: str, issue: str) -> int:
    raise NotImplementedYet(f"'{what}' is not implemented yet (tracked in the issue '{issue}'). "
                            "Nothing was run.")


def print_table(rows: list[dict], headers: str = "keys") -> None:
    if not rows:
        print("(none)")
        return
    print(tabulate(rows, headers=headers, tablefmt="github"))
