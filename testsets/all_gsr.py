"""ALL-GSR (VoiceFixer's HiFi-Res): 501 three-second VCTK-Test items with all four distortions
at random, in the test-set order of 004 Sec. 4.2.1 (reverb, noise, clip, then low-pass and
resampling to a rate between 2 and 44.1 kHz), noise from DCASE-Eval (003 App. C.3: the TUT Urban
Acoustic Scenes 2018 evaluation audio, corpus `dcase2018_eval`) and RIRs from RIR-Test (RIR-44k's
test split, corpus `rir44k`), mixed by Algorithm 1's SNR (003 App. C.2) with the levels as
voicefixer_main sets them (`testsets.distortions`).

Where DCASE-Eval or RIR-44k is not installed, the build says so, records it in info.json and uses
the `noise/` folder or rooms simulated with VoiceFixer's recipe (003 App. C.1) instead; such a set
is not the published one. `--source official` ingests VoiceFixer's released ALL_GSR instead
(`testsets.official`).

Probabilities and ranges (`PARAMETER_SOURCES`, written to info.json with each decision): the
sources are 003 App. C.2 (Algorithm 1's values), 004 Sec. 4.2.1 (the HiFi-Res test set) and
voicefixer_main's training config `config/vctk_base_voicefixer_unet.json` @ 0c206f7 (VF below)."""

from __future__ import annotations

from pathlib import Path

from testsets.base import TESTSETS, BuildOptions, TestSetInfo
from testsets.corpora import CORPORA, dcase_noises, noise_files, vctk_utterances
from testsets.distortions import TEST_ORDER, DistortionConfig
from testsets.engine import warn
from testsets.official import OfficialMixin
from testsets.simulated import SimulatedBuilder

VF = "voicefixer_main config/vctk_base_voicefixer_unet.json @ 0c206f7"
# Every parameter that shapes the bytes: its value here, and why where the sources disagree.
PARAMETER_SOURCES = {
    "order": "reverb, noise, clip, low-pass: 004 Sec. 4.2.1 ('reverberation, noise, and clipping. "
             "Then ... low-pass filtered and down-sampled')",
    "p_reverb": "0.25: 003 App. C.2 (p1); VF L117 has 0.30 (reverb_rir prob), a training setting; "
                "the paper states its test-set value, the config does not generate test sets",
    "p_clip": "0.25: 003 App. C.2 (p2); VF L135 has 0.20 (clip prob): paper followed, as p_reverb",
    "clip_range": "eta ~ U(0.06, 0.9): 003 App. C.2; VF L136 draws louder_time ~ U(1, 11) and clips "
                  "at 1/louder_time (eta in [0.09, 1], not uniform): paper followed, as p_reverb",
    "p_lowpass": "1.0: every item, 004 Sec. 4.2.1 ('the degraded speech is low-pass filtered and "
                 "down-sampled') and VF L125 (low_pass_2 prob 1.0) agree; 003 App. C.2's p3 = 0.5 "
                 "is the training value",
    "cutoff_range": "U(1000, 22050) Hz: 004 Sec. 4.2.1 (a rate 'between 2 kHz to 44.1 kHz'); "
                    "003 App. C.2 and VF L126 (range 1500..44100, halved in "
                    "dataloaders/data_module.py L29-30) give 750 Hz: the test-set text followed",
    "order_range": "U{2..10}: 003 App. C.2 and VF L127 ([2, 10]) agree",
    "filter_types": "butter, cheby1, bessel, ellip: 003 App. C.2 (randomFilterType); VF L128 adds "
                    "'stft_hard' and 'stft' (STFT-domain masks, and data_module.py L43-48 adds an "
                    "'stft' pass to half the items), which no paper describes: not used",
    "p_noise_lowpass": "0.5: 003 App. C.2 leaves p4 open; data_module.py L56-57 @ 0c206f7 leaves the "
                       "noise unfiltered when an even draw comes up (1/2)",
    "p_noise": "1.0: 003 App. C.2 leaves p5 open; VF L89 (noise prob 1.0)",
    "snr_range": "U(-5, 40) dB: 003 App. C.2 and VF L90 agree",
    "gain_range": "q ~ U(0.3, 1.0): 003 App. C.2 and VF L86 agree",
    "snr_definition": "algorithm1: 003 App. C.2 (mean|n| matched to mean|x|) as voicefixer_main "
                      "dataloaders/augmentation/base.py add_noise_and_scale_with_HQ sets it",
    "reverb_alignment": "none: voicefixer_main dataloaders/augmentation/magical_effects.py L158-165 "
                        "@ 0c206f7 convolves, renormalises and cuts with no shift",
}


@TESTSETS.register
class AllGsr(OfficialMixin, SimulatedBuilder):
    sample_format = "pcm16_voicefixer"   # as voicefixer_main save_wave writes (16-bit)
    info = TestSetInfo(
        name="all_gsr", description="VCTK-Test 3 s items, reverb+noise+clipping+low bandwidth",
        rate=44100, corpora=("VCTK-Corpus-0.92",),
        optional_corpora=("TUT-urban-acoustic-scenes-2018-evaluation", "RIR_44k", "noise"),
        paper="003 App. C.2/C.3, 004 Sec. 4.2.1", default_items=501, default_seed=501, version="3",
        metrics=("dnsmos", "nisqa", "lsd:voicefixer2022", "spk_sim", "pesq:speechmetrics",
                 "lsd:voicefixer2021", "sispnr:voicefixer2021", "ssim"))
    config = DistortionConfig(order=TEST_ORDER, p_lowpass=1.0, cutoff_range=(1000.0, 22050.0),
                              snr_definition="algorithm1")
    segment = 3.0
    room_recipe = "voicefixer"
    default_rirs = "rir44k"
    official_key = "all_gsr"

    def constants(self) -> dict:
        return {**super().constants(), "parameter_sources": PARAMETER_SOURCES}

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

    def build(self, opts: BuildOptions) -> Path:
        if opts.source == "official":
            return self.build_official(opts)
        return super().build(opts)
