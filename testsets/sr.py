"""SR (003 App. C.3): VCTK-Test clean speech at 44.1 kHz, order-8 Chebyshev type-I low-pass at
the Nyquist frequency of the low rate u, resampling to u and back to 44.1 kHz; one subset per u in
{2, 4, 8, 16, 24} kHz (MaskSR reports the 2-16 kHz ones: 1-8 kHz bandwidths).

The recipe as VoiceFixer's code runs it (voicefixer_main tools/dsp/lowpass.py, commit
b6d4425015964c815418026b9b1c8a2b49f5feb1: `lowpass(x, c, 44100, order=8, _type="cheby1")` =
`sosfiltfilt` of `cheby1(8, 0.1 dB, c / 22050)`, then `stft_hard_lowpass` =
`scipy.signal.resample_poly` to 2c and back): the filter is zero-phase with 0.1 dB ripple and the
polyphase resampling is scipy's `resample_poly`, not the harness's soxr. The resampler decides the
stop band the LSD sees: soxr VHQ leaves it far emptier than resample_poly, which moves the
Unprocessed LSD away from the published one. The 48 kHz VCTK files are brought to 44.1 kHz with
the harness's resampler (soxr; VoiceFixer's own 44.1 kHz copy does not say how it was made).

`--items N` = utterances per rate (the same N utterances in every subset). `--source official`
ingests VoiceFixer's released SR set instead (`testsets.official`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import signal

from benchmark.core.audio import read_audio, resample, write_audio
from testsets.base import TESTSETS, BuildOptions, TestSetBuilder, TestSetInfo
from testsets.corpora import VCTK_TEST, corpus_differences, vctk_utterances
from testsets.distortions import LOWPASS_RESAMPLER, recipe_resample_down_up
from testsets.engine import announce, build_set, encode
from testsets.manifest import ManifestItem, conditions
from testsets.official import OfficialMixin
from testsets.simulated import SELECT_STREAM, select_without_repeat

RATES = (2000, 4000, 8000, 16000, 24000)
TARGET_RATE = 44100
ORDER, RIPPLE_DB = 8, 0.1        # voicefixer_main lowpass_filter: cheby1(order, 0.1, hi)


def sr_degrade(x: np.ndarray, rate: int, low_rate: int) -> np.ndarray:
    cutoff = int(low_rate / 2)
    sos = signal.cheby1(ORDER, RIPPLE_DB, cutoff / (rate / 2), btype="low", output="sos")
    y = signal.sosfiltfilt(sos, np.asarray(x, dtype=np.float64))
    return recipe_resample_down_up(y, rate, 2 * cutoff)


class _SrRebuild(TestSetBuilder):
    rates = RATES

    def constants(self) -> dict:
        return {"filter": "cheby1", "order": ORDER, "ripple_db": RIPPLE_DB,
                "filtering": "scipy.signal.sosfiltfilt", "resampler": LOWPASS_RESAMPLER,
                "target_resampler": "soxr VHQ (benchmark.core.audio.resample)", "rates": list(RATES)}

    def build(self, opts: BuildOptions) -> Path:
        seed = self.info.default_seed if opts.seed is None else opts.seed
        utts = vctk_utterances(Path(opts.corpora))
        n = opts.items or len(utts)
        chosen = select_without_repeat(utts, n, np.random.default_rng([seed, SELECT_STREAM]),
                                       opts.allow_repeat, "test set 'sr'")
        items = []
        for low in self.rates:
            sub = f"{low // 1000}kHz"
            for i, u in enumerate(chosen):
                stem = Path(u.path).name.split(".")[0]
                item_id = f"{sub}/{i:04d}_{stem}"
                items.append(ManifestItem(
                    id=item_id, degraded=f"degraded/{item_id}.wav", target=f"target/{item_id}.wav",
                    rate=TARGET_RATE, target_rate=TARGET_RATE,
                    duration=int(np.floor(u.frames * TARGET_RATE / u.rate)) / TARGET_RATE,
                    subset=sub, transcript=u.transcript, speaker=u.speaker, seed=seed,
                    params={"low_rate": low, "filter": "cheby1", "order": ORDER,
                            "ripple_db": RIPPLE_DB, "cutoff": low / 2, "resampler": LOWPASS_RESAMPLER},
                    sources={"speech": u.path}, conditions=conditions(cutoff_hz=low / 2)))
        notes = announce("sr", corpus_differences(VCTK_TEST, [u.speaker for u in utts],
                                                   [u.rate for u in utts]))
        self.result = build_set(self, opts, items, seed, notes)
        return self.result.folder

    def render_item(self, corpora: Path, set_dir: Path, item: ManifestItem) -> None:
        x, r = read_audio(item.source(corpora, "speech"), mix_channels=True)
        target = resample(x, r, TARGET_RATE)
        degraded = sr_degrade(target, TARGET_RATE, int(item.params["low_rate"]))
        write_audio(set_dir / item.degraded, encode(self, degraded), TARGET_RATE)
        write_audio(set_dir / item.target, encode(self, target), TARGET_RATE)
        return None


@TESTSETS.register
class SuperResolution(OfficialMixin, _SrRebuild):
    sample_format = "pcm16_voicefixer"   # as voicefixer_main save_wave writes (16-bit)
    info = TestSetInfo(
        name="sr", description="VCTK-Test band-limited to 2/4/8/16/24 kHz rates, 44.1 kHz target",
        rate=TARGET_RATE, corpora=("VCTK-Corpus-0.92",), paper="003 App. C.3, 001 Sec. 3.1",
        default_items=None, default_seed=0, version="2",
        metrics=("dnsmos", "nisqa", "lsd:voicefixer2022", "spk_sim", "lsd:voicefixer2021",
                 "sispnr:voicefixer2021", "ssim"))
    official_key = "sr"

    def build(self, opts: BuildOptions) -> Path:
        return self.build_official(opts) if opts.source == "official" else super().build(opts)
