"""Shared recipe of the simulated sets (all_gsr, vctk_gsr, libri_noisy): pick source utterances,
draw each item's distortion parameters, noise segment and room into the manifest, and render an
item from its manifest record alone.

Decisions where the papers are silent: noise files shorter than the speech are looped (tiled);
noise and RIRs are resampled to the set rate with the one resampler; a speech segment shorter
than the requested segment length is zero-padded at the end; the transcript is kept only for
whole utterances (a crop no longer matches it).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from benchmark.core.audio import read_audio, resample, write_audio
from benchmark.core.errors import BenchmarkError
from benchmark.core.files import confine
from testsets.base import BuildOptions, TestSetBuilder
from testsets.corpora import NoiseSource, Utterance
from testsets.distortions import DistortionConfig, DistortionParams, render, sample_params
from testsets.engine import BuildResult, build_set, derive_rng_seed
from testsets.manifest import ManifestItem
from testsets.rir import RoomParams, sample_voicefixer_room, sample_whamr_room, simulate_rir

ROOM_RECIPES = {"voicefixer": sample_voicefixer_room, "whamr": sample_whamr_room}
SELECT_STREAM = 0x5E1EC7         # the set-level stream that picks source utterances


class CorpusTooSmallError(BenchmarkError):
    """More items requested than the corpus has source utterances (and no --allow-repeat)."""

    def __init__(self, message: str, available: int):
        super().__init__(message)
        self.available = available


def select_without_repeat(pool: list, n: int, rng: np.random.Generator, allow_repeat: bool,
                          what: str) -> list:
    """`n` entries of `pool` in random order; repetition (whole shuffled passes) only if allowed."""
    if n > len(pool) and not allow_repeat:
        raise CorpusTooSmallError(
            f"{what}: {n} items requested but the corpus has only {len(pool)} source utterances; "
            f"use --items {len(pool)} or pass --allow-repeat to reuse utterances", len(pool))
    out: list = []
    while len(out) < n:
        out.extend(pool[i] for i in rng.permutation(len(pool)))
    return out[:n]


def load_noise(corpora: Path, src: dict, rate: int) -> np.ndarray:
    noisy, r = read_audio(confine(corpora, src.get("noise"), "source 'noise'", symlinks_inside=False), mix_channels=True)
    if src.get("noise_clean"):
        clean, rc = read_audio(confine(corpora, src["noise_clean"], "source 'noise_clean'",
                                       symlinks_inside=False), mix_channels=True)
        if rc != r:
            raise BenchmarkError(f"{src['noise']} and {src['noise_clean']} differ in sample rate")
        m = min(len(noisy), len(clean))
        noisy = noisy[:m] - clean[:m]           # VoiceFixer's VD-Noise: noisy - clean
    return resample(noisy, r, rate)


def crop(x: np.ndarray, offset: int, length: int, loop: bool = False) -> np.ndarray:
    if loop and len(x) < offset + length:
        x = np.tile(x, int(np.ceil((offset + length) / len(x))))
    y = x[offset: offset + length]
    return np.pad(y, (0, length - len(y))) if len(y) < length else y


class SimulatedBuilder(TestSetBuilder):
    config: ClassVar[DistortionConfig]
    segment: ClassVar[float | None] = None          # seconds; None: whole utterances
    room_recipe: ClassVar[str | None] = None

    # --- per-set hooks ---
    def speech(self, corpora: Path) -> list[Utterance]:
        raise NotImplementedError

    def noises(self, corpora: Path) -> list[NoiseSource]:
        raise NotImplementedError

    def select(self, utts: list[Utterance], n: int, rng: np.random.Generator,
               allow_repeat: bool) -> list[Utterance]:
        return select_without_repeat(utts, n, rng, allow_repeat, f"test set '{self.info.name}'")

    def notes(self, utts: list[Utterance]) -> list[str]:
        return []

    # --- plan ---
    def plan(self, opts: BuildOptions, seed: int) -> list[ManifestItem]:
        corpora = Path(opts.corpora)
        utts = self.speech(corpora)
        noises = self.noises(corpora) if self.config.p_noise > 0 else []
        n = opts.items or self.info.default_items or len(utts)
        chosen = self.select(utts, n, np.random.default_rng([seed, SELECT_STREAM]), opts.allow_repeat)
        rate = self.info.rate
        items = []
        for i, utt in enumerate(chosen):
            rng = np.random.default_rng(derive_rng_seed(seed, i))
            params = sample_params(rng, self.config)
            full = int(np.floor(utt.frames * rate / utt.rate))
            length = int(round(self.segment * rate)) if self.segment else full
            speech_offset = int(rng.integers(0, full - length + 1)) if full > length else 0
            sources: dict = {"speech": utt.path}
            extra: dict = {"item_index": i, "speech_offset": speech_offset, "length": length}
            if params.snr_db is not None:
                noise = noises[int(rng.integers(len(noises)))]
                nfull = int(np.floor(noise.frames * rate / noise.rate))
                extra["noise_offset"] = int(rng.integers(0, nfull - length + 1)) if nfull > length else 0
                sources.update(noise=noise.path, noise_clean=noise.clean)
            room = ROOM_RECIPES[self.room_recipe](rng, rate) if params.reverb and self.room_recipe else None
            stem = Path(utt.path).name.split(".")[0]
            item_id = f"{i:04d}_{stem}"
            items.append(ManifestItem(
                id=item_id, degraded=f"degraded/{item_id}.wav", target=f"target/{item_id}.wav",
                rate=rate, target_rate=rate, duration=length / rate,
                transcript=utt.transcript if self.segment is None else None, speaker=utt.speaker,
                seed=seed, params={"distortion": params.to_dict(),
                                   "room": room.to_dict() if room else None, **extra},
                sources=sources))
        return items

    def build(self, opts: BuildOptions) -> Path:
        seed = self.info.default_seed if opts.seed is None else opts.seed
        items = self.plan(opts, seed)
        self.result: BuildResult = build_set(self, opts, items, seed,
                                             self.notes(self.speech(Path(opts.corpora))))
        return self.result.folder

    # --- render (from the manifest record alone) ---
    def render_item(self, corpora: Path, set_dir: Path, item: ManifestItem) -> None:
        out = self.rerender(corpora, item)
        write_audio(set_dir / item.degraded, out.degraded, item.rate)
        write_audio(set_dir / item.target, out.target, item.rate)

    def rerender(self, corpora: Path, item: ManifestItem):
        """The rendered arrays and components of one manifest item (for checks and the trainer)."""
        rate, p, src = item.rate, item.params, item.sources
        speech, r = read_audio(item.source(corpora, "speech"), mix_channels=True)
        speech = crop(resample(speech, r, rate), p["speech_offset"], p["length"])
        params = DistortionParams.from_dict(p["distortion"])
        noise = None
        if params.snr_db is not None:
            noise = crop(load_noise(corpora, src, rate), p["noise_offset"], p["length"], loop=True)
        rir = simulate_rir(RoomParams.from_dict(p["room"])) if p.get("room") else None
        return render(speech, rate, params, noise, rir)
