"""Peak memory of scoring one 30-minute 44.1 kHz item with each paper-table metric (issue 18: at
most 2 GB), through the runner's own score path (`benchmark.run.jobs.score_job`, the code a
`run` executes), each metric in a fresh process whose peak RSS (ru_maxrss) is reported.

The item is real speech: the 8 VCTK utterances of ../shared/data (resampled to 44.1 kHz)
repeated to 30 minutes, plus the real kitchen noise looped at 5 dB SNR; the reference is the
clean signal. `BENCH_MEMORY_SECONDS` shortens the item for a quick look (default 1800);
`BENCH_MEMORY_METRICS="lsd spk_sim"` measures only those metrics.
The baseline row is a process that only reads the two files the way the runner does. Peak RSS
is each process's VmHWM (/proc/self/status).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = Path(os.environ.get("BENCHMARK_CORPORA", ROOT.parent / "shared" / "data" / "corpora"))
TABLE_METRICS = ("lsd", "spk_sim", "dnsmos", "nisqa", "wer")      # benchmark.report.tables LAYOUTS
RATE = 44100
LIMIT_MB = 2048
TIMEOUT_S = 7200     # BENCH_MEMORY_TIMEOUT; pocketsphinx on 30 noisy minutes takes ~40 CPU-minutes


def make_item(folder: Path, seconds: float) -> tuple[Path, Path]:
    import numpy as np

    from benchmark.core.audio import read_audio, resample, write_audio
    parts = [resample(*read_audio(f), RATE) for f in
             sorted((CORPORA / "VCTK-Corpus-0.92" / "wav48_silence_trimmed").glob("*/*.flac"))]
    n = int(seconds * RATE)
    speech = np.resize(np.concatenate(parts), n)               # repeats the utterances
    noise, nr = read_audio(CORPORA / "noise" / "doing_the_dishes.wav", mix_channels=True)
    noise = np.resize(resample(noise, nr, RATE), n)
    gain = np.sqrt(np.mean(speech.astype(np.float64) ** 2) / np.mean(noise.astype(np.float64) ** 2)
                   / 10 ** (5 / 10))
    degraded = (speech + gain * noise).astype(np.float32)
    degraded /= max(1.0, float(np.abs(degraded).max()) / 0.99)
    return write_audio(folder / "degraded.wav", degraded, RATE), write_audio(folder / "clean.wav", speech, RATE)


def one(metric: str, degraded: str, clean: str) -> dict:
    """In a fresh process: score the item with `metric` exactly as the runner's workers do."""
    from benchmark.run.jobs import ScoreInput, ScoreJob, score_job
    from metrics import METRICS
    t0 = time.perf_counter()
    if metric == "baseline":
        from benchmark.core.audio import read_item
        read_item(degraded, None), read_item(clean, None)
        out = {"values": {}, "error": None}
    else:
        cls = METRICS.get(metric)
        transcript = "please call stella" if cls.info.needs_transcript else None
        [oc] = score_job(ScoreJob(metric, cls.info.offline_backend, "cpu",
                                  [ScoreInput(("out", "ref"), degraded, clean if cls.info.needs_reference
                                              else None, transcript)], max_item_seconds=None))
        out = {"values": oc.values, "error": oc.error}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def peak_rss_mb() -> float:
    """This process's peak resident set: VmHWM, the high-water mark of its own address space.
    (ru_maxrss is not used: Linux carries it across execve, so a child started by a large
    parent reports the parent's size.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _measure(metric: str, degraded: Path, clean: Path) -> dict:
    """Run `one` in a fresh process; its VmHWM is also polled from outside every second, so a
    process stopped by the time limit still reports the peak it had reached."""
    timeout = float(os.environ.get("BENCH_MEMORY_TIMEOUT", TIMEOUT_S))
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, "-m", "bench.bench_memory", metric, str(degraded),
                                 str(clean)], cwd=ROOT, stdout=out, stderr=err, text=True,
                                env=dict(os.environ, PYTHONPATH=str(ROOT)))
        t0, peak = time.monotonic(), None
        while proc.poll() is None:
            peak = _hwm_mb(proc.pid) or peak
            if time.monotonic() - t0 > timeout:
                proc.kill()
                proc.wait()
                return {"error": f"stopped after {timeout:.0f} s", "peak_rss_mb_so_far": peak}
            time.sleep(1.0)
        out.seek(0)
        err.seek(0)
        text = out.read().strip()
        if proc.returncode == 0 and text:
            return json.loads(text.splitlines()[-1])
        return {"error": f"exit {proc.returncode}: {err.read().strip()[-400:]}", "peak_rss_mb_so_far": peak}


def main() -> dict:
    os.environ.setdefault("BENCHMARK_ASSET_MIRROR", str(CORPORA.parent / "assets"))
    seconds = float(os.environ.get("BENCH_MEMORY_SECONDS", 1800))
    result: dict = {"item_seconds": seconds, "rate": RATE, "limit_mb": LIMIT_MB, "metrics": {}}
    with tempfile.TemporaryDirectory(prefix="bench_memory.") as tmp:
        degraded, clean = make_item(Path(tmp), seconds)
        result["file_mb"] = round(degraded.stat().st_size / 2 ** 20, 1)
        wanted = os.environ.get("BENCH_MEMORY_METRICS", "").split() or TABLE_METRICS
        for metric in ("baseline", *wanted):
            print(f"   {metric} ...", flush=True)
            row = _measure(metric, degraded, clean)
            result["metrics"][metric] = row
            print(f"   {metric}: {row}", flush=True)
    peaks = {m: r.get("peak_rss_mb") for m, r in result["metrics"].items() if m != "baseline"}
    result["max_peak_rss_mb"] = max((v for v in peaks.values() if v), default=None)
    result["over_limit"] = sorted(m for m, v in peaks.items() if v and v > LIMIT_MB)
    return result


if __name__ == "__main__":
    print(json.dumps(one(*sys.argv[1:4])))
