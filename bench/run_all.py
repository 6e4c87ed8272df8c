"""Run every benchmark script in this folder (modules named bench_*.py) and collect the results."""

from __future__ import annotations

import importlib
import json
import pkgutil
import platform
import sys
import time
from pathlib import Path

import bench

RESULTS = Path(__file__).parent / "results"


def main(argv: list[str]) -> int:
    RESULTS.mkdir(exist_ok=True)
    wanted = set(argv)
    ran = 0
    for mod in sorted(pkgutil.iter_modules(bench.__path__), key=lambda m: m.name):
        if not mod.name.startswith("bench_") or (wanted and mod.name not in wanted):
            continue
        module = importlib.import_module(f"bench.{mod.name}")
        t0 = time.perf_counter()
        print(f"== {mod.name}", flush=True)
        result = module.main()
        result = {"benchmark": mod.name, "machine": platform.machine(),
                  "processor": platform.processor(), "python": platform.python_version(),
                  "seconds": round(time.perf_counter() - t0, 2), **(result or {})}
        out = RESULTS / f"{mod.name}.json"
        out.write_text(json.dumps(result, indent=2))
        print(f"   -> {out}")
        ran += 1
    if not ran:
        print("no benchmarks found")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
