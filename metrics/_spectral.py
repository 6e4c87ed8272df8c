"""The magnitude spectrogram VoiceFixer's evaluation code scores LSD, SiSPNR and SSIM on.

haoheliu/voicefixer_main `evaluation_proc/metrics.py` (commit 0c206f7, `wav_to_spectrogram`;
unchanged at 9c94468): at 44.1 kHz `np.abs(librosa.stft(wav, hop_length=441, n_fft=2048))`, i.e.
win_length = n_fft, periodic Hann window, centred frames with reflect padding (the librosa < 0.10
default the code ran with; we pass it explicitly), magnitude |STFT|, transposed to (frames, bins).
The two signals are first cropped to the shorter length, as `ssr_eval` (its packaged successor)
does; the 2021 code required equal lengths.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

N_FFT = 2048
HOP = 441
STFT_DESC = "|librosa.stft| n_fft=2048 hop=441 hann centre reflect"


def magnitude(x: np.ndarray) -> np.ndarray:
    import librosa
    spec = librosa.stft(np.asarray(x, dtype=np.float32), n_fft=N_FFT, hop_length=HOP,
                        win_length=N_FFT, window="hann", center=True, pad_mode="reflect")
    return np.abs(spec).T.astype(np.float64)


BLOCK_FRAMES = 1024   # ~10 s of 44.1 kHz audio per block: 1024 x 1025 float64 = 8.4 MB


def magnitude_blocks(x: np.ndarray, frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
    """`magnitude(x)` in consecutive blocks of at most `frames` rows, with memory bounded by the
    block instead of the signal (a 30-minute item: 180 001 frames, 1.5 GB as one float64 array).
    The centred frames are the uncentred frames of the reflect-padded signal; only the two edge
    blocks are padded (locally, like the whole signal would be), so the rows are the same."""
    import librosa
    x = np.asarray(x, dtype=np.float32)
    pad = N_FFT // 2
    n_frames = 1 + (x.size + 2 * pad - N_FFT) // HOP
    for a in range(0, n_frames, frames):
        b = min(n_frames, a + frames)
        start, stop = a * HOP - pad, (b - 1) * HOP + N_FFT - pad    # in unpadded coordinates
        seg = x[max(0, start):min(x.size, stop)]
        if start < 0 or stop > x.size:
            seg = np.pad(seg, (max(0, -start), max(0, stop - x.size)), mode="reflect")
        spec = librosa.stft(seg, n_fft=N_FFT, hop_length=HOP, win_length=N_FFT, window="hann",
                            center=False)
        yield np.abs(spec).T.astype(np.float64)
