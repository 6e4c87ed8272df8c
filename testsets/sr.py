"""SR (003 App. C.3): VCTK-Test clean speech at 44.1 kHz, order-8 Chebyshev type-I low-pass at
the Nyquist frequency of the low rate u, resampling to u and back to 44.1 kHz; one subset per u in
{2, 4, 8, 16, 24} kHz (MaskSR reports the 2-16 kHz ones: 1-8 kHz bandwidths).

`--items N` = utterances per rate (the same N utterances in every subset). Decisions: the filter
is applied forward-backward (zero phase, as `scipy.signal.decimate` does) with 0.05 dB ripple
(decimate's design), and the polyphase resampling is the harness's one resampler (soxr VHQ, a
polyphase design) so that no second resampler enters the code base."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import signal

from benchmark.core.audio import read_audio, resample, write_audio
from testsets.base import TESTSETS, BuildOptions, TestSetBuilder, TestSetInfo
from testsets.corpora import vctk_utterances
from testsets.engine import build_set
from testsets.manifest import ManifestItem
from testsets.simulated import SELECT_STREAM, select_without_repeat

RATES = (2000, 4000, 8000, 16000, 24000)
TARGET_RATE = 44100
ORDER, RIPPLE_DB = 8, 0.05


def sr_degrade(x: np.ndarray, rate: int, low_rate: int) -> np.ndarray:
    sos = signal.cheby1(ORDER, RIPPLE_DB, (low_rate / 2) / (rate / 2), output="sos")
    y = signal.sosfiltfilt(sos, x).astype(np.float32)
    y = resample(resample(y, rate, low_rate), low_rate, rate)
    return np.pad(y, (0, max(0, len(x) - len(y))))[: len(x)].astype(np.float32)


@TESTSETS.register
class SuperResolution(TestSetBuilder):
    info = TestSetInfo(
        name="sr", description="VCTK-Test band-limited to 2/4/8/16/24 kHz rates, 44.1 kHz target",
        rate=TARGET_RATE, corpora=("VCTK-Corpus-0.92",), paper="003 App. C.3, 001 Sec. 3.1",
        default_items=None, default_seed=0,
        metrics=("dnsmos", "nisqa", "lsd", "spk_sim"))
    rates = RATES

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
                            "ripple_db": RIPPLE_DB, "cutoff": low / 2},
                    sources={"speech": u.path}))
        self.result = build_set(self, opts, items, seed)
        return self.result.folder

    def render_item(self, corpora: Path, set_dir: Path, item: ManifestItem) -> None:
        x, r = read_audio(corpora / item.sources["speech"], mix_channels=True)
        target = resample(x, r, TARGET_RATE)
        degraded = sr_degrade(target, TARGET_RATE, int(item.params["low_rate"]))
        write_audio(set_dir / item.degraded, degraded, TARGET_RATE)
        write_audio(set_dir / item.target, target, TARGET_RATE)
