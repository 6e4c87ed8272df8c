"""ALL-GSR (VoiceFixer's HiFi-Res): 501 three-second VCTK-Test items with all four distortions
at random, in the test-set order of 004 Sec. 4.2.1 (reverb, noise, clip, then low-pass and
resampling to a rate between 2 and 44.1 kHz), noise from DCASE-Eval (003 App. C.3: the TUT Urban
Acoustic Scenes 2018 evaluation audio, corpus `dcase2018_eval`) and RIRs from RIR-Test (RIR-44k's
test split, corpus `rir44k`), mixed by Algorithm 1's SNR (003 App. C.2) with the levels as
voicefixer_main sets them (`testsets.distortions`).

Where DCASE-Eval or RIR-44k is not installed, the build says so, records it in info.json and uses
the `noise/` folder or rooms simulated with VoiceFixer's recipe (003 App. C.1) instead; such a set
is not the published one. `--source official` ingests VoiceFixer's released ALL_GSR instead
(`testsets.official`)."""

from __future__ import annotations

from pathlib import Path

from testsets.base import TESTSETS, BuildOptions, BuildResult, TestSetInfo
from testsets.corpora import CORPORA, dcase_noises, noise_files, vctk_utterances
from testsets.distortions import TEST_ORDER, DistortionConfig
from testsets.engine import warn
from testsets.official import OfficialMixin
from testsets.simulated import SimulatedBuilder


@TESTSETS.register
class AllGsr(OfficialMixin, SimulatedBuilder):
    sample_format = "pcm16_voicefixer"   # as voicefixer_main save_wave writes (16-bit)
    info = TestSetInfo(
        name="all_gsr", description="VCTK-Test 3 s items, reverb+noise+clipping+low bandwidth",
        rate=44100, corpora=("VCTK-Corpus-0.92",),
        optional_corpora=("TUT-urban-acoustic-scenes-2018-evaluation", "RIR_44k", "noise"),
        paper="003 App. C.2/C.3, 004 Sec. 4.2.1", default_items=501, default_seed=501, version="2")
    config = DistortionConfig(order=TEST_ORDER, cutoff_range=(1000.0, 22050.0),
                              snr_definition="algorithm1")
    segment = 3.0
    room_recipe = "voicefixer"
    default_rirs = "rir44k"
    official_key = "all_gsr"

    def speech(self, corpora: Path):
        return vctk_utterances(corpora)

    def noises(self, corpora: Path):
        if CORPORA["dcase2018_eval"].found(corpora):
            return dcase_noises(corpora)
        msg = (f"DCASE-Eval not found under {CORPORA['dcase2018_eval'].root(corpora)}: noise from "
               f"the noise/ folder instead (get it from {CORPORA['dcase2018_eval'].homepage})")
        warn(f"all_gsr: {msg}")
        getattr(self, "_notes", []).append(msg)
        return noise_files(corpora)

    def build(self, opts: BuildOptions) -> BuildResult:
        if opts.source == "official":
            return self.build_official(opts)
        return super().build(opts)
