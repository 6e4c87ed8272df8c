"""`runtime`: the MaskSR Table 2 runtime protocol."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from benchmark.core.errors import BenchmarkError

NAME = "runtime"
HELP = "time systems on inputs of given lengths (MaskSR Table 2 protocol)"
DESCRIPTION = """\
Times each system on synthetic inputs of each length, after a warm-up call that is excluded,
and records wall time, real-time factor and the device (MaskSR (001) Table 2: mean over 20 runs).
With --name RUN the timings also go into that run's store and its report shows the Table 2 layout.

example:
  python -m benchmark runtime --systems nsnet2 gtcrn --lengths 4 8 12 16 --repeats 20
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--systems", nargs="+", required=True, metavar="SYSTEM")
    p.add_argument("--lengths", nargs="+", type=float, default=[4, 8, 12, 16], metavar="SECONDS")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--out", metavar="FILE", help="write the timings as CSV/JSON")
    p.add_argument("--name", metavar="RUN", help="also store the timings in this run's store")


def run(args: argparse.Namespace) -> int:
    from benchmark.assets import require_local
    from benchmark.commands._util import print_table
    from benchmark.run.provenance import device_description
    from benchmark.run.timing import time_system
    from systems import SYSTEMS

    if args.repeats < 1 or any(L <= 0 for L in args.lengths):
        raise BenchmarkError("--repeats must be >= 1 and every --lengths value > 0")
    if args.out and Path(args.out).suffix not in (".csv", ".json"):
        raise BenchmarkError(f"--out {args.out}: expected a .csv or .json file name")
    timings, keys = [], {}
    for name in dict.fromkeys(args.systems):
        cls = SYSTEMS.get(name)
        if args.device not in cls.info.devices:
            raise BenchmarkError(f"system '{name}' runs on {', '.join(cls.info.devices)}, not {args.device}")
        for asset in cls.info.assets:
            require_local(asset)
        system = cls(device=args.device)
        system.load()
        keys[name] = system.cache_key()
        timings += time_system(system, args.lengths, args.repeats, needs_target=cls.info.needs_target)
    device = device_description(args.device)
    rows = [{"system": t.system, "length_s": t.length, "mean_s": float(f"{t.mean:.4g}"),
             "std_s": float(f"{t.std:.3g}"), "rtf": float(f"{t.rtf:.4g}"), "repeats": len(t.seconds),
             "device": device} for t in timings]
    print_table(rows)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".json":
            out.write_text(json.dumps([r | {"seconds": t.seconds} for r, t in zip(rows, timings, strict=True)],
                                      indent=2))
        else:
            with open(out, "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows(rows)
        print(f"timings: {out}")
    if args.name:
        from benchmark.report.writer import write_report
        from benchmark.run.store import Store
        store = Store.open(args.name)
        try:
            for t in timings:
                store.put_runtime(t.system, keys[t.system], device, t.length, t.seconds)
        finally:
            store.close()
        print(f"stored in run '{args.name}'; report: {write_report(args.name)}")
    return 0
