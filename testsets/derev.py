"""DEREV (003 App. C.3): every VCTK-Test utterance (2937) at 44.1 kHz convolved with an RIR drawn
at random from RIR-Test (RIR-44k's test split, corpus `rir44k`; `--rirs simulate`: a room drawn
with VoiceFixer's recipe, 003 App. C.1). The reverberant input is renormalised and cut to the
utterance's length as voicefixer_main `reverb_rir` does (magical_effects.py L158-165 @ 0c206f7: a
peak above 0.99 becomes 0.98, no shift); `--reverb-alignment direct_path` advances it by the RIR's
geometric direct-path delay instead. The alignment is recorded per item. `--source official`
ingests the released DEREV/ instead (`testsets.official`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.core.audio import write_audio
from benchmark.core.errors import BenchmarkError
from testsets.base import TESTSETS, BuildOptions, TestSetBuilder, TestSetInfo, reverb_alignment
from testsets.corpora import CORPORA, VCTK_TEST, corpus_differences, rir44k_files, vctk_utterances
from testsets.decli import RATE, vctk_44k
from testsets.distortions import apply_reverb, argmax_delay, recipe_constants, reverb_shift
from testsets.engine import announce, build_set, encode, item_rng, warn
from testsets.manifest import ManifestItem, conditions
from testsets.official import OfficialMixin
from testsets.rir import RoomParams, sample_voicefixer_room, simulate_rir
from testsets.simulated import (
    RIR_SOURCES,
    SELECT_STREAM,
    load_rir_file,
    rir_file_delay,
    select_without_repeat,
)


class _DerevRebuild(TestSetBuilder):
    def constants(self) -> dict:
        return {**recipe_constants(), "room_recipe": "voicefixer", "resampler": "soxr VHQ"}

    def build(self, opts: BuildOptions) -> Path:
        corpora = Path(opts.corpora)
        seed = self.info.default_seed if opts.seed is None else opts.seed
        notes: list[str] = []
        alignment = reverb_alignment(opts)
        source = opts.rirs or "rir44k"
        if source not in RIR_SOURCES:
            raise BenchmarkError(f"--rirs must be one of {', '.join(RIR_SOURCES)}, got {source!r}")
        if source == "rir44k" and not opts.rirs and not CORPORA["rir44k"].found(corpora):
            msg = (f"RIR-44k not found under {CORPORA['rir44k'].root(corpora)}: rooms simulated with "
                   f"VoiceFixer's recipe instead (not the published RIR-Test)")
            warn(f"derev: {msg}")
            notes.append(msg)
            source = "simulate"
        rir_files = rir44k_files(corpora) if source == "rir44k" else []
        utts = vctk_utterances(corpora)
        chosen = select_without_repeat(utts, opts.items or len(utts),
                                       np.random.default_rng([seed, SELECT_STREAM]),
                                       opts.allow_repeat, "test set 'derev'")
        items = []
        for i, u in enumerate(chosen):
            item_id = f"{i:04d}_{Path(u.path).name.split('.')[0]}"
            params: dict = {"item_index": i, "room": None, "reverb_alignment": alignment}
            sources = {"speech": u.path}
            if source == "simulate":
                room = sample_voicefixer_room(item_rng(seed, i, "room"), RATE)
                params.update(room=room.to_dict(), rir_delay=round(room.direct_delay(), 4),
                              alignment="geometric")
            else:
                rf = rir_files[int(item_rng(seed, i, "rir").integers(len(rir_files)))]
                sources["rir"] = rf.path
                delay = rir_file_delay(rf, RATE)
                params.update(rir_delay=round(delay, 4) if delay is not None else None,
                              alignment="geometric" if delay is not None else "argmax")
            items.append(ManifestItem(
                id=item_id, degraded=f"degraded/{item_id}.wav", target=f"target/{item_id}.wav",
                rate=RATE, target_rate=RATE, duration=int(np.floor(u.frames * RATE / u.rate)) / RATE,
                transcript=u.transcript, speaker=u.speaker, seed=seed, params=params, sources=sources,
                conditions=conditions(reverb=True, rt60_s=params["room"]["rt60"] if params["room"] else None)))
        notes += announce("derev", corpus_differences(VCTK_TEST, [u.speaker for u in utts],
                                                       [u.rate for u in utts]))
        self.result = build_set(self, opts, items, seed, notes)
        return self.result.folder

    def render_item(self, corpora: Path, set_dir: Path, item: ManifestItem) -> dict:
        target = vctk_44k(corpora, item.sources["speech"])
        p = item.params
        rir = (simulate_rir(RoomParams.from_dict(p["room"])) if p.get("room")
               else load_rir_file(corpora, item.sources["rir"], RATE))
        # manifests written before the alignment was recorded were shifted by the direct path
        alignment = p.get("reverb_alignment", "direct_path")
        degraded = apply_reverb(target, rir, p.get("rir_delay"), alignment)
        write_audio(set_dir / item.degraded, encode(self, degraded), RATE)
        write_audio(set_dir / item.target, encode(self, target), RATE)
        return {"reverb_shift": reverb_shift(rir, p.get("rir_delay"), alignment),
                "argmax_delay": argmax_delay(rir),
                "peak_degraded": round(float(np.max(np.abs(degraded))), 6),
                "peak_target": round(float(np.max(np.abs(target))), 6)}


@TESTSETS.register
class Derev(OfficialMixin, _DerevRebuild):
    sample_format = "pcm16_voicefixer"   # as voicefixer_main save_wave writes (16-bit)
    info = TestSetInfo(
        name="derev", description="VCTK-Test x RIR-Test reverberant speech, dry target",
        rate=RATE, corpora=("VCTK-Corpus-0.92",),
        optional_corpora=("RIR_44k",), paper="003 App. C.3",
        default_items=None, default_seed=2938, version="2", metrics=("pesq:speechmetrics", "sispnr:voicefixer2021"))     # 003 Table 8
    official_key = "derev"

    def build(self, opts: BuildOptions) -> Path:
        return self.build_official(opts) if opts.source == "official" else super().build(opts)
