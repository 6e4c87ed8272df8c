"""Test-only helper for the report tests: read a Markdown table of report.md by its header names."""

from __future__ import annotations


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def table_rows(text: str, first_header: str = "System") -> tuple[list[str], dict[str, dict[str, str]]]:
    """The first table in `text` whose header row starts with `first_header`: (its headers,
    {first cell: {header: cell}}), the rows up to the first line that is not a table row."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.startswith("|") and _cells(line)[0] == first_header)
    headers = _cells(lines[start])
    rows: dict[str, dict[str, str]] = {}
    for line in lines[start + 2:]:                    # after the |---| rule
        if not line.startswith("|"):
            break
        cells = _cells(line)
        assert len(cells) == len(headers), line
        rows[cells[0]] = dict(zip(headers, cells, strict=True))
    return headers, rows
