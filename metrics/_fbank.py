"""Kaldi-compatible log-mel filterbank (what WeSpeaker's runtime models expect), in numpy.

Matches `torchaudio.compliance.kaldi.fbank` with WeSpeaker's settings: input scaled to the int16
range (x * 32768), 80 bins, 25 ms frames, 10 ms shift, snip_edges, dither 0, per-frame DC
removal, pre-emphasis 0.97, Povey window, FFT size 512 (next power of two), power spectrum,
Kaldi mel scale (1127 ln(1 + f/700)) from 20 Hz to Nyquist, log with float32-epsilon floor.
WeSpeaker then subtracts the per-utterance mean of each bin (CMN) before the model.
"""

from __future__ import annotations

import numpy as np

EPS = float(np.finfo(np.float32).eps)


def _mel(f):
    return 1127.0 * np.log(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_banks(n_mels: int, n_fft: int, rate: int, low: float = 20.0, high: float = 0.0) -> np.ndarray:
    high = rate / 2 + high if high <= 0 else high
    n_bins = n_fft // 2
    fft_freqs = np.arange(n_bins) * rate / n_fft
    mlow, mhigh = _mel(low), _mel(high)
    delta = (mhigh - mlow) / (n_mels + 1)
    left = mlow + np.arange(n_mels)[:, None] * delta
    center, right = left + delta, left + 2 * delta
    m = _mel(fft_freqs)[None, :]
    up = (m - left) / (center - left)
    down = (right - m) / (right - center)
    banks = np.maximum(0.0, np.minimum(up, down))
    return np.pad(banks, ((0, 0), (0, 1)))          # Kaldi's extra (zero) Nyquist column


def fbank(x: np.ndarray, rate: int = 16000, n_mels: int = 80, frame_ms: float = 25.0,
          shift_ms: float = 10.0, cmn: bool = True) -> np.ndarray:
    """(frames, n_mels) float32 log-mel features of a float waveform in [-1, 1]."""
    x = np.asarray(x, dtype=np.float64) * 32768.0
    win = int(rate * frame_ms / 1000)
    shift = int(rate * shift_ms / 1000)
    if x.size < win:
        raise ValueError(f"{x.size} samples is shorter than one {frame_ms} ms frame")
    n = 1 + (x.size - win) // shift
    idx = np.arange(win)[None, :] + shift * np.arange(n)[:, None]
    frames = x[idx]
    frames = frames - frames.mean(axis=1, keepdims=True)
    frames = np.concatenate([frames[:, :1] - 0.97 * frames[:, :1],
                             frames[:, 1:] - 0.97 * frames[:, :-1]], axis=1)
    povey = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / (win - 1))) ** 0.85
    frames = frames * povey
    n_fft = 1 << (win - 1).bit_length()
    power = np.abs(np.fft.rfft(frames, n=n_fft, axis=1)) ** 2
    feats = np.log(np.maximum(power @ mel_banks(n_mels, n_fft, rate).T, EPS))
    if cmn:
        feats = feats - feats.mean(axis=0, keepdims=True)
    return feats.astype(np.float32)
