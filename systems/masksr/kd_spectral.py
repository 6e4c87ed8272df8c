"""Spectral KD targets (002 Sec. II-A, Table I), the control for semantic KD: regression (MSE) on
the target's power-law compressed magnitude STFT Y^0.3 (2048-point window, hop 512, frames
aligned with the codegram like the input STFT), per-sample per-channel normalised like the HuBERT
features. `stft44k`: all 1025 bins; `stft16k`: the first 372 bins (0 .. 8 kHz of the 44.1 kHz
STFT, the band a 16 kHz signal holds)."""

from __future__ import annotations

import numpy as np
import torch

from systems.masksr.kd import KD_TARGETS, KDTarget, normalise_per_channel

N_FFT, HOP = 2048, 512
BINS_16K = 372


def _stft_target(bins: int):
    def compute(clean: np.ndarray, rate: int) -> np.ndarray:
        from systems.masksr.encoder import STFTFeature
        with torch.inference_mode():
            spec = STFTFeature(N_FFT, HOP)(torch.from_numpy(np.ascontiguousarray(clean, np.float32))[None])
        return normalise_per_channel(spec[0, :, :bins].numpy())
    return compute


def _no_hidden_states(_hs, _km):
    raise RuntimeError("spectral KD targets are computed from the waveform, not from a teacher")


KD_TARGETS["stft44k"] = KDTarget("stft44k", "mse", lambda t: N_FFT // 2 + 1, _no_hidden_states,
                                 _stft_target(N_FFT // 2 + 1))
KD_TARGETS["stft16k"] = KDTarget("stft16k", "mse", lambda t: BINS_16K, _no_hidden_states,
                                 _stft_target(BINS_16K))
