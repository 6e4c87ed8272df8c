"""MaskSR2's full-band VCTK set (002 Sec. III-A): 1000 whole utterances of the 8 VCTK test
speakers with transcripts, VoiceBank-DEMAND test noise (noise = noisy - clean), RIRs simulated
from the WHAMR! test rooms as the WHAMR! scripts do (`testsets.whamr`: one row of
reverb_params_tt.csv per reverberant item, recorded in the manifest; `--rooms simulate`: rooms
drawn from the WHAMR! distributions, the earlier recipe); VoiceFixer's pipeline (Algorithm 1 order and probabilities) with
the MaskSR2 ranges: SNR U(-5, 20) dB, clipping eta U(0.1, 0.5), bandwidth U(1, 22.05) kHz. MaskSR2
does not define its SNR: it is set over the active speech (both definitions are measured and
recorded in measured.jsonl)."""

from __future__ import annotations

from pathlib import Path

from testsets.base import TESTSETS, TestSetInfo
from testsets.corpora import vctk_utterances, voicebank_noises
from testsets.distortions import DistortionConfig
from testsets.simulated import SimulatedBuilder


@TESTSETS.register
class VctkGsr(SimulatedBuilder):
    info = TestSetInfo(
        name="vctk_gsr", description="VCTK test speakers, all 4 distortions, with transcripts",
        rate=44100, corpora=("VCTK-Corpus-0.92", "VoiceBank-DEMAND"),
        paper="002 Sec. III-A", default_items=1000, default_seed=1000, version="3",
        metrics=("dnsmos", "nisqa", "lsd:voicefixer2022", "wer", "spk_sim"))
    config = DistortionConfig(clip_range=(0.1, 0.5), cutoff_range=(1000.0, 22050.0),
                              snr_range=(-5.0, 20.0), snr_definition="active")
    room_recipe = "whamr"

    def speech(self, corpora: Path):
        return vctk_utterances(corpora)

    def noises(self, corpora: Path):
        return voicebank_noises(corpora)
