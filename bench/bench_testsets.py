"""Test-set rendering speed on the mini corpora: seconds of rendered audio per wall second per
worker process ("x real time per core"), per set, with 1 worker (RIRs pre-simulated: the RIR
cache is warmed by a first build, then timed separately)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from testsets import TESTSETS, BuildOptions

CORPORA = Path(os.environ.get("BENCHMARK_CORPORA", Path(__file__).resolve().parents[2] / "shared/data/corpora"))


def main() -> dict:
    os.environ.setdefault("BENCHMARK_NO_PROGRESS", "1")
    out: dict = {"corpora": str(CORPORA)}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["BENCHMARK_CACHE"] = str(Path(tmp) / "cache")
        for name, items in (("sr", 8), ("all_gsr", 8), ("vctk_gsr", 8), ("libri_noisy", 3)):
            res = {}
            for label in ("cold_rir_cache", "warm"):
                builder = TESTSETS.get(name)()
                t0 = time.perf_counter()
                builder.build(BuildOptions(corpora=CORPORA, out=Path(tmp) / label, items=items, workers=1))
                wall = time.perf_counter() - t0
                audio = builder.result.seconds_audio
                res[label] = {"items": builder.result.items, "audio_s": round(audio, 2),
                              "wall_s": round(wall, 2), "x_realtime_per_core": round(audio / wall, 1)}
            out[name] = res
            print(name, res, flush=True)
    return out


if __name__ == "__main__":
    main()
