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
    result["masksr"] = masksr_main()
    return result


# --- MaskSR restoration at any length (issue 25 item 5) -----------------------------------------
# `python -m bench.bench_memory masksr` measures it alone and merges it into
# bench/results/bench_memory.json under "masksr" (the metric rows above take hours).
MASKSR_SECONDS = (30.0, 300.0)
MASKSR_LIMIT_RATIO = 1.3


def _masksr_speech(seconds: float):
    import numpy as np

    from benchmark.core.audio import read_audio, resample
    parts = [resample(*read_audio(f), RATE) for f in
             sorted((CORPORA / "VCTK-Corpus-0.92" / "wav48_silence_trimmed").glob("*/*.flac"))]
    return np.resize(np.concatenate(parts), int(seconds * RATE)).astype(np.float32)


def masksr_one(path: str, seconds: str) -> dict:
    """In a fresh process: restore one item of `seconds` (real VCTK speech repeated) with
    masksr2_tiny (random weights, dac_random_small) through the sampler, as the plugin does
    (`path` = "chunked"), or the previous path: every window in one LM batch and the codegram
    decoded window by window in one codec batch (`path` = "one_batch")."""
    import numpy as np
    import torch

    from systems.masksr.codec import Codec
    from systems.masksr.config import get_config
    from systems.masksr.model import MaskSRModel
    from systems.masksr.sampler import restore, sample_codegrams, split_windows
    torch.set_num_threads(1)
    cfg = get_config("masksr2_tiny")
    torch.manual_seed(0)
    model, codec = MaskSRModel(cfg).eval(), Codec(cfg.codec)
    x = _masksr_speech(float(seconds))
    base = peak_rss_mb()
    t0 = time.perf_counter()
    if path == "chunked":
        y = restore(model, codec, x)
    else:
        with torch.inference_mode():
            windows, n = split_windows(x, cfg.window_frames * cfg.hop)
            codes = sample_codegrams(model, torch.from_numpy(windows))
            y = codec.decode(codes).float().numpy().reshape(-1)[:n]
    return {"path": path, "item_seconds": float(seconds), "seconds": round(time.perf_counter() - t0, 1),
            "finite": bool(np.isfinite(y).all()), "rss_before_restore_mb": base, "peak_rss_mb": peak_rss_mb()}


def _masksr_measure(path: str, seconds: float) -> dict:
    proc = subprocess.run([sys.executable, "-m", "bench.bench_memory", "masksr-one", path, str(seconds)],
                          cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if proc.returncode != 0:
        return {"path": path, "item_seconds": seconds, "error": proc.stderr.strip()[-400:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _jumps(y, boundaries, hop: int, half: int = 16) -> dict:
    """Energy of the first difference within +-half samples of the window boundaries, against its
    mean over the whole signal (1 = a boundary looks like any other place), and the largest
    single-sample step at a boundary against the 99.9th percentile of all steps."""
    import numpy as np
    d = np.diff(y.astype(np.float64)) ** 2
    near = np.concatenate([d[b - half:b + half] for b in boundaries])
    steps = np.abs(np.diff(y.astype(np.float64)))
    at = np.array([steps[b - 1] for b in boundaries])
    return {"jump_energy_ratio": round(float(near.mean() / d.mean()), 3),
            "max_boundary_step_over_p99_9": round(float(at.max() / np.quantile(steps, 0.999)), 3)}


def masksr_discontinuity(seconds: float = 12.0) -> dict:
    """Window-edge discontinuity of the codec decode on real speech: 12 s of VCTK encoded by the DAC
    (the released 44.1 kHz architecture with seeded random weights: the real weights are not on
    this machine; and `dac_random_small`), its codegram cut into masksr_s's 3 s windows (259
    frames) and decoded (a) window by window, each zero-padded at its edges (the previous path),
    (b) joined, in overlapping chunks (`sampler.decode_joined`); both against (c) the one-piece
    decode of the whole codegram."""
    import numpy as np
    import torch

    from systems.masksr.codec import Codec, _import_dac
    from systems.masksr.sampler import InferenceOptions, decode_joined
    torch.set_num_threads(1)
    x = _masksr_speech(seconds)
    frames = 259                              # masksr_s: ceil(3 s * 44100 / 512)
    out = {"item_seconds": seconds, "window_frames": frames}
    for arch in ("dac_44khz_architecture_random", "dac_random_small"):
        codec = Codec("dac_random_small")
        if arch.startswith("dac_44khz"):
            torch.manual_seed(0)
            codec.model = _import_dac().DAC().eval()          # the 44.1 kHz model's architecture
        hop = codec.hop
        codes = codec.encode(torch.from_numpy(x[None]))[0]
        t = codes.shape[-1] // frames * frames
        codes = codes[:, :t]
        whole = codec.decode(codes[None])[0].numpy()
        per_window = codec.decode(codes.reshape(codes.shape[0], -1, frames).permute(1, 0, 2)).reshape(-1).numpy()
        o = InferenceOptions()
        joined = decode_joined(codec, codes, o.decode_frames, o.decode_context)
        bounds = [k * frames * hop for k in range(1, t // frames)]
        peak = float(np.abs(whole).max())
        row = {}
        for name, y in (("per_window_zero_padded", per_window), ("joined_chunked", joined), ("one_piece", whole)):
            r = _jumps(y, bounds, hop)
            near = np.concatenate([np.abs(y - whole)[b - 2048:b + 2048] for b in bounds])
            r["max_abs_diff_to_one_piece_near_boundaries_over_peak"] = float(f"{near.max() / peak:.3g}")
            row[name] = r
        out[arch] = row
        print(f"   masksr discontinuity {arch}: {row}", flush=True)
    return out


def masksr_main() -> dict:
    res = {"config": "masksr2_tiny (random weights, dac_random_small), one torch thread",
           "measure": "VmHWM of a fresh process restoring one item of real VCTK speech (repeated)",
           "limit_ratio": MASKSR_LIMIT_RATIO, "rows": []}
    for path, secs in (("chunked", 30.0), ("chunked", 300.0), ("one_batch", 30.0), ("one_batch", 60.0)):
        row = _masksr_measure(path, secs)
        print(f"   masksr {row}", flush=True)
        res["rows"].append(row)
    peak = {(r["path"], r["item_seconds"]): r.get("peak_rss_mb") for r in res["rows"]}
    if peak[("chunked", 30.0)] and peak[("chunked", 300.0)]:
        res["ratio_300s_over_30s"] = round(peak[("chunked", 300.0)] / peak[("chunked", 30.0)], 3)
        res["within_limit"] = res["ratio_300s_over_30s"] <= MASKSR_LIMIT_RATIO
    res["discontinuity"] = masksr_discontinuity()
    return res


if __name__ == "__main__":
    if sys.argv[1] == "masksr-one":
        print(json.dumps(masksr_one(*sys.argv[2:4])))
    elif sys.argv[1] == "masksr":
        result_file = ROOT / "bench" / "results" / "bench_memory.json"
        blob = json.loads(result_file.read_text()) if result_file.exists() else {"benchmark": "bench_memory"}
        blob["masksr"] = masksr_main()
        result_file.write_text(json.dumps(blob, indent=2))
        print(f"   -> {result_file} (masksr)")
    else:
        print(json.dumps(one(*sys.argv[1:4])))
