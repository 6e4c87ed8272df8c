"""Speaker similarity of the reference and the processed speech, from speaker embeddings.

Both signals are brought to 16 kHz (001 Sec. 3.4: "compute similarity at 16 kHz") by the
harness's resampler. Columns: `SpkSim`, the similarity as the backend's tool reports it, and
`cosine`, the raw cosine of the two embeddings (-1..1), kept beside it. Backends:
- resemblyzer (offline default, bundled weights): GE2E d-vector; `preprocess_wav` (volume
  normalisation to -30 dBFS, webrtcvad silence trimming) then `embed_utterance`. No scale of its
  own: SpkSim = cosine.
- wespeaker (the papers' "public WeSpeaker"): as the public command line of 2024 computes
  `wespeaker --task similarity` (wenet-e2e/wespeaker `wespeaker/cli/speaker.py` at 3ccc791,
  2024-09-15, the last 2024 change): the English model voxceleb_resnet221_LM (`cli/hub.py`; its
  ONNX runtime export, asset `wespeaker_voxceleb_resnet221_LM`), 80-bin Kaldi fbank with the
  torchaudio defaults it calls (Povey window - Hamming came only in 2025, #407 -, dither 0,
  25/10 ms, `metrics._fbank`), CMN (`feat - mean(feat, 0)`), no VAD (`--vad` is off by default),
  the whole utterance, and the score `(cos + 1) / 2` ("normalize: [-1, 1] => [0, 1]"). A raw
  cosine of 0.6 is 0.8 there. The CLI resamples with torchaudio when a file is not at 16 kHz;
  here the input is already at 16 kHz (soxr), as the papers computed similarity at 16 kHz.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from benchmark.assets import fetch
from metrics._common import (
    ItemError,
    degraded,
    file_sha256,
    pkg_version,
    reference,
    resampler_version,
    score_each,
)
from metrics._fbank import fbank
from metrics.base import METRICS, ItemScore, Metric, MetricInfo, MetricItem

RATE = 16000


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        raise ItemError("zero speaker embedding (silent input?)")
    return float(np.dot(a, b) / (na * nb))


def wespeaker_cli_score(cos: float) -> float:
    """The 2024 CLI's `cosine_similarity`: (cos + 1) / 2."""
    return (cos + 1.0) / 2.0


class Embedder:
    """One backend's model: load() once, then embed(16 kHz float audio) -> vector."""
    version = ""

    def load(self, device: str) -> None: ...

    def embed(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class ResemblyzerEmbedder(Embedder):
    def load(self, device: str) -> None:
        import os

        import resemblyzer
        from resemblyzer import VoiceEncoder
        self._model = VoiceEncoder("cuda" if device.startswith("cuda") else "cpu", verbose=False)
        weights = os.path.join(os.path.dirname(resemblyzer.__file__), "pretrained.pt")
        self.version = f"{pkg_version('Resemblyzer')} bundled GE2E pretrained.pt sha256:{file_sha256(weights)}"

    def embed(self, x: np.ndarray) -> np.ndarray:
        from resemblyzer import preprocess_wav
        wav = preprocess_wav(x.astype(np.float32), source_sr=RATE)
        if wav.size < int(0.2 * RATE):
            raise ItemError(f"only {wav.size / RATE:.2f} s of speech after silence "
                            "trimming; resemblyzer needs more")
        return np.asarray(self._model.embed_utterance(wav), dtype=np.float64)


class WeSpeakerEmbedder(Embedder):
    asset = "wespeaker_voxceleb_resnet221_LM"

    def load(self, device: str) -> None:
        path = fetch(self.asset)                  # the registry's clear error when absent
        import onnxruntime as ort
        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.version = f"{pkg_version('onnxruntime')} {path.name} sha256:{file_sha256(path)}"

    def embed(self, x: np.ndarray) -> np.ndarray:
        feats = fbank(x)[None]                    # (1, frames, 80), CMN applied
        name = self.session.get_inputs()[0].name
        return np.asarray(self.session.run(None, {name: feats})[0][0], dtype=np.float64)


@dataclass(frozen=True)
class SpeakerBackend:
    embedder: type[Embedder]
    score: Callable[[float], float]           # raw cosine -> the tool's reported similarity
    convention: str                           # how, in the version string


BACKENDS = {
    "resemblyzer": SpeakerBackend(ResemblyzerEmbedder, lambda c: c, "SpkSim = cosine"),
    "wespeaker": SpeakerBackend(WeSpeakerEmbedder, wespeaker_cli_score,
                                "kaldi fbank 80 povey + CMN, SpkSim = (cos+1)/2 as wespeaker "
                                "cli/speaker.py@3ccc791"),
}


@METRICS.register
class SpeakerSimilarity(Metric):
    info = MetricInfo(
        name="spk_sim", rate=RATE, needs_reference=True, needs_transcript=False,
        higher_is_better=True, columns=("SpkSim", "cosine"), backends=tuple(BACKENDS),
        paper_backend="wespeaker",
        description="speaker similarity as the backend's tool reports it (wespeaker: (cos+1)/2 "
                    "as its 2024 CLI) and the raw embedding cosine, 16 kHz",
        assets={"wespeaker": (WeSpeakerEmbedder.asset,)}, devices=("cpu", "cuda"))

    def __init__(self, backend: str | None = None, device: str = "cpu"):
        super().__init__(backend, device)
        self._embedder: Embedder | None = None
        self._cache: dict[str, np.ndarray] = {}

    @property
    def backend_version(self) -> str:
        """After load(): the model file's sha256 and the resampler."""
        if self._embedder is None:
            return f"{self.backend} (not loaded)"
        return f"{self._embedder.version}; {BACKENDS[self.backend].convention}; {resampler_version(RATE)}"

    def load(self) -> None:
        if self._embedder is None:
            emb = BACKENDS[self.backend].embedder()
            emb.load(self.device)
            self._embedder = emb

    def embed(self, x: np.ndarray) -> np.ndarray:
        """Speaker embedding of 16 kHz audio; cached by content within this metric object (a
        reference is typically scored against many systems' outputs)."""
        from benchmark.core.audio import sha256_array
        self.load()
        key = sha256_array(x, RATE)
        if key not in self._cache:
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[key] = self._embedder.embed(x)
        return self._cache[key]

    def score(self, items: list[MetricItem]) -> list[ItemScore]:
        self.load()
        scale = BACKENDS[self.backend].score

        def one(it: MetricItem) -> dict[str, float]:
            x, r = degraded(self, it, 0.1), reference(self, it, 0.1)   # no alignment needed
            c = cosine(self.embed(x), self.embed(r))
            return {"SpkSim": scale(c), "cosine": c}
        return score_each(self, items, one)
