"""MaskSR sampler speed (001 Table 2 protocol): wall time and real-time factor of the masked-LM
sampling (speech encoder + iterative decoding of all windows as one batch, CFG batched) for 4, 8,
12 and 16 s inputs, with the tiny test config and MaskSR-S (random weights: timing only).
The DAC decoder is not included, as in Table 2 (runtime of the language models)."""

from __future__ import annotations

import os
import time

import numpy as np
import torch

LENGTHS = (4, 8, 12, 16)
CONFIGS = ("masksr2_tiny", "masksr_s")
PAPER_A100_MASKSR_S = {4: 2.72, 8: 4.10, 12: 4.92, 16: 5.22}   # 001 Table 2, seconds


def _time_config(name: str, device: str, repeats: int) -> list[dict]:
    from systems.masksr.config import get_config
    from systems.masksr.model import MaskSRModel
    from systems.masksr.sampler import sample_codegrams, split_windows
    cfg = get_config(name)
    torch.manual_seed(0)
    model = MaskSRModel(cfg).to(device).eval()
    rng = np.random.default_rng(0)
    window = cfg.window_frames * cfg.hop
    rows = []
    warm = torch.from_numpy(split_windows(rng.standard_normal(window).astype(np.float32), window)[0])
    sample_codegrams(model, warm.to(device), iterations=2)
    for seconds in LENGTHS:
        x = (0.1 * rng.standard_normal(int(seconds * cfg.rate))).astype(np.float32)
        windows = torch.from_numpy(split_windows(x, window)[0]).to(device)
        times = []
        for r in range(repeats):
            if device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            sample_codegrams(model, windows, seed=r)
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        t = float(np.mean(times))
        rows.append({"config": name, "device": device, "seconds_audio": seconds,
                     "windows": int(windows.shape[0]), "iterations": cfg.iterations,
                     "guidance": cfg.guidance, "sampling_s": round(t, 3), "rtf": round(t / seconds, 4),
                     **({"paper_a100_s": PAPER_A100_MASKSR_S[seconds]} if name == "masksr_s" else {})})
        print(f"   {name:14s} {device} {seconds:2d} s: {t:7.2f} s  (RTF {t / seconds:.3f})", flush=True)
    return rows


def main() -> dict:
    threads = int(os.environ.get("BENCH_THREADS", "0"))
    if threads:
        torch.set_num_threads(threads)
    rows = []
    with torch.inference_mode():
        for name in CONFIGS:
            rows += _time_config(name, "cpu", repeats=1)
        if torch.cuda.is_available():
            for name in CONFIGS:
                rows += _time_config(name, "cuda", repeats=3)
    return {"torch_threads": torch.get_num_threads(), "rows": rows}
