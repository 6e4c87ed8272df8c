"""`runtime`: the MaskSR Table 2 runtime protocol."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmark.core.errors import BenchmarkError
from benchmark.core.files import atomic_write, write_csv

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
    p.add_argument("--precision", choices=("fp32", "bf16", "tf32"), default="fp32",
                   help="CUDA inference precision of the systems that offer it (the MaskSR family)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--out", metavar="FILE", help="write the timings as CSV/JSON")
    p.add_argument("--name", metavar="RUN", help="also store the timings in this run's store")
    p.add_argument("--keep-stored", action="store_true",
                   help="with --name: keep timings RUN already stores for the same system version, "
                        "device, length and number of repeats; time only what is missing")
    p.add_argument("--no-report", action="store_true",
                   help="with --name: do not rewrite RUN's report (a later `run` or `report` does)")


def run(args: argparse.Namespace) -> int:
    from benchmark.assets import require_local
    from benchmark.commands._util import precision_config, print_table
    from benchmark.run.provenance import device_description
    from benchmark.run.timing import Timing, time_system
    from systems import SYSTEMS
    from systems.base import system_key

    if args.repeats < 1 or any(L <= 0 for L in args.lengths):
        raise BenchmarkError("--repeats must be >= 1 and every --lengths value > 0")
    if args.out and Path(args.out).suffix not in (".csv", ".json"):
        raise BenchmarkError(f"--out {args.out}: expected a .csv or .json file name")
    if (args.keep_stored or args.no_report) and not args.name:
        raise BenchmarkError("--keep-stored and --no-report need --name RUN")
    device = device_description(args.device)
    stored = _stored(args.name, device, args.repeats) if args.keep_stored else {}
    timings, keys, kept = [], {}, 0
    for name in dict.fromkeys(args.systems):
        cls = SYSTEMS.get(name)
        if args.device not in cls.info.devices:
            raise BenchmarkError(f"system '{name}' runs on {', '.join(cls.info.devices)}, not {args.device}")
        for asset in cls.info.assets:
            require_local(asset)
        config = precision_config(name, args.precision)
        keys[name] = system_key(cls.keyed_info(config), config)
        have = {L: stored[(name, keys[name], L)] for L in args.lengths if (name, keys[name], L) in stored}
        kept += len(have)
        timings += [Timing(name, float(L), secs, args.device) for L, secs in have.items()]
        missing = [L for L in args.lengths if L not in have]
        if missing:
            system = cls(device=args.device, config=config)
            system.load()
            timings += time_system(system, missing, args.repeats, needs_target=cls.info.needs_target)
    timings.sort(key=lambda t: (list(keys).index(t.system), t.length))
    if kept:
        print(f"kept {kept} stored timing(s) of run '{args.name}' (--keep-stored); timed {len(timings) - kept}")
    rows = [{"system": t.system, "length_s": t.length, "mean_s": float(f"{t.mean:.4g}"),
             "std_s": float(f"{t.std:.3g}"), "rtf": float(f"{t.rtf:.4g}"), "repeats": len(t.seconds),
             "device": device} for t in timings]
    print_table(rows)
    if args.out:
        out = Path(args.out)
        if out.suffix == ".json":
            atomic_write(out, json.dumps([r | {"seconds": t.seconds} for r, t in zip(rows, timings, strict=True)],
                                         indent=2))
        else:
            write_csv(out, list(rows[0]), rows)
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
        if args.no_report:
            print(f"stored in run '{args.name}' (report not rewritten: --no-report)")
        else:
            print(f"stored in run '{args.name}'; report: {write_report(args.name)}")
    return 0


def _stored(run: str, device: str, repeats: int) -> dict[tuple[str, str, float], list[float]]:
    """(system, system key, length) -> the first `repeats` stored seconds, where RUN's store has
    at least that many for this device; nothing when the run has no store yet."""
    from benchmark.run.store import STORE_NAME, Store, run_folder
    if not (run_folder(run) / STORE_NAME).exists():
        return {}
    store = Store.open(run)
    try:
        rows = store.runtime_rows()
    finally:
        store.close()
    got: dict[tuple[str, str, float], list[float]] = {}
    for r in rows:
        if r.device == device:
            got.setdefault((r.system, r.system_key, float(r.length)), []).append(float(r.seconds))
    return {k: v[:repeats] for k, v in got.items() if len(v) >= repeats}
