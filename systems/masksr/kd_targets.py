"""The KD targets of MaskSR2 (002 Sec. II-A, Table I) as one table, `kd_target=...`:

- from the frozen HuBERT teacher's hidden states of the 16 kHz target: `avg_feature` (mean of
  the 12 transformer layers) and `l9_feature` (layer 9), MSE on per-sample per-channel normalised
  features; `l9_k500` (CE on the layer-9 k-means token ids, 500 clusters);
- from the target waveform itself, the control for semantic KD: regression (MSE) on the target's
  power-law compressed magnitude STFT Y^0.3 (2048-point window, hop 512, frames aligned with the
  codegram like the input STFT), normalised like the features. `stft44k`: all 1025 bins;
  `stft16k`: the first 372 bins (0 .. 8 kHz of the 44.1 kHz STFT, the band a 16 kHz signal holds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from systems.masksr.features import STFTFeature

N_FFT, HOP = 2048, 512
BINS_16K = 372


def normalise_per_channel(x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """(T, C) -> per-channel zero mean / unit variance over time, statistics of this sample only."""
    return ((x - x.mean(axis=0, keepdims=True)) / (x.std(axis=0, keepdims=True) + eps)).astype(np.float32)


@dataclass(frozen=True)
class KDTarget:
    name: str
    loss: str                                               # "mse" or "ce"
    dim: Callable[[object], int]                            # teacher spec -> head output size
    extract: Callable[[list[np.ndarray], np.ndarray | None], np.ndarray] | None  # hidden states -> target
    # targets computed from the clean 44.1 kHz segment itself, without a teacher
    compute: Callable[[np.ndarray, int], np.ndarray] | None = None


def _avg(hs, _km):
    return normalise_per_channel(np.mean(np.stack(hs[1:]), axis=0))


def _l9(hs, _km):
    return normalise_per_channel(hs[9])


def _l9_k500(hs, km):
    d = ((hs[9][:, None, :] - km[None]) ** 2).sum(-1)
    return d.argmin(axis=1).astype(np.int64)


def _stft_target(bins: int):
    def compute(clean: np.ndarray, rate: int) -> np.ndarray:
        with torch.inference_mode():
            spec = STFTFeature(N_FFT, HOP)(torch.from_numpy(np.ascontiguousarray(clean, np.float32))[None])
        return normalise_per_channel(spec[0, :, :bins].numpy())
    return compute


KD_TARGETS: dict[str, KDTarget] = {
    "avg_feature": KDTarget("avg_feature", "mse", lambda t: t.dim, _avg),
    "l9_feature": KDTarget("l9_feature", "mse", lambda t: t.dim, _l9),
    "l9_k500": KDTarget("l9_k500", "ce", lambda t: 500, _l9_k500),
    "stft44k": KDTarget("stft44k", "mse", lambda t: N_FFT // 2 + 1, None, _stft_target(N_FFT // 2 + 1)),
    "stft16k": KDTarget("stft16k", "mse", lambda t: BINS_16K, None, _stft_target(BINS_16K)),
}
