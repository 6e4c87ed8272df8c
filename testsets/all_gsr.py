"""ALL-GSR (VoiceFixer's HiFi-Res): 501 three-second VCTK-Test items with all four distortions
at random, in the test-set order of 004 Sec. 4.2.1 (reverb, noise, clip, then low-pass and
resampling to a rate between 2 and 44.1 kHz), noise from DCASE-Eval (the `noise` corpus) and
RIRs simulated with VoiceFixer's recipe (003 App. C.1). RIR-Test is a random held-out share of
filters simulated with that recipe; this builder simulates fresh ones from the item seed."""

from __future__ import annotations

from pathlib import Path

from testsets.base import TESTSETS, TestSetInfo
from testsets.corpora import noise_files, vctk_utterances
from testsets.distortions import TEST_ORDER, DistortionConfig
from testsets.simulated import SimulatedBuilder


@TESTSETS.register
class AllGsr(SimulatedBuilder):
    info = TestSetInfo(
        name="all_gsr", description="VCTK-Test 3 s items, reverb+noise+clipping+low bandwidth",
        rate=44100, corpora=("VCTK-Corpus-0.92", "noise"),
        paper="003 App. C.2/C.3, 004 Sec. 4.2.1", default_items=501, default_seed=501,
        metrics=("dnsmos", "nisqa", "lsd", "spk_sim"))
    config = DistortionConfig(order=TEST_ORDER, cutoff_range=(1000.0, 22050.0))
    segment = 3.0
    room_recipe = "voicefixer"

    def speech(self, corpora: Path):
        return vctk_utterances(corpora)

    def noises(self, corpora: Path):
        return noise_files(corpora)
