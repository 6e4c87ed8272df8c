"""The one Markdown table writer (tabulate's GitHub format) for reports and listening-test reports."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tabulate import tabulate


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table. Cells are written as given (no number parsing: "0.880"
    stays "0.880", "8.64" is not re-aligned as a number), columns padded to their widest cell."""
    return tabulate([list(r) for r in rows], headers=list(headers), tablefmt="github",
                    disable_numparse=True)
