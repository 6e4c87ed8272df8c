"""DNSMOS P.835 (SIG, BAK, OVRL) and P.808, computed exactly as the DNS Challenge's
`dnsmos_local.py` / `speechmos.dnsmos.run`, but batched.

Per clip at 16 kHz: the clip is doubled (appended to itself) until it is at least 9.01 s long;
windows of 9.01 s (144160 samples) start every 1 s, num = floor(len/16000 - 9.01) + 1. Each
window goes through `sig_bak_ovr.onnx` (raw SIG/BAK/OVRL) and the published 2nd-order (3rd for
the personalised model) polynomial fits; P.808 takes a 120-band log-mel (n_fft 321, hop 160,
power_to_db ref=max, +40 /40) of the window minus its last 160 samples through `model_v8.onnx`.
Each score is the mean over the clip's windows. Unlike the reference, a clip with several windows
runs the model's full-resolution layers once over all its frames (metrics/_dnsmos_shared.py, the
same numbers within 2e-5 raw); a single-window clip (on the CPU) runs those layers by Winograd's
F(4x4, 3x3) (metrics/_dnsmos_winograd.py: a quarter of the multiplications, the scores within
1e-5 of the original graph's), WORKERS clips at a time as the reference's thread pool runs clips;
and `p808=False` skips the P.808 model. ONNX files: the `speechmos` wheel. P.808's log-mel pads
frames as the installed librosa does ("constant" since 0.10, as speechmos and torchmetrics run
today); dnsmos_local.py under the librosa < 0.10 of its time padded with "reflect": P808 moves by
up to 0.002 on the DNS test clips (SIG/BAK/OVRL do not use librosa).
Backends: `onnx` (the public DNSMOS, used by the papers) and `onnx_personalized` (pDNSMOS).
Unlike speechmos (which refuses arrays outside [-1, 1]) clipped-range input is scored as is,
like dnsmos_local.py does with files; silent (all-zero) items are recorded errors.
Input not at 16 kHz is resampled as dnsmos_local.py does (microsoft/DNS-Challenge
`DNSMOS/dnsmos_local.py` at 6412bc5: `librosa.resample(aud, input_fs, fs)` on the float64 file
samples; the positional call only runs on librosa < 0.10, whose default res_type is
"kaiser_best", i.e. resampy): `to_16k`, not the harness's soxr (up to 0.09 apart per clip on the
48 kHz VCTK excerpts). Other toolkits feed the same model differently; each is one backend:
`onnx_torchmetrics` resamples as torchmetrics 1.9.0 (`functional/audio/dnsmos.py`:
`librosa.resample`, librosa >= 0.10's default `soxr_hq`, on float32), `onnx_urgent` as URGENT 2025
(`evaluation_metrics/calculate_nonintrusive_dnsmos.py`: `soxr.resample`, default HQ, float64);
`onnx_versa` resamples with `scipy.signal.resample_poly` and divides by the peak, as VERSA
(`versa/utterance_metrics/pseudo_mos.py`, `versa/audio_utils.py`) does before `speechmos`.
At 16 kHz `onnx`, `onnx_torchmetrics` and `onnx_urgent` are the same computation;
docs/comparing.md has the sizes of the differences.
Memory: one window per onnxruntime call (`BATCH`, 2 calls at once) and single windows streamed
through the Winograd layers a few rows at a time, so peak RSS stays below torchmetrics' on the
same clips (bench/bench_dnsmos.py has the figures for 21 clips).
`device="cuda"` runs both models on onnxruntime's CUDA execution provider where it is installed
(onnxruntime-gpu); without it the metric says so once and runs on the CPU (the version string
names the provider used). Not measured on a GPU: none was available.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np

from metrics._common import ItemError, file_sha256, pkg_version
from metrics.base import METRICS, ItemScore, Metric, MetricInfo, MetricItem

SR = 16000
INPUT_LENGTH = 9.01
WIN = int(INPUT_LENGTH * SR)
BATCH = 1    # windows per onnxruntime call: 1 keeps peak RSS below torchmetrics' (4: +0.4 GB)
WORKERS = 2  # single-window calls in flight at once (each holds one window's activations)
ARENA = True   # onnxruntime CPU arena: single windows 1.12x vs 0.93x without, peak RSS 696 vs 450 MB
WINOGRAD = True  # CPU single windows: the 3x3 layers by Winograd F(4x4, 3x3) (_dnsmos_winograd.py)

POLY = {  # (sig, bak, ovr) fits from dnsmos_local.py, highest power first
    False: ([-0.08397278, 1.22083953, 0.0052439], [-0.13166888, 1.60915514, -0.39604546],
            [-0.06766283, 1.11546468, 0.04602535]),
    True: ([-0.01019296, 0.02751166, 1.19576786, -0.24348726],
           [-0.04976499, 0.44276479, -0.1644611, 0.96883132],
           [-0.00533021, 0.005101, 1.18058466, -0.11236046]),
}


RESAMPLER = "kaiser_best"   # librosa < 0.10's default res_type, what dnsmos_local.py ran with


def _librosa_kaiser_best(x: np.ndarray, rate: int) -> np.ndarray:
    import librosa
    return librosa.resample(np.asarray(x, np.float64), orig_sr=rate, target_sr=SR, res_type=RESAMPLER)


def _librosa_soxr_hq(x: np.ndarray, rate: int) -> np.ndarray:
    """torchmetrics: librosa.resample of the float32 tensor, librosa >= 0.10's soxr_hq; librosa
    pads the result to ceil(n * 16000 / rate) samples (soxr alone may give one fewer, and a
    one-sample shift of the doubled copy of a short clip moves DNSMOS by up to 0.008)."""
    import librosa
    return librosa.resample(np.asarray(x, np.float32), orig_sr=rate, target_sr=SR, res_type="soxr_hq")


def _soxr_hq(x: np.ndarray, rate: int) -> np.ndarray:
    """URGENT 2025: soxr.resample (default quality HQ) of the float64 samples sf.read gives."""
    import soxr
    return soxr.resample(np.asarray(x, np.float64), rate, SR, quality="HQ")


def _resample_poly(x: np.ndarray, rate: int) -> np.ndarray:
    from math import gcd

    from scipy.signal import resample_poly
    g = gcd(int(rate), SR)
    return resample_poly(np.asarray(x, np.float64), SR // g, int(rate) // g)


@dataclass(frozen=True)
class Feed:
    """How a backend brings an item to the model: its resampler to 16 kHz (not called at 16 kHz)
    and whether the 16 kHz signal is divided by its peak; `source` names whose choice it is."""
    resample: object
    peak_normalise: bool
    personalized: bool
    source: str


FEEDS = {
    "onnx": Feed(_librosa_kaiser_best, False, False,
                 f"librosa {RESAMPLER} ({{resampy}}) to 16000 Hz as dnsmos_local.py"),
    "onnx_personalized": Feed(_librosa_kaiser_best, False, True,
                              f"librosa {RESAMPLER} ({{resampy}}) to 16000 Hz as dnsmos_local.py"),
    "onnx_torchmetrics": Feed(_librosa_soxr_hq, False, False,
                              "librosa soxr_hq ({soxr}) on float32 to 16000 Hz as torchmetrics 1.9.0"),
    "onnx_urgent": Feed(_soxr_hq, False, False,
                        "soxr HQ ({soxr}) on float64 to 16000 Hz as URGENT 2025"),
    "onnx_versa": Feed(_resample_poly, True, False,
                       "scipy resample_poly ({scipy}) to 16000 Hz, peak-normalised, as VERSA"),
}


def to_16k(it: MetricItem, feed: Feed = FEEDS["onnx"]) -> np.ndarray:
    """The item at 16 kHz as the backend's toolkit feeds the model (dnsmos_local.py: librosa
    kaiser_best on the float64 file samples)."""
    x = np.asarray(it.audio, dtype=np.float64)
    if it.rate != SR:
        x = feed.resample(x, it.rate)
    x = np.asarray(x, np.float64)
    if feed.peak_normalise and np.any(x):
        x = x / np.max(np.abs(x))
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
        backends=tuple(FEEDS), paper_backend="onnx",
        costs={b: 0.2 for b in FEEDS}, devices=("cpu", "cuda"),
        description="DNSMOS P.835 SIG/BAK/OVRL + P.808 MOS (no reference, 16 kHz)")

    def __init__(self, backend: str | None = None, device: str = "cpu", p808: bool = True):
        super().__init__(backend, device)
        self._sess = None
        self._p808 = None
        self._shared = None
        self._wino = None
        self.with_p808 = p808          # False: skip the P.808 model (its column stays empty)

    @property
    def feed(self) -> Feed:
        return FEEDS[self.backend]

    @property
    def personalized(self) -> bool:
        return self.feed.personalized

    @property
    def backend_version(self) -> str:
        """After load(): the two ONNX files' sha256, the resampler and the execution provider."""
        if self._sess is None:
            return f"{self.backend} (not loaded)"
        feed = self.feed.source.format(resampy=pkg_version("resampy"), soxr=pkg_version("soxr"),
                                       scipy=pkg_version("scipy"))
        return (f"{pkg_version('speechmos')} sig_bak_ovr.onnx sha256:{file_sha256(self._paths[0])} "
                f"model_v8.onnx sha256:{file_sha256(self._paths[1])}; resampler {feed}; "
                f"{pkg_version('onnxruntime')} {self._providers[0]}"
                + (f"; single windows' 3x3 layers by Winograd F(4x4,3x3) (numba {pkg_version('numba')})"
                   if self._winograd_on() else ""))

    def providers(self) -> list[str]:
        """onnxruntime execution providers for this device: CUDA first when asked for and
        installed; asked for and missing, a warning says the CPU runs it instead."""
        import onnxruntime as ort
        if not self.device.startswith("cuda"):
            return ["CPUExecutionProvider"]
        if "CUDAExecutionProvider" in ort.get_available_providers():
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        warnings.warn(f"dnsmos: --device {self.device} asked for, but this onnxruntime has no "
                      "CUDAExecutionProvider (install onnxruntime-gpu); DNSMOS runs on the CPU",
                      RuntimeWarning, stacklevel=2)
        return ["CPUExecutionProvider"]

    def _session(self, model, opts, providers):
        import onnxruntime as ort
        if providers[0] == "CUDAExecutionProvider":
            index = int(self.device.partition(":")[2] or 0)
            return ort.InferenceSession(model, opts, providers=providers,
                                        provider_options=[{"device_id": index}, {}])
        return ort.InferenceSession(model, opts, providers=providers)

    def load(self) -> None:
        if self._sess is not None:
            return
        import onnxruntime as ort
        import speechmos
        root = os.path.dirname(os.path.abspath(speechmos.__file__))
        primary = os.path.join(root, "pdnsmos_models" if self.personalized else "dnsmos_models",
                               "sig_bak_ovr.onnx")
        opts = ort.SessionOptions()
        opts.enable_cpu_mem_arena = ARENA
        # idle pool threads sleep instead of spinning (a shared machine loses no CPU to waiting)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._providers = self.providers()
        self._opts = opts
        self._sess = self._session(primary, opts, self._providers)
        self._paths = (primary, os.path.join(root, "dnsmos_models", "model_v8.onnx"))
        self._p808 = self._session(self._paths[1], opts, self._providers)

    def _shared_trunk(self):
        """The split model for clips with several windows, built on first use (single-window
        clips never need it: its two extra sessions would only add memory)."""
        if self._shared is None:
            from metrics._dnsmos_shared import SharedTrunk
            self._shared = SharedTrunk(self._paths[0], self._opts, self._providers)
        return self._shared

    def _winograd_on(self) -> bool:
        """Whether single windows go through the Winograd layers (CPU and WINOGRAD on)."""
        return WINOGRAD and self._providers[0] == "CPUExecutionProvider"

    def _winograd(self):
        """The Winograd single-window model (metrics/_dnsmos_winograd.py) on the CPU, built on
        first use; None where the original graph runs single windows (CUDA, or WINOGRAD off)."""
        if not self._winograd_on():
            return None
        if self._wino is None:
            from metrics._dnsmos_winograd import WinogradWindow
            self._wino = WinogradWindow(self._paths[0], self._opts, self._providers)
        return self._wino

    def _p808_scores(self, audio: np.ndarray, starts: list[int]) -> np.ndarray:
        out = []
        for i in range(0, len(starts), BATCH):
            chunk = np.stack([audio[s:s + WIN] for s in starts[i:i + BATCH]])
            out.append(self._p808.run(None, {"input_1": p808_features(chunk)})[0][:, 0])
        return np.concatenate(out)

    def _model_scores(self, clips: list[tuple[np.ndarray, list[int]]]
                      ) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
        """Per clip: (n_windows, 3) raw SIG/BAK/OVRL and the P.808 scores (None without P.808).
        A single-window clip is one task doing both models, WORKERS tasks at once (as
        dnsmos_local.py's thread pool runs clips): one thread's GIL-bound P.808 features overlap
        the other's GIL-free Winograd/onnxruntime work. Clips with several windows share one
        trunk pass over their frames (metrics/_dnsmos_shared.py, same numbers)."""
        raws: list[np.ndarray | None] = [None] * len(clips)
        p808s: list[np.ndarray | None] = [None] * len(clips)
        single = [k for k, (_, st) in enumerate(clips) if len(st) == 1]
        wino = self._winograd() if single else None

        def one(k: int) -> None:
            audio, starts = clips[k]
            if wino is not None:
                raws[k] = wino.raw(audio[:WIN])[None]
            else:
                raws[k] = self._sess.run(None, {"input_1": audio[None, :WIN]})[0]
            if self.with_p808:
                p808s[k] = self._p808_scores(audio, starts)

        def p808(k: int) -> None:
            p808s[k] = self._p808_scores(*clips[k])

        tasks = [(one, k) for k in single]
        for k, (audio, starts) in enumerate(clips):
            if raws[k] is None and len(starts) > 1:
                raws[k] = self._shared_trunk().raw(audio, starts, batch=BATCH)
                if self.with_p808:
                    tasks.append((p808, k))
        if WORKERS > 1 and len(tasks) > 1:
            from concurrent.futures import ThreadPoolExecutor
            with ThreadPoolExecutor(WORKERS) as ex:   # onnxruntime sessions are thread-safe
                list(ex.map(lambda t: t[0](t[1]), tasks))
        else:
            for f, k in tasks:
                f(k)
        return raws, p808s

    def score(self, items: list[MetricItem]) -> list[ItemScore]:
        self.load()
        out: list[ItemScore | None] = [None] * len(items)
        clips, owners = [], []
        for k, it in enumerate(items):
            try:
                x = to_16k(it, self.feed)
                if not np.any(x):
                    raise ItemError("audio is all zeros: DNSMOS is undefined")
                clips.append(window_starts(x))
                owners.append(k)
            except Exception as exc:
                msg = str(exc) if isinstance(exc, ItemError) else f"{type(exc).__name__}: {exc}"
                out[k] = ItemScore(error=msg)
        if clips:
            try:
                raws, p808s = self._model_scores(clips)
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
