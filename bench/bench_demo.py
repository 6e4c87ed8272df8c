"""`make demo` wall time and its stages, first run and cached re-run, in a fresh data folder.

Runs `python -m benchmark.demo` twice in a subprocess (BENCHMARK_DATA / BENCHMARK_REPORTS in a
temporary folder; corpora as `make demo` finds them) and records the wall time of each command
step (the demo prints `(<step> step: N s)`) and of each runner stage (the one summary line per
restore/score stage: `score dnsmos (onnx): 119 items in 41.2 s, ...`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEP = re.compile(r"^\((\w+) step: (\d+) s\)$", re.M)
STAGE = re.compile(r"^((?:restore|score) [^:]+): (\d+) items in ([\d.]+) s", re.M)


def _run(env: dict) -> dict:
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "benchmark.demo"], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if res.returncode:
        raise RuntimeError(f"demo failed ({res.returncode}):\n{res.stderr[-3000:]}")
    text = res.stdout + "\n" + res.stderr
    return {"wall_seconds": round(wall, 1),
            "steps": {m.group(1): int(m.group(2)) for m in STEP.finditer(text)},
            "stages": {m.group(1): {"items": int(m.group(2)), "seconds": float(m.group(3))}
                       for m in STAGE.finditer(text)}}


def main() -> dict:
    with tempfile.TemporaryDirectory(prefix="bench_demo_") as tmp:
        env = dict(os.environ, BENCHMARK_DATA=f"{tmp}/data", BENCHMARK_REPORTS=f"{tmp}/reports",
                   BENCHMARK_NO_PROGRESS="1")
        shared = ROOT.parent / "shared" / "data"
        if (shared / "corpora").is_dir():
            env.setdefault("BENCHMARK_CORPORA", str(shared / "corpora"))
            env.setdefault("BENCHMARK_ASSET_MIRROR", str(shared / "assets"))
        first = _run(env)
        cached = _run(env)
    from benchmark.demo import DEMO_ITEMS, DEMO_SYSTEMS
    out = {"cpu_count": os.cpu_count(), "load_average_1min_after": round(os.getloadavg()[0], 2),
           "demo_items_per_set": int(DEMO_ITEMS), "demo_systems": DEMO_SYSTEMS,
           "first_run": first, "cached_rerun": cached,
           "cached_fraction": round(cached["wall_seconds"] / first["wall_seconds"], 3)}
    print(out)
    return out


if __name__ == "__main__":
    main()
