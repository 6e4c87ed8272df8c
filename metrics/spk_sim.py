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


def preprocess_wav(wav: np.ndarray) -> np.ndarray:
    """resemblyzer's `preprocess_wav(wav, source_sr=16000)` (Resemblyzer 0.1.4 audio.py: no
    resampling at 16 kHz, `normalize_volume` to -30 dBFS increase-only, `trim_long_silences`),
    with the 16-bit PCM for webrtcvad made by `ndarray.tobytes()` instead of
    `struct.pack("%dh" % n, *samples)`: the same native-order bytes, without a tuple of one
    Python object per sample (~1.2 GB for a 30-minute item)."""
    import webrtcvad
    from resemblyzer import hparams as hp
    from resemblyzer.audio import normalize_volume
    from scipy.ndimage import binary_dilation
    wav = normalize_volume(wav, hp.audio_norm_target_dBFS, increase_only=True)
    window = (hp.vad_window_length * hp.sampling_rate) // 1000
    wav = wav[:len(wav) - (len(wav) % window)]
    pcm = np.round(wav * (2 ** 15 - 1)).astype(np.int16).tobytes()
    vad = webrtcvad.Vad(mode=3)
    flags = np.array([vad.is_speech(pcm[s * 2:(s + window) * 2], sample_rate=hp.sampling_rate)
                      for s in range(0, len(wav), window)])
    width = hp.vad_moving_average_width
    padded = np.concatenate((np.zeros((width - 1) // 2), flags, np.zeros(width // 2)))
    avg = np.cumsum(padded, dtype=float)
    avg[width:] = avg[width:] - avg[:-width]
    mask = np.round(avg[width - 1:] / width).astype(bool)
    mask = binary_dilation(mask, np.ones(hp.vad_max_silence_length + 1))
    return wav[np.repeat(mask, window)]


def mel_frames(wav: np.ndarray, first: int, last: int) -> np.ndarray:
    """Rows first..last-1 of resemblyzer's `wav_to_mel_spectrogram(wav)` (librosa melspectrogram,
    16 kHz, n_fft 400, hop 160, 40 mels, centred frames with zero padding), computed from the
    samples those frames see only: centred frame t is samples [t*hop - n_fft/2, t*hop + n_fft/2)."""
    import librosa
    from resemblyzer import hparams as hp
    n_fft = hp.sampling_rate * hp.mel_window_length // 1000
    hop = hp.sampling_rate * hp.mel_window_step // 1000
    start, stop = first * hop - n_fft // 2, (last - 1) * hop + n_fft - n_fft // 2
    seg = wav[max(0, start):min(len(wav), stop)]
    seg = np.pad(seg, (max(0, -start), max(0, stop - len(wav))), "constant")
    frames = librosa.feature.melspectrogram(y=seg, sr=hp.sampling_rate, n_fft=n_fft, hop_length=hop,
                                            n_mels=hp.mel_n_channels, center=False)
    return frames.astype(np.float32).T


PARTIALS_PER_BATCH = 64      # 64 partials of 160 frames: a few MB of LSTM activations per call


def embed_utterance_batched(encoder, wav: np.ndarray, batch: int = PARTIALS_PER_BATCH) -> np.ndarray:
    """resemblyzer's `VoiceEncoder.embed_utterance(wav)` (Resemblyzer 0.1.4 voice_encoder.py:
    partials of 1.6 s at rate 1.3 with min_coverage 0.75, the L2-normed mean of their
    embeddings) with the partials forwarded `batch` at a time, so memory is bounded by the batch
    instead of the utterance (it forwards every partial of a 30-minute item at once). The mel
    frames of each batch come from `mel_frames`, the rows of resemblyzer's whole-utterance
    `wav_to_mel_spectrogram`."""
    import torch
    wav_slices, mel_slices = encoder.compute_partial_slices(len(wav), 1.3, 0.75)
    if wav_slices[-1].stop >= len(wav):
        wav = np.pad(wav, (0, wav_slices[-1].stop - len(wav)), "constant")
    total = np.zeros(0)
    for i in range(0, len(mel_slices), batch):
        part_slices = mel_slices[i:i + batch]
        first, last = part_slices[0].start, max(s.stop for s in part_slices)
        mel = mel_frames(wav, first, last)
        mels = np.array([mel[s.start - first:s.stop - first] for s in part_slices])
        with torch.no_grad():
            part = encoder(torch.from_numpy(mels).to(encoder.device)).cpu().numpy()
        total = part.sum(axis=0, dtype=np.float64) + (total if total.size else 0.0)
    raw = total / len(mel_slices)
    return raw / np.linalg.norm(raw, 2)

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
        wav = preprocess_wav(x.astype(np.float32))        # resemblyzer's, bounded memory
        if wav.size < int(0.2 * RATE):
            raise ItemError(f"only {wav.size / RATE:.2f} s of speech after silence "
                            "trimming; resemblyzer needs more")
        return embed_utterance_batched(self._model, wav)


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
