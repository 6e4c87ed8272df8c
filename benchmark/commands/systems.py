"""`systems list`: the registered restoration systems and their metadata."""

from __future__ import annotations

import argparse

from benchmark.commands._util import print_table

NAME = "systems"
HELP = "list the registered restoration systems"
DESCRIPTION = """\
Lists every system plugin (built-in and from installed packages' `benchmark.systems` entry
points) with its native sample rate, backend, devices and the assets it needs.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.add_parser("list", help="list systems (default)")


def run(args: argparse.Namespace) -> int:
    from systems import SYSTEMS

    rows = [{"name": n, "rate": c.info.rate, "backend": c.info.backend,
             "devices": ",".join(c.info.devices), "assets": ",".join(c.info.assets) or "-",
             "extra": c.info.extra or "-", "description": c.info.description}
            for n, c in SYSTEMS]
    print_table(rows)
    if not rows:
        print("no systems are registered yet")
    for name, err in SYSTEMS.load_errors.items():
        print(f"warning: plugin '{name}' failed to load: {err}")
    return 0
