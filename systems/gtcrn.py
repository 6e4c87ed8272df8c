"""`gtcrn`: GTCRN (ultra-light 16 kHz speech enhancement, MIT) from its streaming ONNX export.

The ONNX graph (asset `gtcrn_onnx`) processes one STFT frame per call:
  mix (1, 257, 1, 2) real/imag of one frame -> enh (1, 257, 1, 2), carrying three state tensors
  conv_cache (2, 1, 16, 16, 33), tra_cache (2, 3, 1, 1, 16), inter_cache (2, 1, 33, 16) (zeros
  at the start). Front-end as in the reference `stream/gtcrn_stream.py`: 512-point STFT, hop 256,
  sqrt-Hann (periodic) window, centred frames (reflect padding); overlap-add inverse with the
  same window. The model is causal with no look-ahead, so the output is aligned with the input.
The signature is read from the session at load time and checked against these expectations.
"""

from __future__ import annotations

import numpy as np

from benchmark.assets import fetch
from benchmark.core.errors import BenchmarkError
from systems.base import SYSTEMS, RestoreItem, System, SystemInfo

N_FFT = 512
HOP = 256
CACHES = {"conv_cache": (2, 1, 16, 16, 33), "tra_cache": (2, 3, 1, 1, 16),
          "inter_cache": (2, 1, 33, 16)}


def _window() -> np.ndarray:
    return np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT))   # periodic Hann


def stft(x: np.ndarray) -> np.ndarray:
    """Centred STFT, (frames, 257) complex; matches torch.stft(center=True, pad_mode='reflect')."""
    if x.size <= N_FFT // 2:   # reflect padding needs more samples than the pad width
        x = np.concatenate([x, np.zeros(N_FFT // 2 + 1 - x.size, dtype=x.dtype)])
    xp = np.pad(x.astype(np.float64), N_FFT // 2, mode="reflect")
    frames = 1 + (xp.size - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(frames)[:, None]
    return np.fft.rfft(xp[idx] * _window(), axis=1)


def istft(spec: np.ndarray, length: int) -> np.ndarray:
    """Inverse of `stft` (weighted overlap-add, window-square normalised), cut to `length`."""
    win = _window()
    frames = np.fft.irfft(spec, n=N_FFT, axis=1) * win
    total = N_FFT + HOP * (spec.shape[0] - 1)
    y = np.zeros(total)
    norm = np.zeros(total)
    for i, fr in enumerate(frames):
        y[i * HOP:i * HOP + N_FFT] += fr
        norm[i * HOP:i * HOP + N_FFT] += win ** 2
    y = y / np.maximum(norm, 1e-8)
    y = y[N_FFT // 2:N_FFT // 2 + length]
    return np.pad(y, (0, max(0, length - y.size)))


@SYSTEMS.register
class GTCRN(System):
    info = SystemInfo(
        name="gtcrn", version="onnx-3862c44", rate=16000, backend="onnxruntime",
        description="GTCRN streaming speech enhancement (ONNX, 16 kHz, DNS3-trained)",
        assets=("gtcrn_onnx",))

    def load(self) -> None:
        import onnxruntime as ort

        path = fetch("gtcrn_onnx")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1   # one frame per call: threads only add overhead
        opts.inter_op_num_threads = 1
        self._sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        got = {i.name: tuple(i.shape) for i in self._sess.get_inputs()}
        want = {"mix": (1, N_FFT // 2 + 1, 1, 2), **CACHES}
        if got != want:
            raise BenchmarkError(f"GTCRN model {path} has inputs {got}, expected {want}")
        self._outputs = [o.name for o in self._sess.get_outputs()]

    def restore(self, items: list[RestoreItem]) -> list[np.ndarray]:
        if not hasattr(self, "_sess"):
            self.load()
        return [self._restore_one(np.asarray(it.audio, dtype=np.float32)) for it in items]

    def _restore_one(self, x: np.ndarray) -> np.ndarray:
        spec = stft(x)
        mix = np.stack([spec.real, spec.imag], axis=-1).astype(np.float32)   # (T, 257, 2)
        caches = {k: np.zeros(s, dtype=np.float32) for k, s in CACHES.items()}
        enh = np.empty_like(mix)
        for t in range(mix.shape[0]):
            out = self._sess.run(self._outputs, {"mix": mix[t][None, :, None, :], **caches})
            enh[t] = out[0][0, :, 0, :]
            caches = dict(zip(CACHES, out[1:], strict=True))
        y = istft(enh[..., 0].astype(np.float64) + 1j * enh[..., 1], x.size)
        return y.astype(np.float32)
