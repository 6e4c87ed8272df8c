"""ASR backends for the `wer` metric: each turns 16 kHz float audio into a raw transcript.

A transcript is a function of its item alone: no backend carries state from one item to the next
(pocketsphinx's live cepstral mean would: its feature state is reset before every item, see
`PocketSphinxASR`; faster-whisper decodes each item by its own `transcribe` call; NeMo's
transcribe has no state across calls and masks padding within a batch).

- pocketsphinx: CMU PocketSphinx 5 with its bundled US-English acoustic model, 3-gram LM and
  CMUdict (offline default; much weaker than the papers' model).
- nemo: NVIDIA NeMo `stt_en_conformer_transducer_xlarge` from a local .nemo file (the paper's
  ASR, MaskSR2 footnote 4); extra `nemo`.
- whisper: faster-whisper (CTranslate2) with a model directory the user gives in
  BENCHMARK_WHISPER_MODEL (a local folder, never downloaded); extra `whisper`.
"""

from __future__ import annotations

import os

import numpy as np

from benchmark.assets import fetch, local_sha256
from benchmark.core.deps import require
from benchmark.core.errors import AssetError
from metrics._common import folder_sha256, pkg_version


class ASR:
    version = ""

    def load(self, device: str) -> None: ...

    def transcribe(self, batch: list[np.ndarray]) -> list[str]:
        raise NotImplementedError


# Long items are decoded in pieces: pocketsphinx keeps the whole utterance's search history
# (backpointers, the fwdflat lattice), so one 30-minute utterance grows past 1.5 GB and keeps
# growing. Items up to MAX_UTTERANCE_S are one utterance, exactly as before; longer ones are cut
# at the quietest 10 ms frame between PIECE_MIN_S and PIECE_MAX_S after each piece's start and
# the pieces' hypotheses are joined (memory then depends on the piece, not on the item).
MAX_UTTERANCE_S = 60.0
PIECE_MIN_S, PIECE_MAX_S = 20.0, 30.0


def utterance_pieces(x: np.ndarray, rate: int = 16000) -> list[tuple[int, int]]:
    """(start, end) sample ranges covering `x` contiguously: the whole item when it is at most
    MAX_UTTERANCE_S long, else pieces of PIECE_MIN_S..PIECE_MAX_S each ending at the quietest
    10 ms frame of that span (the last piece is at most PIECE_MAX_S)."""
    n, frame = x.size, rate // 100
    if n <= MAX_UTTERANCE_S * rate:
        return [(0, n)]
    lo, hi = int(PIECE_MIN_S * rate), int(PIECE_MAX_S * rate)
    out, a = [], 0
    while n - a > hi:
        span = x[a + lo: a + hi].astype(np.float64)
        energy = (span[: span.size // frame * frame].reshape(-1, frame) ** 2).sum(axis=1)
        cut = a + lo + int(np.argmin(energy)) * frame
        out.append((a, cut))
        a = cut
    out.append((a, n))
    return out


def to_int16(x: np.ndarray) -> np.ndarray:
    """16-bit PCM of float audio by rounding (truncation would move every sample toward zero)."""
    return np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2")


class PocketSphinxASR(ASR):
    """PocketSphinx keeps a running (live) cepstral mean and the feature extractor's state across
    utterances, so a shared decoder's hypothesis for one item depends on the items before it
    (measured: 9 of 21 hypotheses changed between scoring a folder and each file alone).
    `Decoder.reinit_feat()` before every item rebuilds that state from the configuration (8 ms;
    hypotheses equal a fresh decoder's, tests/test_metrics_wer.py); a long item's pieces share
    it, in order, as one stream of the same item."""

    def load(self, device: str) -> None:
        require("pocketsphinx", "core", "the pocketsphinx WER backend")
        from pocketsphinx import Decoder, get_model_path
        self._decoder = Decoder(samprate=16000, loglevel="FATAL")
        model = os.path.join(get_model_path(), "en-us")
        self.version = (f"{pkg_version('pocketsphinx')} bundled en-us model sha256:{folder_sha256(model)}"
                        f"; utterances over {MAX_UTTERANCE_S:g} s decoded in "
                        f"{PIECE_MIN_S:g}-{PIECE_MAX_S:g} s pieces cut at the quietest 10 ms; "
                        "feature/CMN state reset per item; int16 by rounding")

    def _decode(self, x: np.ndarray) -> str:
        pcm = to_int16(x).tobytes()
        self._decoder.start_utt()
        self._decoder.process_raw(pcm, no_search=False, full_utt=True)
        self._decoder.end_utt()
        hyp = self._decoder.hyp()
        return hyp.hypstr if hyp is not None else ""

    def transcribe(self, batch: list[np.ndarray]) -> list[str]:
        out = []
        for x in batch:
            self._decoder.reinit_feat()          # this item's features start from the config
            words = [self._decode(x[a:b]) for a, b in utterance_pieces(x)]
            out.append(" ".join(w for w in words if w))
        return out


class NemoASR(ASR):
    def load(self, device: str) -> None:
        path = fetch("nemo_stt_en_conformer_transducer_xlarge")          # the registry's clear error when absent
        sha = local_sha256("nemo_stt_en_conformer_transducer_xlarge", path)
        require("nemo.collections.asr", "nemo", "the NeMo WER backend (the papers' ASR)")
        from nemo.collections.asr.models import ASRModel
        self._model = ASRModel.restore_from(str(path), map_location=device).eval()
        self.version = f"{pkg_version('nemo_toolkit')} {path.name} sha256:{sha}"

    def transcribe(self, batch: list[np.ndarray]) -> list[str]:
        hyps = self._model.transcribe([x.astype(np.float32) for x in batch],
                                      batch_size=len(batch), verbose=False)
        if isinstance(hyps, tuple):        # RNNT models return (best, all) in NeMo < 2
            hyps = hyps[0]
        return [h.text if hasattr(h, "text") else str(h) for h in hyps]


class WhisperASR(ASR):
    def load(self, device: str) -> None:
        model_dir = os.environ.get("BENCHMARK_WHISPER_MODEL", "").strip()
        if not model_dir or not os.path.isdir(model_dir):
            raise AssetError(      # a missing local model: `doctor` reports it as missing
                "the whisper WER backend needs a local faster-whisper model folder: set "
                f"BENCHMARK_WHISPER_MODEL to it (found {model_dir!r}); it is never downloaded")
        fw = require("faster_whisper", "whisper", "the whisper WER backend")
        self._model = fw.WhisperModel(model_dir, device="cuda" if device.startswith("cuda") else "cpu")
        self.version = (f"{pkg_version('faster-whisper')} {os.path.basename(model_dir.rstrip('/'))} "
                        f"sha256:{folder_sha256(model_dir)}")

    def transcribe(self, batch: list[np.ndarray]) -> list[str]:
        out = []
        for x in batch:
            segments, _ = self._model.transcribe(x.astype(np.float32), language="en", beam_size=5)
            out.append(" ".join(s.text.strip() for s in segments))
        return out


BACKENDS = {"pocketsphinx": PocketSphinxASR, "nemo": NemoASR, "whisper": WhisperASR}
