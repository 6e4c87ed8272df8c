"""Runner and store overhead on this machine: a set of N one-second items restored by the
identity system `unprocessed` and scored by `si_snr` (a numpy formula), so the time is mostly
the harness itself (hashing, reading, resampling 16 -> 44.1 -> 16 kHz, atomic writes, one SQLite
transaction per item, report), then the cached re-run that must do no work. (Until issue 12 the
score step was the `runtime` pseudo-metric, which read no audio.)"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

N_ITEMS = 200


def _make_set(root: Path, n: int) -> None:
    from benchmark.core.audio import write_audio
    from testsets.manifest import ManifestItem, write_manifest
    rng = np.random.default_rng(0)
    items = []
    for i in range(n):
        x = (0.1 * rng.standard_normal(16000)).astype(np.float32)
        write_audio(root / "bench" / "degraded" / f"{i:04d}.wav", x, 16000)
        write_audio(root / "bench" / "target" / f"{i:04d}.wav", 0.5 * x, 16000)
        items.append(ManifestItem(f"{i:04d}", f"degraded/{i:04d}.wav", f"target/{i:04d}.wav", 16000,
                                  16000, 1.0))
    write_manifest(root / "bench" / "manifest.jsonl", items)


def main() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(BENCHMARK_DATA=tmp, BENCHMARK_REPORTS=f"{tmp}/reports",
                          BENCHMARK_NO_PROGRESS="1")
        from benchmark.report.writer import write_report
        from benchmark.run.runner import RunConfig, Runner
        from benchmark.run.store import Store
        from systems.base import SystemSpec
        _make_set(Path(tmp) / "testsets", N_ITEMS)
        cfg = RunConfig("bench", [SystemSpec("unprocessed")], testsets=["bench"], metrics=["si_snr"],
                        profile="offline")
        t0 = time.perf_counter()
        first = Runner(cfg).run()
        t1 = time.perf_counter()
        second = Runner(cfg).run()
        t2 = time.perf_counter()
        write_report("bench")
        t3 = time.perf_counter()
        store = Store.existing("bench")
        rows = store.count("outputs") + store.count("scores")
        store.close()
    assert (second.restored, second.scored) == (0, 0)
    return {"items": N_ITEMS, "first_run_s": round(t1 - t0, 2),
            "items_per_s": round(N_ITEMS / (t1 - t0), 1), "cached_rerun_s": round(t2 - t1, 2),
            "report_s": round(t3 - t2, 2), "store_rows": rows, "restored": first.restored}


if __name__ == "__main__":
    print(main())
