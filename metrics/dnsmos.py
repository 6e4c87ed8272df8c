"""DNSMOS P.835 (SIG, BAK, OVRL) and P.808, computed exactly as the DNS Challenge's
`dnsmos_local.py` / `speechmos.dnsmos.run`, but batched.

Per clip at 16 kHz: the clip is doubled (appended to itself) until it is at least 9.01 s long;
windows of 9.01 s (144160 samples) start every 1 s, num = floor(len/16000 - 9.01) + 1. Each
window goes through `sig_bak_ovr.onnx` (raw SIG/BAK/OVRL) and the published 2nd-order (3rd for
the personalised model) polynomial fits; P.808 takes a 120-band log-mel (n_fft 321, hop 160,
power_to_db ref=max, +40 /40) of the window minus its last 160 samples through `model_v8.onnx`.
Each score is the mean over the clip's windows. Unlike the reference, a clip with several windows
runs the model's full-resolution layers once over all its frames (metrics/_dnsmos_shared.py, the
same numbers within 2e-5 raw), single-window clips share onnxruntime calls (BATCH windows), and
`p808=False` skips the P.808 model. ONNX files: the `speechmos` wheel.
Backends: `onnx` (the public DNSMOS, used by the papers) and `onnx_personalized` (pDNSMOS).
Unlike speechmos (which refuses arrays outside [-1, 1]) clipped-range input is scored as is,
like dnsmos_local.py does with files; silent (all-zero) items are recorded errors.
Input not at 16 kHz is resampled as dnsmos_local.py does (microsoft/DNS-Challenge
`DNSMOS/dnsmos_local.py` at 6412bc5: `librosa.resample(aud, input_fs, fs)` on the float64 file
samples; the positional call only runs on librosa < 0.10, whose default res_type is
"kaiser_best", i.e. resampy): `to_16k`, not the harness's soxr (up to 0.09 apart per clip on the
48 kHz VCTK excerpts).
"""

from __future__ import annotations

import os

import numpy as np

from metrics._common import ItemError, file_sha256, pkg_version
from metrics.base import METRICS, ItemScore, Metric, MetricInfo, MetricItem

SR = 16000
INPUT_LENGTH = 9.01
WIN = int(INPUT_LENGTH * SR)
BATCH = 4    # windows per onnxruntime call (4: 1/5 of the memory of 32, and no slower)

POLY = {  # (sig, bak, ovr) fits from dnsmos_local.py, highest power first
    False: ([-0.08397278, 1.22083953, 0.0052439], [-0.13166888, 1.60915514, -0.39604546],
            [-0.06766283, 1.11546468, 0.04602535]),
    True: ([-0.01019296, 0.02751166, 1.19576786, -0.24348726],
           [-0.04976499, 0.44276479, -0.1644611, 0.96883132],
           [-0.00533021, 0.005101, 1.18058466, -0.11236046]),
}


RESAMPLER = "kaiser_best"   # librosa < 0.10's default res_type, what dnsmos_local.py ran with


def to_16k(it: MetricItem) -> np.ndarray:
    """The item at 16 kHz as dnsmos_local.py resamples a file: librosa kaiser_best on float64."""
    x = np.asarray(it.audio, dtype=np.float64)
    if it.rate != SR:
        import librosa
        x = librosa.resample(x, orig_sr=it.rate, target_sr=SR, res_type=RESAMPLER)
    if x.size < int(0.01 * SR):
        raise ItemError(f"audio is {x.size / SR:.3f} s long; dnsmos needs at least 0.01 s")
    return x.astype(np.float32)


def window_starts(audio: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """(the clip as dnsmos_local.py analyses it, the start sample of each 9.01 s window).

    The clip is doubled (appended to itself) until it is at least 9.01 s long; windows start
    every second, num = floor(len/16000 - 9.01) + 1, and, as in dnsmos_local.py, a window whose
    float end index `int((i + 9.01) * 16000)` truncates below 144160 samples is skipped."""
    audio = np.asarray(audio, dtype=np.float32)
    while len(audio) < WIN:
        audio = np.append(audio, audio)
    num = int(np.floor(len(audio) / SR) - INPUT_LENGTH) + 1
    starts = [i * SR for i in range(num)
              if min(len(audio), int((i + INPUT_LENGTH) * SR)) - i * SR >= WIN]
    return audio, starts


def windows(audio: np.ndarray) -> np.ndarray:
    """The clip's 9.01 s analysis windows (n, 144160), as dnsmos_local.py cuts them."""
    audio, starts = window_starts(audio)
    return np.stack([audio[s:s + WIN] for s in starts])


def p808_features(wins: np.ndarray) -> np.ndarray:
    """(n, 900, 120) log-mel inputs of model_v8.onnx for a stack of windows."""
    import librosa
    mel = librosa.feature.melspectrogram(y=wins[:, :-160], sr=SR, n_fft=321, hop_length=160,
                                         n_mels=120)                       # (n, 120, 900)
    amin = 1e-10
    log = 10.0 * np.log10(np.maximum(amin, mel))
    ref = 10.0 * np.log10(np.maximum(amin, mel.max(axis=(1, 2), keepdims=True)))
    log = log - ref
    log = np.maximum(log, log.max(axis=(1, 2), keepdims=True) - 80.0)      # top_db = 80
    return ((log + 40) / 40).transpose(0, 2, 1).astype(np.float32)


@METRICS.register
class DNSMOS(Metric):
    info = MetricInfo(
        name="dnsmos", rate=SR, needs_reference=False, needs_transcript=False,
        higher_is_better=True, columns=("SIG", "BAK", "OVRL", "P808"),
        backends=("onnx", "onnx_personalized"), paper_backend="onnx",
        costs={"onnx": 0.2, "onnx_personalized": 0.2},
        description="DNSMOS P.835 SIG/BAK/OVRL + P.808 MOS (no reference, 16 kHz)")

    def __init__(self, backend: str | None = None, device: str = "cpu", p808: bool = True):
        super().__init__(backend, device)
        self._sess = None
        self._p808 = None
        self._shared = None
        self.with_p808 = p808          # False: skip the P.808 model (its column stays empty)

    @property
    def personalized(self) -> bool:
        return self.backend == "onnx_personalized"

    @property
    def backend_version(self) -> str:
        """After load(): the two ONNX files' sha256 and the resampler."""
        if self._sess is None:
            return f"{self.backend} (not loaded)"
        return (f"{pkg_version('speechmos')} sig_bak_ovr.onnx sha256:{file_sha256(self._paths[0])} "
                f"model_v8.onnx sha256:{file_sha256(self._paths[1])}; resampler librosa "
                f"{RESAMPLER} ({pkg_version('resampy')}) to 16000 Hz as dnsmos_local.py")

    def load(self) -> None:
        if self._sess is not None:
            return
        import onnxruntime as ort
        import speechmos
        root = os.path.dirname(os.path.abspath(speechmos.__file__))
        primary = os.path.join(root, "pdnsmos_models" if self.personalized else "dnsmos_models",
                               "sig_bak_ovr.onnx")
        opts = ort.SessionOptions()
        self._sess = ort.InferenceSession(primary, opts, providers=["CPUExecutionProvider"])
        self._paths = (primary, os.path.join(root, "dnsmos_models", "model_v8.onnx"))
        self._p808 = ort.InferenceSession(self._paths[1],
                                          opts, providers=["CPUExecutionProvider"])
        from metrics._dnsmos_shared import SharedTrunk
        self._shared = SharedTrunk(primary, opts)

    def _p808_scores(self, audio: np.ndarray, starts: list[int]) -> np.ndarray:
        out = []
        for i in range(0, len(starts), BATCH):
            chunk = np.stack([audio[s:s + WIN] for s in starts[i:i + BATCH]])
            out.append(self._p808.run(None, {"input_1": p808_features(chunk)})[0][:, 0])
        return np.concatenate(out)

    def _raw_scores(self, clips: list[tuple[np.ndarray, list[int]]]) -> list[np.ndarray]:
        """(n_windows, 3) raw SIG/BAK/OVRL per clip. Clips with several windows share one trunk
        pass over their frames (metrics/_dnsmos_shared.py, same numbers); single-window clips go
        through the original model together, BATCH windows per call."""
        out: list[np.ndarray | None] = [None] * len(clips)
        single = [k for k, (_, st) in enumerate(clips) if len(st) == 1]
        for i in range(0, len(single), BATCH):
            ks = single[i:i + BATCH]
            wins = np.stack([clips[k][0][:WIN] for k in ks])
            res = self._sess.run(None, {"input_1": wins})[0]
            for j, k in enumerate(ks):
                out[k] = res[j:j + 1]
        for k, (audio, starts) in enumerate(clips):
            if out[k] is None:
                out[k] = self._shared.raw(audio, starts, batch=BATCH)
        return out

    def score(self, items: list[MetricItem]) -> list[ItemScore]:
        self.load()
        out: list[ItemScore | None] = [None] * len(items)
        clips, owners = [], []
        for k, it in enumerate(items):
            try:
                x = to_16k(it)
                if not np.any(x):
                    raise ItemError("audio is all zeros: DNSMOS is undefined")
                clips.append(window_starts(x))
                owners.append(k)
            except Exception as exc:
                msg = str(exc) if isinstance(exc, ItemError) else f"{type(exc).__name__}: {exc}"
                out[k] = ItemScore(error=msg)
        if clips:
            try:
                raws = self._raw_scores(clips)
                p808s = ([self._p808_scores(a, st) for a, st in clips] if self.with_p808
                         else [None] * len(clips))
            except Exception as exc:  # onnxruntime failure: every pending item records it
                for k in owners:
                    out[k] = ItemScore(error=f"onnxruntime: {type(exc).__name__}: {exc}")
                return [o or ItemScore(error="not scored") for o in out]
            p_sig, p_bak, p_ovr = (np.poly1d(c) for c in POLY[self.personalized])
            for k, raw, p808 in zip(owners, raws, p808s, strict=True):
                values = {"SIG": float(np.mean(p_sig(raw[:, 0]))),
                          "BAK": float(np.mean(p_bak(raw[:, 1]))),
                          "OVRL": float(np.mean(p_ovr(raw[:, 2])))}
                if p808 is not None:
                    values["P808"] = float(np.mean(p808))
                out[k] = ItemScore(values=values, aux={"windows": int(len(raw))})
        return [o if o is not None else ItemScore(error="not scored") for o in out]
