"""DENOISE (003 App. C.1/C.3, 004 Sec. 4.3.1): the VoiceBank-DEMAND test set (824 utterances of
p232 and p257, SNRs 17.5 / 12.5 / 7.5 / 2.5 dB), noisy input and clean target as released, brought
from 48 kHz to 44.1 kHz ("we downsample it to 44.1 kHz"; the resampler is not given: the
harness's soxr VHQ). Transcripts from testset_txt/. `--source official` ingests the released
DENOISE/vd_test/ instead (`testsets.official`)."""

from __future__ import annotations

from pathlib import Path

from benchmark.core.audio import read_audio, resample, write_audio
from benchmark.core.errors import BenchmarkError
from testsets.base import TESTSETS, BuildOptions, TestSetBuilder, TestSetInfo
from testsets.corpora import VOICEBANK_TEST, corpus_differences, voicebank_noises
from testsets.engine import announce, build_set, encode
from testsets.manifest import ManifestItem
from testsets.official import OfficialMixin

RATE = 44100


class _DenoiseRebuild(TestSetBuilder):
    def constants(self) -> dict:
        return {"resampler": "soxr VHQ", "rate": RATE}

    def build(self, opts: BuildOptions) -> Path:
        corpora = Path(opts.corpora)
        pairs = voicebank_noises(corpora)             # (noisy, clean) pairs of the test set
        items = []
        for src in pairs[: opts.items] if opts.items else pairs:
            stem = Path(src.path).stem
            txt = corpora / Path(src.path).parent.parent / "testset_txt" / f"{stem}.txt"
            items.append(ManifestItem(
                id=stem, degraded=f"degraded/{stem}.wav", target=f"target/{stem}.wav",
                rate=RATE, target_rate=RATE, duration=int(src.frames * RATE // src.rate) / RATE,
                transcript=txt.read_text().strip() if txt.exists() else None,
                speaker=stem.split("_")[0], params={"source_rate": src.rate},
                sources={"noisy": src.path, "clean": src.clean}))
        notes = announce("denoise", corpus_differences(
            VOICEBANK_TEST, [Path(p.path).stem.split("_")[0] for p in pairs], [p.rate for p in pairs]))
        self.result = build_set(self, opts, items, 0, notes)
        return self.result.folder

    def render_item(self, corpora: Path, set_dir: Path, item: ManifestItem) -> None:
        for rel, key in ((item.degraded, "noisy"), (item.target, "clean")):
            x, r = read_audio(corpora / item.sources[key], mix_channels=True)
            if r != item.params["source_rate"]:
                raise BenchmarkError(f"{item.sources[key]}: {r} Hz, the manifest says "
                                     f"{item.params['source_rate']} Hz")
            write_audio(set_dir / rel, encode(self, resample(x, r, RATE)), RATE)
        return None


@TESTSETS.register
class Denoise(OfficialMixin, _DenoiseRebuild):
    sample_format = "pcm16_voicefixer"   # as voicefixer_main save_wave writes (16-bit)
    info = TestSetInfo(
        name="denoise", description="VoiceBank-DEMAND test (824) at 44.1 kHz",
        rate=RATE, corpora=("VoiceBank-DEMAND",), paper="003 App. C.3, 004 Sec. 4.3.1",
        default_items=None, metrics=("si_snr:speechmetrics", "pesq:speechmetrics", "sispnr:voicefixer2021"))     # 003 Table 7
    official_key = "denoise"

    def build(self, opts: BuildOptions) -> Path:
        return self.build_official(opts) if opts.source == "official" else super().build(opts)
