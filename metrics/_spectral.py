"""The magnitude spectrogram VoiceFixer's evaluation code (`ssr_eval`, haoheliu) scores on.

At 44.1 kHz: librosa.stft with n_fft = 2048, hop = rate/100 = 441, win_length = n_fft, periodic
Hann window, centred frames with reflect padding (librosa < 0.10 default, the version VoiceFixer
was evaluated with), magnitude |STFT| (power 1). Layout (frames, bins). The two signals are
first cropped to the shorter length, as ssr_eval does.
"""

from __future__ import annotations

import numpy as np

N_FFT = 2048
HOP = 441
EPS = 1e-12   # ssr_eval's EPS, used by LSD and SiSPNR


def magnitude(x: np.ndarray) -> np.ndarray:
    import librosa
    spec = librosa.stft(np.asarray(x, dtype=np.float32), n_fft=N_FFT, hop_length=HOP,
                        win_length=N_FFT, window="hann", center=True, pad_mode="reflect")
    return np.abs(spec).T.astype(np.float64)
