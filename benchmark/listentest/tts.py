"""The spoken message of a trapping question, synthesised offline with eSpeak NG.

P.808's trapping clips append a spoken instruction to the start of a real stimulus (microsoft/P.808
src/create_trapping_stimuli.py and "src/trapping clips/messages/README.md" at commit
5b8c00a0654d836dbbd86cafab570fbab350f1ad): "This is an interruption. Please select the answer X
to confirm your attention now." The toolkit's messages were made with a cloud TTS; here the
library and voice data come inside the `espeakng-loader` wheel (no system package, no network)
and are driven through eSpeak NG's C API (speak_lib.h: espeak_Initialize with
AUDIO_OUTPUT_SYNCHRONOUS, espeak_SetSynthCallback, espeak_Synth, espeak_Synchronize).
"""

from __future__ import annotations

import ctypes
import os
import threading
from functools import cache

import numpy as np

from benchmark.core.deps import require
from benchmark.core.errors import BenchmarkError

MESSAGE = "This is an interruption. Please select the answer {label} to confirm your attention now."
AUDIO_OUTPUT_SYNCHRONOUS = 2
ESPEAK_CHARS_UTF8 = 1
_LOCK = threading.Lock()          # eSpeak NG keeps global state
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.c_void_p)


@cache
def _engine() -> tuple[ctypes.CDLL, int]:
    loader = require("espeakng_loader", "listen", "the listening test's trapping messages")
    lib = ctypes.CDLL(loader.get_library_path())
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0,
                                 os.path.dirname(loader.get_data_path()).encode(), 0)
    if rate <= 0:
        raise BenchmarkError(f"eSpeak NG failed to initialise (data {loader.get_data_path()})")
    if lib.espeak_SetVoiceByName(b"en") != 0:
        raise BenchmarkError("eSpeak NG has no 'en' voice in its data folder")
    return lib, int(rate)


def synthesize(text: str) -> tuple[np.ndarray, int]:
    """Mono float32 speech in [-1, 1] and its rate (eSpeak NG's native 22.05 kHz)."""
    lib, rate = _engine()
    chunks: list[np.ndarray] = []

    def collect(wav, n, _events):
        if n > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).astype(np.float32) / 32768.0)
        return 0

    cb = _CALLBACK(collect)
    data = text.encode("utf-8")
    with _LOCK:
        lib.espeak_SetSynthCallback(cb)
        err = lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, ESPEAK_CHARS_UTF8, None, None)
        lib.espeak_Synchronize()
    if err != 0 or not chunks:
        raise BenchmarkError(f"eSpeak NG could not synthesise the trap message (error {err})")
    return np.concatenate(chunks), rate


def trap_message(label: str) -> tuple[np.ndarray, int]:
    return synthesize(MESSAGE.format(label=label))
