"""MaskSR2's wide-band LibriSpeech set (002 Sec. III-A): 800 items from the 40 test-clean
speakers (20 each, balanced round-robin over speakers), 16 kHz, additive noise only, transcripts
kept. The paper gives no SNR range: we use U(-5, 20) dB, the range MaskSR2 states for its
distortions (002 Sec. III-A), and VoiceBank-DEMAND test noise (noise = noisy - clean) as in its
full-band set. No random gain (q = 1), but the levels are not the corpus's: as in every
simulated set (`testsets.distortions.render`), the speech is peak-normalised first, the noise is
added, and input and target are then divided by their common peak (the larger peak becomes 1)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from testsets.base import TESTSETS, TestSetInfo
from testsets.corpora import librispeech_utterances, voicebank_noises
from testsets.distortions import DistortionConfig
from testsets.simulated import SimulatedBuilder, select_without_repeat


@TESTSETS.register
class LibriNoisy(SimulatedBuilder):
    info = TestSetInfo(
        name="libri_noisy", description="LibriSpeech test-clean + noise, 16 kHz, transcripts",
        rate=16000, corpora=("LibriSpeech", "VoiceBank-DEMAND"),
        paper="002 Sec. III-A", default_items=800, default_seed=800, version="2",
        metrics=("dnsmos", "wer", "spk_sim"))
    config = DistortionConfig(p_reverb=0.0, p_clip=0.0, p_lowpass=0.0, p_noise_lowpass=0.0,
                              p_noise=1.0, snr_range=(-5.0, 20.0), gain_range=(1.0, 1.0),
                              snr_definition="active")

    def speech(self, corpora: Path):
        return librispeech_utterances(corpora)

    def noises(self, corpora: Path):
        return voicebank_noises(corpora)

    def select(self, utts, n, rng, allow_repeat):
        """Round-robin over speakers (each speaker's utterances in a seeded random order), so
        the items are spread evenly: 800 items over 40 speakers = 20 per speaker."""
        if n > len(utts) and not allow_repeat:
            select_without_repeat(utts, n, rng, False, f"test set '{self.info.name}'")  # raises
        by_spk = defaultdict(list)
        for u in utts:
            by_spk[u.speaker].append(u)
        speakers = sorted(by_spk)
        passes = -(-n // len(utts)) if allow_repeat else 1
        queues = {s: [by_spk[s][i] for _ in range(passes) for i in rng.permutation(len(by_spk[s]))]
                  for s in speakers}
        out: list = []
        while len(out) < n:
            for s in speakers:
                if queues[s] and len(out) < n:
                    out.append(queues[s].pop(0))
        return out

    def notes(self, utts):
        return [f"{len({u.speaker for u in utts})} speakers found in test-clean (the paper uses 40)"]
