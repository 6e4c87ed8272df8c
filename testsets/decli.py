"""DECLI (003 App. C.3, 004 Sec. 4.3.2): every VCTK-Test utterance (2937) at 44.1 kHz, normalised
to a peak of 1 ("[-1, 1]") and hard-clipped at eta, one subset per eta: 0.25 and 0.1 (the
papers' tables) and 0.5 (in VoiceFixer's release, DECLI/0.5). The target is the normalised
utterance. `--items N` = utterances per subset (the same N in each). `--source official` ingests
the released DECLI/ instead (`testsets.official`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.core.audio import read_audio, resample, write_audio
from testsets.base import TESTSETS, BuildOptions, TestSetBuilder, TestSetInfo
from testsets.corpora import VCTK_TEST, corpus_differences, vctk_utterances
from testsets.distortions import peak_normalise
from testsets.engine import announce, build_set, encode
from testsets.manifest import ManifestItem, conditions
from testsets.official import OfficialMixin
from testsets.simulated import SELECT_STREAM, select_without_repeat

RATE = 44100
ETAS = (0.25, 0.1, 0.5)


def vctk_44k(corpora: Path, rel: str) -> np.ndarray:
    x, r = read_audio(corpora / rel, mix_channels=True)
    return resample(x, r, RATE)


class _DecliRebuild(TestSetBuilder):
    def constants(self) -> dict:
        return {"etas": list(ETAS), "normalise": "peak to 1", "resampler": "soxr VHQ"}

    def build(self, opts: BuildOptions) -> Path:
        seed = self.info.default_seed if opts.seed is None else opts.seed
        utts = vctk_utterances(Path(opts.corpora))
        chosen = select_without_repeat(utts, opts.items or len(utts),
                                       np.random.default_rng([seed, SELECT_STREAM]),
                                       opts.allow_repeat, "test set 'decli'")
        items = []
        for eta in ETAS:
            sub = f"{eta:g}"
            for i, u in enumerate(chosen):
                item_id = f"{sub}/{i:04d}_{Path(u.path).name.split('.')[0]}"
                items.append(ManifestItem(
                    id=item_id, degraded=f"degraded/{item_id}.wav", target=f"target/{item_id}.wav",
                    rate=RATE, target_rate=RATE,
                    duration=int(np.floor(u.frames * RATE / u.rate)) / RATE, subset=sub,
                    transcript=u.transcript, speaker=u.speaker, seed=seed,
                    params={"clip_eta": eta}, sources={"speech": u.path},
                    conditions=conditions(clip_level=eta)))
        notes = announce("decli", corpus_differences(VCTK_TEST, [u.speaker for u in utts],
                                                      [u.rate for u in utts]))
        self.result = build_set(self, opts, items, seed, notes)
        return self.result.folder

    def render_item(self, corpora: Path, set_dir: Path, item: ManifestItem) -> dict:
        target = peak_normalise(vctk_44k(corpora, item.sources["speech"]))
        eta = float(item.params["clip_eta"])
        degraded = np.clip(target, -eta, eta).astype(np.float32)
        write_audio(set_dir / item.degraded, encode(self, degraded), RATE)
        write_audio(set_dir / item.target, encode(self, target), RATE)
        return {"clipped_fraction": round(float(np.mean(np.abs(target) >= eta)), 6)}


@TESTSETS.register
class Decli(OfficialMixin, _DecliRebuild):
    sample_format = "pcm16_voicefixer"   # as voicefixer_main save_wave writes (16-bit)
    info = TestSetInfo(
        name="decli", description="VCTK-Test peak-normalised, clipped at 0.25 / 0.1 / 0.5",
        rate=RATE, corpora=("VCTK-Corpus-0.92",), paper="003 App. C.3, 004 Sec. 4.3.2",
        default_items=None, default_seed=2937, metrics=("si_snr:speechmetrics", "stoi:speechmetrics", "pesq:speechmetrics"))   # 003 Table 9
    official_key = "decli"

    def build(self, opts: BuildOptions) -> Path:
        return self.build_official(opts) if opts.source == "official" else super().build(opts)
