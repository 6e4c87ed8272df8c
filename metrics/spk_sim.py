"""Speaker similarity: cosine of speaker embeddings of the reference and the processed speech.

Both signals are brought to 16 kHz (001 Sec. 3.4: "compute similarity at 16 kHz"). Backends:
- resemblyzer (offline default, bundled weights): GE2E d-vector; `preprocess_wav` (volume
  normalisation to -30 dBFS, webrtcvad silence trimming) then `embed_utterance`.
- wespeaker (the papers' choice): the public WeSpeaker ResNet34 VoxCeleb ONNX model on 80-dim
  Kaldi fbank with CMN (`metrics._fbank`), run with onnxruntime; whole-utterance embedding.
Range -1..1, higher is better.
"""

from __future__ import annotations

import numpy as np

from benchmark.assets import fetch, local_sha256
from metrics._common import ItemError, degraded, pkg_version, reference, score_each
from metrics._fbank import fbank
from metrics.base import METRICS, ItemScore, Metric, MetricInfo, MetricItem


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        raise ItemError("zero speaker embedding (silent input?)")
    return float(np.dot(a, b) / (na * nb))


@METRICS.register
class SpeakerSimilarity(Metric):
    info = MetricInfo(
        name="spk_sim", rate=16000, needs_reference=True, needs_transcript=False,
        higher_is_better=True, columns=("SpkSim",), backends=("resemblyzer", "wespeaker"),
        paper_backend="wespeaker",
        description="cosine similarity of speaker embeddings (reference vs processed), 16 kHz",
        assets={"wespeaker": ("wespeaker_voxceleb_resnet34",)}, devices=("cpu", "cuda"))

    def __init__(self, backend: str | None = None, device: str = "cpu"):
        super().__init__(backend, device)
        self._model = None
        self._version = ""
        self._cache: dict[str, np.ndarray] = {}

    @property
    def backend_version(self) -> str:
        return self._version or self.backend

    def load(self) -> None:
        if self._model is not None:
            return
        if self.backend == "wespeaker":
            path = fetch("wespeaker_voxceleb_resnet34")   # the registry's clear error when absent
            sha = local_sha256("wespeaker_voxceleb_resnet34", path)
            import onnxruntime as ort
            self._model = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            self._version = f"{pkg_version('onnxruntime')} {path.name} sha256:{sha[:12]}"
        else:
            from resemblyzer import VoiceEncoder
            self._model = VoiceEncoder("cuda" if self.device.startswith("cuda") else "cpu",
                                       verbose=False)
            self._version = pkg_version("Resemblyzer") + " (bundled GE2E encoder)"

    def embed(self, x: np.ndarray) -> np.ndarray:
        """Speaker embedding of 16 kHz audio; cached by content within this metric object (a
        reference is typically scored against many systems' outputs)."""
        from benchmark.core.audio import sha256_array
        key = sha256_array(x, self.info.rate)
        if key not in self._cache:
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[key] = self._embed(x)
        return self._cache[key]

    def _embed(self, x: np.ndarray) -> np.ndarray:
        self.load()
        if self.backend == "wespeaker":
            feats = fbank(x)[None]
            name = self._model.get_inputs()[0].name
            return np.asarray(self._model.run(None, {name: feats})[0][0], dtype=np.float64)
        from resemblyzer import preprocess_wav
        wav = preprocess_wav(x.astype(np.float32), source_sr=self.info.rate)
        if wav.size < int(0.2 * self.info.rate):
            raise ItemError(f"only {wav.size / self.info.rate:.2f} s of speech after silence "
                            "trimming; resemblyzer needs more")
        return np.asarray(self._model.embed_utterance(wav), dtype=np.float64)

    def score(self, items: list[MetricItem]) -> list[ItemScore]:
        self.load()

        def one(it: MetricItem) -> dict[str, float]:
            x, r = degraded(self, it, 0.1), reference(self, it, 0.1)   # no alignment needed
            return {"SpkSim": cosine(self.embed(x), self.embed(r))}
        return score_each(self, items, one)
