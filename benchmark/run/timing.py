"""The MaskSR (001) Table 2 runtime protocol (`time_system`): synthetic inputs of fixed lengths,
one warm-up call excluded, N timed repeats, on the system's device.

Runtime is not a metric: the per-item wall time of every system call is measured by
`benchmark.run.jobs.restore_job` and stored with each output (`outputs.seconds`, `audio_seconds`,
`device`); the report reads it from there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np


@dataclass
class Timing:
    system: str
    length: float            # seconds of audio
    seconds: list[float]     # one per timed repeat (warm-up excluded)
    device: str

    @property
    def mean(self) -> float:
        return float(np.mean(self.seconds))

    @property
    def std(self) -> float:
        return float(np.std(self.seconds, ddof=1)) if len(self.seconds) > 1 else 0.0

    @property
    def rtf(self) -> float:
        return self.mean / self.length


def synthetic_input(length: float, rate: int, seed: int = 0) -> np.ndarray:
    """Speech-like test signal: a gliding harmonic tone with syllable-rate amplitude modulation
    plus low-level noise. Restoration time of these models does not depend on content."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(length * rate))) / rate
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 4 * t))
    x = 0.1 * voiced * envelope + 0.003 * rng.standard_normal(t.size)
    return x.astype(np.float32)


def synchronize(device: str) -> None:
    """Wait for the device's queued work (CUDA kernels run asynchronously), so that a wall-clock
    time around a call measures the call; nothing to wait for on the CPU."""
    if device.startswith("cuda"):
        import torch
        torch.cuda.synchronize()


def time_system(system, lengths: list[float], repeats: int, *, needs_target: bool = False) -> list[Timing]:
    """Time `system.restore` on one input per length; the first call per length is a warm-up."""
    from systems.base import RestoreItem

    out = []
    for length in lengths:
        x = synthetic_input(length, system.info.rate)
        item = RestoreItem("runtime", x, x.copy() if needs_target else None)
        system.restore([item])                      # warm-up, excluded
        synchronize(system.device)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            system.restore([item])
            synchronize(system.device)
            times.append(time.perf_counter() - t0)
        out.append(Timing(system.info.name, float(length), times, system.device))
    return out
