"""`metrics list`: the registered metrics and their metadata."""

from __future__ import annotations

import argparse

from benchmark.commands._util import print_table

NAME = "metrics"
HELP = "list the registered metrics"
DESCRIPTION = """\
Lists every metric with the rate it scores at (0: each file's own rate), what it needs
(reference, transcript), its direction, its backends (offline default first; choose one as
NAME:BACKEND), the backend the papers used, and the paper tables (report layouts) that show it
with the backend their published numbers used ("(profile)": the profile's backend).
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.add_parser("list", help="list metrics (default)")


def run(args: argparse.Namespace) -> int:
    from benchmark.report.tables import LAYOUTS
    from metrics import METRICS

    used: dict[str, list[str]] = {}       # metric -> "layout:backend" of the tables that show it
    for layout in LAYOUTS:
        for c in layout.columns:
            if c.metric:
                tag = f"{layout.name}:{c.backend or '(profile)'}"
                if tag not in used.setdefault(c.metric, []):
                    used[c.metric].append(tag)
    rows = []
    for n, c in METRICS:
        i = c.info
        needs = ",".join(x for x, f in (("reference", i.needs_reference),
                                         ("transcript", i.needs_transcript)) if f) or "-"
        rows.append({"name": n, "rate": i.rate, "needs": needs,
                     "better": "higher" if i.higher_is_better else "lower",
                     "columns": ",".join(i.columns), "backends": ",".join(i.backends),
                     "paper backend": i.paper_backend, "devices": ",".join(i.devices),
                     "set value": i.aggregation, "tables (backend)": " ".join(used.get(n, [])) or "-"})
    print_table(rows)
    if not rows:
        print("no metrics are registered yet")
    for name, err in METRICS.load_errors.items():
        print(f"warning: plugin '{name}' failed to load: {err}")
    return 0
