"""Measurements shared by the test-set tests (helpers only; no tests here)."""

from __future__ import annotations

import numpy as np

LEAK_DB = -60.0          # energy above the cutoff, relative to the total, must stay below this


def band_energy_db(y: np.ndarray, rate: int, above_hz: float) -> float:
    spec = np.abs(np.fft.rfft(y.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / rate)
    return float(10 * np.log10(spec[freqs > above_hz].sum() / spec.sum()))


def independent_active_snr(speech, noise, rate, active_db=40.0):
    """A second implementation of the documented SNR definition (10 ms frames within 40 dB)."""
    hop = rate // 100
    ps, pn, frame_power = [], [], []
    for start in range(0, len(speech), hop):
        s, n = speech[start:start + hop].astype(np.float64), noise[start:start + hop].astype(np.float64)
        frame_power.append(np.mean(s ** 2))
        ps.append(s)
        pn.append(n)
    thr = max(frame_power) * 10 ** (-active_db / 10)
    keep = [i for i, p in enumerate(frame_power) if p >= thr]
    s = np.concatenate([ps[i] for i in keep])
    n = np.concatenate([pn[i] for i in keep])
    return 10 * np.log10(np.mean(s ** 2) / np.mean(n ** 2))
