"""The magnitude spectrogram VoiceFixer's evaluation code scores LSD, SiSPNR and SSIM on.

haoheliu/voicefixer_main `evaluation_proc/metrics.py` (commit 0c206f7, `wav_to_spectrogram`;
unchanged at 9c94468): at 44.1 kHz `np.abs(librosa.stft(wav, hop_length=441, n_fft=2048))`, i.e.
win_length = n_fft, periodic Hann window, centred frames with reflect padding (the librosa < 0.10
default the code ran with; we pass it explicitly), magnitude |STFT|, transposed to (frames, bins).
The two signals are first cropped to the shorter length, as `ssr_eval` (its packaged successor)
does; the 2021 code required equal lengths.
"""

from __future__ import annotations

import numpy as np

N_FFT = 2048
HOP = 441
STFT_DESC = "|librosa.stft| n_fft=2048 hop=441 hann centre reflect"


def magnitude(x: np.ndarray) -> np.ndarray:
    import librosa
    spec = librosa.stft(np.asarray(x, dtype=np.float32), n_fft=N_FFT, hop_length=HOP,
                        win_length=N_FFT, window="hann", center=True, pad_mode="reflect")
    return np.abs(spec).T.astype(np.float64)
