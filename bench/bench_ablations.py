"""Sampling time of the codebook-modelling ablations (001 Table 2): UniAudio, SoundStorm and
MaskSR-S at the S-size architecture (random weights: timing only) for 4, 8, 12 and 16 s inputs.

Same protocol as bench_masksr: speech encoder + LM decoding of all non-overlapping 3 s windows as
one batch, CFG cond/uncond batched, DAC decoder excluded. MaskSR-S: 40 iterations, SoundStorm: 48
LM passes, UniAudio: 9 x T autoregressive steps with a KV cache. CPU runs once per length
(UniAudio is minutes on CPU); CUDA, when present, 3 repeats after a warm-up.
BENCH_ABLATION_LENGTHS=4,8 restricts the lengths; BENCH_THREADS sets torch's CPU threads."""

from __future__ import annotations

import os
import time

import numpy as np
import torch

CONFIGS = ("masksr_s", "soundstorm_s", "uniaudio_s")
PAPER_A100 = {"uniaudio_s": (44.86, 66.08, 87.54, 112.02), "soundstorm_s": (3.05, 4.25, 5.55, 6.85),
              "masksr_s": (2.72, 4.10, 4.92, 5.22)}                    # 001 Table 2, seconds
PAPER_LENGTHS = (4, 8, 12, 16)


def _lengths() -> tuple[int, ...]:
    env = os.environ.get("BENCH_ABLATION_LENGTHS")
    return tuple(int(x) for x in env.split(",")) if env else PAPER_LENGTHS


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def time_config(name: str, device: str, repeats: int, lengths=PAPER_LENGTHS) -> list[dict]:
    from systems.masksr.config import get_config
    from systems.masksr.model import MaskSRModel
    from systems.masksr.sampler import sample_codegrams, split_windows
    cfg = get_config(name)
    torch.manual_seed(0)
    model = MaskSRModel(cfg).to(device).eval()
    rng = np.random.default_rng(0)
    window = cfg.window_frames * cfg.hop
    if device == "cuda":                                      # warm-up: kernels, allocator
        warm = torch.from_numpy(split_windows(rng.standard_normal(window).astype(np.float32), window)[0])
        sample_codegrams(model, warm.to(device), iterations=9 if name == "soundstorm_s" else 2)
    rows = []
    for seconds in lengths:
        x = (0.1 * rng.standard_normal(int(seconds * cfg.rate))).astype(np.float32)
        windows = torch.from_numpy(split_windows(x, window)[0]).to(device)
        times = []
        for r in range(repeats):
            _sync(device)
            t0 = time.perf_counter()
            codes = sample_codegrams(model, windows, seed=r)
            _sync(device)
            times.append(time.perf_counter() - t0)
        steps = {"uniaudio": cfg.n_codebooks * cfg.window_frames}.get(cfg.codebook_modelling, cfg.iterations)
        t = float(np.mean(times))
        row = {"config": name, "paper_row": cfg.paper_row, "device": device, "seconds_audio": seconds,
               "windows": int(windows.shape[0]), "lm_steps_per_window": steps, "repeats": repeats,
               "sampling_s": round(t, 3), "rtf": round(t / seconds, 4),
               "tokens_decoded": int((codes != cfg.codebook_size).sum())}
        if seconds in PAPER_LENGTHS:
            row["paper_a100_s"] = PAPER_A100[name][PAPER_LENGTHS.index(seconds)]
        rows.append(row)
        print(f"   {name:13s} {device} {seconds:2d} s: {t:8.2f} s (RTF {t / seconds:.3f}, {steps} steps)",
              flush=True)
    return rows


def main() -> dict:
    threads = int(os.environ.get("BENCH_THREADS", "0"))
    if threads:
        torch.set_num_threads(threads)
    rows = []
    with torch.inference_mode():
        for name in CONFIGS:
            rows += time_config(name, "cpu", repeats=1, lengths=_lengths())
        if torch.cuda.is_available():
            for name in CONFIGS:
                rows += time_config(name, "cuda", repeats=3, lengths=_lengths())
    return {"torch_threads": torch.get_num_threads(), "rows": rows}
