"""Word error rate of an ASR transcript of the processed speech against the reference text.

Both sides go through `metrics._text_norm.normalize` (Whisper's English normaliser, the
`whisper-normalizer` package, plus two documented rules where it has none), then jiwer aligns
them. Per item: WER in percent plus aux counts (substitutions, deletions, insertions, reference
words, the normalised hypothesis). The set-level value is the *corpus* WER:
100 * sum(S + D + I) / sum(reference words), not the mean of per-item WERs. Backends (see
`metrics._asr`): pocketsphinx (offline default), nemo (the paper's ASR), whisper.
"""

from __future__ import annotations

from benchmark.core.batching import batch_then_single
from metrics._asr import BACKENDS
from metrics._common import ItemError, degraded, pkg_version, resampler_version
from metrics._text_norm import normalize, normalizer_version
from metrics.base import METRICS, CorpusRatio, ItemScore, Metric, MetricInfo, MetricItem


def word_counts(reference: str, hypothesis: str) -> dict[str, int]:
    import jiwer
    ref, hyp = normalize(reference), normalize(hypothesis)
    n = len(ref.split())
    if n == 0:
        raise ItemError("reference transcript is empty after normalisation: WER is undefined")
    if not hyp:
        return {"sub": 0, "del": n, "ins": 0, "ref_words": n}
    o = jiwer.process_words(ref, hyp)
    return {"sub": o.substitutions, "del": o.deletions, "ins": o.insertions, "ref_words": n}


@METRICS.register
class WER(Metric):
    info = MetricInfo(
        name="wer", rate=16000, needs_reference=False, needs_transcript=True,
        higher_is_better=False, columns=("WER",), backends=("pocketsphinx", "nemo", "whisper"),
        paper_backend="nemo",
        costs={"pocketsphinx": 1.0},   # 0.24-0.4 x real time on clean speech, 1.3 on degraded
        description="word error rate (%) of ASR output vs transcript; corpus-level aggregate",
        assets={"nemo": ("nemo_stt_en_conformer_transducer_xlarge",)},
        extra={"nemo": "nemo", "whisper": "whisper"}, devices=("cpu", "cuda"),
        aggregation="corpus", corpus=(CorpusRatio("WER", "edits", "ref_words", 100.0),),
        defined_for_silence=True)   # an empty hypothesis is a measurement (every word deleted)

    def __init__(self, backend: str | None = None, device: str = "cpu"):
        super().__init__(backend, device)
        self._asr = None

    def load(self) -> None:
        if self._asr is None:
            asr = BACKENDS[self.backend]()
            asr.load(self.device)
            self._asr = asr

    @property
    def backend_version(self) -> str:
        """After load(): the ASR model (file sha256), the normaliser and the resampler."""
        base = self._asr.version if self._asr else f"{self.backend} (not loaded)"
        return f"{base}; {normalizer_version()}; {pkg_version('jiwer')}; {resampler_version(self.info.rate)}"

    def score(self, items: list[MetricItem]) -> list[ItemScore]:
        self.load()
        out: list[ItemScore | None] = [None] * len(items)
        todo, audio = [], []
        for k, it in enumerate(items):
            if not (it.transcript or "").strip():
                out[k] = ItemScore(error="no transcript given: WER needs the reference text")
                continue
            try:
                audio.append(degraded(self, it, 0.05))
                todo.append(k)
            except Exception as exc:
                out[k] = ItemScore(error=str(exc))
        # the ASR failed on the batch: retried one by one to find the culprit
        hyps = batch_then_single(self._asr.transcribe, audio, "ASR") if audio else []
        for k, hyp in zip(todo, hyps, strict=True):
            if isinstance(hyp, Exception):
                out[k] = ItemScore(error=f"ASR failed: {type(hyp).__name__}: {hyp}")
                continue
            try:
                c = word_counts(items[k].transcript or "", hyp)
            except ItemError as exc:
                out[k] = ItemScore(error=str(exc), aux={"hypothesis": normalize(hyp)})
                continue
            edits = c["sub"] + c["del"] + c["ins"]
            out[k] = ItemScore(values={"WER": 100.0 * edits / c["ref_words"]},
                               aux={**{k2: int(v) for k2, v in c.items()}, "edits": int(edits),
                                    "hypothesis": normalize(hyp)})
        return [o if o is not None else ItemScore(error="not scored") for o in out]
