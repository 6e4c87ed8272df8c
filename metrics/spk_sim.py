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
        wav = preprocess_wav(x.astype(np.float32))
        if wav.size < int(0.2 * self.info.rate):
            raise ItemError(f"only {wav.size / self.info.rate:.2f} s of speech after silence "
                            "trimming; resemblyzer needs more")
        return embed_utterance_batched(self._model, wav)

    def score(self, items: list[MetricItem]) -> list[ItemScore]:
        self.load()

        def one(it: MetricItem) -> dict[str, float]:
            x, r = degraded(self, it, 0.1), reference(self, it, 0.1)   # no alignment needed
            return {"SpkSim": cosine(self.embed(x), self.embed(r))}
        return score_each(self, items, one)
