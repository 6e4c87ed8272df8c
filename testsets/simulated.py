"""Shared recipe of the simulated sets (all_gsr, vctk_gsr, libri_noisy): pick source utterances,
draw each item's distortion parameters, noise segment and room into the manifest, and render an
item from its manifest record alone.

Decisions where the papers are silent: noise files shorter than the speech are looped (tiled);
noise and RIRs are resampled to the set rate with the harness's resampler (soxr); a speech segment
shorter than the requested segment length is zero-padded at the end; the transcript is kept only
for whole utterances (a crop no longer matches it).

Each aspect of an item draws from its own random stream (`testsets.engine.item_rng`: distortion
parameters, speech crop, noise file and crop, room or RIR file), so adding a draw to one aspect
never shifts another. RIRs come from RIR-44k's test split (`--rirs rir44k`, aligned by the
geometry its file names carry) or are simulated from a drawn room (`--rirs simulate`, aligned by
the room's geometric direct path).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from benchmark.core.audio import read_audio, resample, write_audio
from benchmark.core.errors import BenchmarkError
from benchmark.core.files import confine
from testsets.base import BuildOptions, TestSetBuilder, reverb_alignment
from testsets.corpora import CORPORA, NoiseSource, RirFile, Utterance, rir44k_files
from testsets.distortions import (
    DistortionConfig,
    DistortionParams,
    recipe_constants,
    render,
    sample_params,
)
from testsets.engine import BuildResult, build_set, encode, item_rng, warn
from testsets.manifest import ManifestItem, conditions
from testsets.rir import (
    SOUND_SPEED,
    RoomParams,
    pra_direct_offset,
    sample_voicefixer_room,
    sample_whamr_room,
    simulate_rir,
)

ROOM_RECIPES = {"voicefixer": sample_voicefixer_room, "whamr": sample_whamr_room}
SELECT_STREAM = 0x5E1EC7         # the set-level stream that picks source utterances
WHAMR_STREAM = 0x3A3E            # the set-level stream that orders the WHAMR! CSV rows
ROOM_SOURCES = ("whamr_csv", "simulate")
RIR_SOURCES = ("rir44k", "simulate")
# sunits/rir_simulator_python (RIR-44k's simulator) places the direct path at distance / c x rate
# exactly: its 33-tap fractional-delay filter and its surface filter are both re-centred
# (roomsimove_single.py `adjust_delay = rdelay - ceil(len_h / 2)`, commit 225c717).
ROOMSIMOVE_DIRECT_OFFSET = 0


def rir_file_delay(rir: RirFile, rate: int) -> float | None:
    """Geometric direct-path delay of an RIR-44k file at `rate` (None: its name has no room)."""
    if rir.mic is None or rir.source is None:
        return None
    dist = float(np.linalg.norm(np.subtract(rir.source, rir.mic)))
    return dist / SOUND_SPEED * rate + ROOMSIMOVE_DIRECT_OFFSET


def load_rir_file(corpora: Path, rel: str, rate: int) -> np.ndarray:
    path = corpora / rel
    if path.suffix.lower() == ".npy":
        from testsets.corpora import RIR44K_RATE
        h = np.asarray(np.load(path), dtype=np.float32).squeeze()
        return resample(h, RIR44K_RATE, rate) if rate != RIR44K_RATE else h
    h, r = read_audio(path, mix_channels=True)
    return resample(h, r, rate)


def distortion_conditions(params: DistortionParams, room: RoomParams | None) -> dict:
    """The typed conditions of a simulated item (the factors every simulated set can vary)."""
    return conditions(snr_db=params.snr_db,
                      cutoff_hz=params.lowpass.cutoff if params.lowpass else None,
                      clip_level=params.clip_eta, reverb=params.reverb,
                      rt60_s=room.rt60 if room else None)


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
    room_recipe: ClassVar[str | None] = None        # the recipe of simulated rooms
    default_rirs: ClassVar[str] = "simulate"        # "rir44k" or "simulate"

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
    def whamr_rows(self, opts: BuildOptions, seed: int):
        """The WHAMR! CSV rows in this build's order (sets whose rooms follow WHAMR!), or None:
        --rooms whamr_csv (the default) reads reverb_params_tt.csv through the asset registry;
        where it is not installed and --rooms was not given, rooms are drawn from the WHAMR!
        distributions instead, with a warning and a note."""
        if self.room_recipe != "whamr":
            return None
        want = opts.rooms or "whamr_csv"
        if want not in ROOM_SOURCES:
            raise BenchmarkError(f"--rooms must be one of {', '.join(ROOM_SOURCES)}, got {want!r}")
        if want == "simulate":
            return None
        from benchmark.core.errors import AssetError
        from testsets.whamr import CSV_ASSET, csv_fingerprint, locate_csv, read_rows
        try:
            path = locate_csv()
        except AssetError as exc:
            if opts.rooms:
                raise
            msg = (f"WHAMR! room parameters not found (asset {CSV_ASSET}: python -m benchmark assets "
                   f"fetch {CSV_ASSET}): rooms drawn from the WHAMR! distributions instead, not the "
                   f"published rows (--rooms simulate silences this). {str(exc).splitlines()[0]}")
            warn(f"{self.info.name}: {msg}")
            self._notes.append(msg)
            return None
        rows = read_rows(path)
        self._whamr_csv = {"asset": CSV_ASSET, "sha256": csv_fingerprint(path), "rows": len(rows)}
        order = np.random.default_rng([seed, WHAMR_STREAM]).permutation(len(rows))
        return [rows[int(k)] for k in order]

    def rir_source(self, opts: BuildOptions) -> str | None:
        """The RIR source this build uses: --rirs, else the set's default (`default_rirs`); a
        default that is not installed falls back to simulation with a warning and a note."""
        if not self.room_recipe:
            return None
        want = opts.rirs or self.default_rirs
        if want not in RIR_SOURCES:
            raise BenchmarkError(f"--rirs must be one of {', '.join(RIR_SOURCES)}, got {want!r}")
        if want == "rir44k" and not opts.rirs and not CORPORA["rir44k"].found(Path(opts.corpora)):
            msg = (f"RIR-44k not found under {CORPORA['rir44k'].root(Path(opts.corpora))}: RIRs "
                   f"simulated with the {self.room_recipe} recipe instead (get RIR-44k from "
                   f"{CORPORA['rir44k'].homepage} for the published set; --rirs simulate silences this)")
            warn(f"{self.info.name}: {msg}")
            self._notes.append(msg)
            return "simulate"
        return want

    def plan(self, opts: BuildOptions, seed: int) -> list[ManifestItem]:
        corpora = Path(opts.corpora)
        utts = self.speech(corpora)
        noises = self.noises(corpora) if self.config.p_noise > 0 else []
        rir_source = self.rir_source(opts)
        rir_files = rir44k_files(corpora) if rir_source == "rir44k" else []
        whamr = self.whamr_rows(opts, seed) if rir_source == "simulate" else None
        n = opts.items or self.info.default_items or len(utts)
        chosen = self.select(utts, n, np.random.default_rng([seed, SELECT_STREAM]), opts.allow_repeat)
        rate = self.info.rate
        alignment = reverb_alignment(opts)
        n_rooms = 0
        items = []
        for i, utt in enumerate(chosen):
            params = sample_params(item_rng(seed, i, "distortion"), self.config)
            full = int(np.floor(utt.frames * rate / utt.rate))
            length = int(round(self.segment * rate)) if self.segment else full
            speech_rng = item_rng(seed, i, "speech")
            speech_offset = int(speech_rng.integers(0, full - length + 1)) if full > length else 0
            sources: dict = {"speech": utt.path}
            extra: dict = {"item_index": i, "speech_offset": speech_offset, "length": length}
            if params.snr_db is not None:
                noise_rng = item_rng(seed, i, "noise")
                noise = noises[int(noise_rng.integers(len(noises)))]
                nfull = int(np.floor(noise.frames * rate / noise.rate))
                extra["noise_offset"] = int(noise_rng.integers(0, nfull - length + 1)) if nfull > length else 0
                sources.update(noise=noise.path, noise_clean=noise.clean)
            room = None
            if params.reverb:
                extra["reverb_alignment"] = alignment
            if params.reverb and rir_source == "simulate" and whamr:
                row = whamr[n_rooms % len(whamr)]     # the next row: none repeats before all are used
                n_rooms += 1
                room = row.room(rate)
                extra.update(whamr_row=row.index, whamr_utterance_id=row.utterance_id,
                             rir_delay=round(room.direct_delay(), 4), alignment="geometric")
            elif params.reverb and rir_source == "simulate":
                room = ROOM_RECIPES[self.room_recipe](item_rng(seed, i, "room"), rate)
                extra["rir_delay"] = round(room.direct_delay(), 4)
                extra["alignment"] = "geometric"
            elif params.reverb and rir_source == "rir44k":
                rf = rir_files[int(item_rng(seed, i, "rir").integers(len(rir_files)))]
                sources["rir"] = rf.path
                delay = rir_file_delay(rf, rate)
                extra["rir_delay"] = round(delay, 4) if delay is not None else None
                extra["alignment"] = "geometric" if delay is not None else "argmax"
            stem = Path(utt.path).name.split(".")[0]
            item_id = f"{i:04d}_{stem}"
            items.append(ManifestItem(
                id=item_id, degraded=f"degraded/{item_id}.wav", target=f"target/{item_id}.wav",
                rate=rate, target_rate=rate, duration=length / rate,
                transcript=utt.transcript if self.segment is None else None, speaker=utt.speaker,
                seed=seed, params={"distortion": params.to_dict(),
                                   "room": room.to_dict() if room else None, **extra},
                sources=sources, conditions=distortion_conditions(params, room)))
        return items

    def constants(self) -> dict:
        return {**recipe_constants(), "sound_speed": SOUND_SPEED,
                "pyroomacoustics_direct_offset": pra_direct_offset(),
                "roomsimove_direct_offset": ROOMSIMOVE_DIRECT_OFFSET,
                "snr_definition": self.config.snr_definition, "order": list(self.config.order),
                "segment_s": self.segment, "room_recipe": self.room_recipe,
                "distortion_config": self.config.to_dict(),
                "whamr_csv": getattr(self, "_whamr_csv", None)}

    def build(self, opts: BuildOptions) -> Path:
        seed = self.info.default_seed if opts.seed is None else opts.seed
        self._notes: list[str] = []
        items = self.plan(opts, seed)
        self.result: BuildResult = build_set(self, opts, items, seed,
                                             self.notes(self.speech(Path(opts.corpora))) + self._notes)
        return self.result.folder

    # --- render (from the manifest record alone) ---
    def render_item(self, corpora: Path, set_dir: Path, item: ManifestItem) -> dict:
        out = self.rerender(corpora, item)
        degraded, target = encode(self, out.degraded), encode(self, out.target)
        write_audio(set_dir / item.degraded, degraded, item.rate)
        write_audio(set_dir / item.target, target, item.rate)
        measured = dict(out.measured)
        if degraded.dtype == np.int16:       # the recorded peaks are the written files' peaks
            for key, y in (("peak_degraded", degraded), ("peak_target", target)):
                if key in measured:
                    measured[key] = float(np.max(np.abs(y.astype(np.float32) / 2 ** 15)))
        return measured

    def rerender(self, corpora: Path, item: ManifestItem):
        """The rendered arrays and components of one manifest item (for checks and the trainer)."""
        rate, p, src = item.rate, item.params, item.sources
        speech, r = read_audio(item.source(corpora, "speech"), mix_channels=True)
        speech = crop(resample(speech, r, rate), p["speech_offset"], p["length"])
        params = DistortionParams.from_dict(p["distortion"])
        noise = None
        if params.snr_db is not None:
            noise = crop(load_noise(corpora, src, rate), p["noise_offset"], p["length"], loop=True)
        rir = None
        if p.get("room"):
            rir = simulate_rir(RoomParams.from_dict(p["room"]))
        elif src.get("rir"):
            rir = load_rir_file(corpora, src["rir"], rate)
        # manifests written before the alignment was recorded were shifted by the direct path
        return render(speech, rate, params, noise, rir, rir_delay=p.get("rir_delay"),
                      reverb_alignment=p.get("reverb_alignment", "direct_path"))
