"""Training data: clean 44.1 kHz segments with their DAC codegrams and KD targets pre-extracted
into shards (`prepare.py`, 002 Sec. III-A), degraded on the fly by `augment.py` (VoiceFixer's
training pipeline as its code at 0c206f7 runs it, with 001/002's ranges; `cfg.degradation`).

- `StepBatches` is a map-style dataset indexed by the training step: DataLoader workers build
  whole batches, reading segments from the shards (pread) and noise / RIRs from disk. Item j of
  step s on rank r is drawn from `default_rng([seed, s, r, j])`: a batch is a pure function of
  (seed, step, rank), whichever worker builds it and however many workers there are, so a
  resumed run sees exactly the batches an uninterrupted run would.
- Sampling is epoch-wise without replacement: per epoch a seeded permutation of the shards, items
  shuffled within blocks of `shuffle_block` consecutive shards (default 64: a batch draws from up
  to 64 shards, whose files `prepare` shuffled across shards, so from many speakers; the block's
  shard indexes stay cached), and rank r of W takes positions r, r + W, ... of that order, so
  ranks see disjoint items.
- Random gain q: the input is the degraded signal times q and the target is the codegram of q
  times the clean segment (pre-extracted on a gain grid, see `prepare.py`)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from benchmark.core.audio import resample
from benchmark.core.errors import BenchmarkError
from benchmark.core.progress import progress
from systems.masksr.config import MaskSRConfig
from systems.masksr.segments import AUDIO_SUFFIXES, cut_segments, list_audio, load_at  # noqa: F401
from testsets.distortions import TRAIN_ORDER, DistortionConfig


def distortion_config(cfg: MaskSRConfig) -> DistortionConfig:
    """The trainer's distribution before issue 25 (Algorithm 1's text probabilities, 1-Hz cutoffs,
    `testsets.distortions`), kept as the reference the speed and KS benchmarks compare against."""
    return DistortionConfig(clip_range=tuple(cfg.clip), cutoff_range=tuple(cfg.bandwidth_hz),
                            snr_range=tuple(cfg.snr_db), p_reverb=0.25, order=TRAIN_ORDER)


def train_distribution(cfg: MaskSRConfig, gains: np.ndarray | None = None):
    """`cfg.degradation`'s probabilities with the config's ranges (001 Sec. 3.1, 002 Sec. III-A)
    and reverb probability; the gain range is the prepared grid's (Qlow, Qhigh) when given."""
    from systems.masksr.augment import get_distribution
    try:
        base = get_distribution(cfg.degradation)
    except ValueError as exc:
        raise BenchmarkError(str(exc)) from None
    changes = dict(clip_range=tuple(cfg.clip), cutoff_range=tuple(cfg.bandwidth_hz),
                   snr_range=tuple(cfg.snr_db), p_reverb=cfg.p_reverb)
    if gains is not None:
        changes["gain_range"] = _gain_range(np.asarray(gains, dtype=np.float32))
    return dataclasses.replace(base, **changes)


class ShardSource:
    """The items of one split of a prepared folder, read from its shards on demand."""

    def __init__(self, root: str | Path, split: str = "train", cache: int = 8):
        from systems.masksr.prepare import load_index
        from systems.masksr.shards import ShardSet
        self.root = Path(root)
        self.index = load_index(root)
        entries = self.index["splits"].get(split, [])
        self.split = split
        self.shards = ShardSet(self.root, [e["shard"] for e in entries], [e["items"] for e in entries], cache)
        self.shards.check_sizes([e.get("bytes") for e in entries])
        self.gains = np.asarray(self.index["key"]["gains"], dtype=np.float32)

    def __len__(self) -> int:
        return len(self.shards)

    @property
    def shard_counts(self) -> np.ndarray:
        return self.shards.counts

    def item(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        from systems.masksr.prepare import PCM_SCALE
        r = self.shards.read(i)
        return (r.pcm.astype(np.float32) / PCM_SCALE, r.codes,
                r.kd.astype(np.float32) if r.kd is not None and r.kd.dtype == np.float16 else r.kd)


def prepared_dir(cfg: MaskSRConfig, speech: list[Path], cache: Path) -> Path:
    """Where `train --speech` keeps the shards it prepares from speech folders."""
    from systems.masksr.prepare import PrepareOptions, data_key, files_digest
    key = json.dumps([data_key(cfg, PrepareOptions()), files_digest(speech)], sort_keys=True)
    return cache / f"shards-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def _read_noise(path: Path, start: int, frames: int) -> np.ndarray:
    import soundfile as sf
    try:
        x, _ = sf.read(str(path), start=start, frames=frames, dtype="float32", always_2d=True)
    except Exception as exc:
        raise BenchmarkError(f"{path}: cannot read noise audio ({exc})") from exc
    return x.mean(axis=1)


class NoiseRirPools:
    """Noise recordings and RIRs read from disk when drawn (only file names and lengths are held);
    RIRs simulated (VoiceFixer rooms, `testsets.rir`) when no folder is given.

    Noise at another rate than the training rate is resampled once per file, not per draw: the
    files that fit in `noise_cache_mb` (smallest first: most draws served) are read whole and
    resampled when first drawn, then kept; an excerpt is a slice of that. The others are read as
    an excerpt (soundfile seek) and resampled per draw. Which files are kept depends only on the
    file list, never on what was drawn before, so an item's noise is a pure function of its
    seed. Both give the same excerpt of the same file up to a sub-sample offset (the start drawn
    at the file's rate, floored to the training rate) and the resampler's start transient (which
    the kept file has not)."""

    def __init__(self, cfg: MaskSRConfig, noise: list[Path], rirs: list[Path], simulated: int, seed: int,
                 rir_cache: int = 64, noise_cache_mb: float = 256.0):
        import soundfile as sf
        self.rate = cfg.rate
        self.noise_files = [Path(f) for f in noise]
        infos = [sf.info(str(f)) for f in self.noise_files]
        self.noise_frames = np.array([i.frames for i in infos], dtype=np.int64)
        self.noise_rates = np.array([i.samplerate for i in infos], dtype=np.int64)
        resampled = np.where(self.noise_rates != self.rate,
                             4 * -(-self.noise_frames * self.rate // np.maximum(self.noise_rates, 1)), 0)
        order = np.argsort(resampled, kind="stable")          # smallest first
        kept = np.cumsum(resampled[order]) <= noise_cache_mb * 2 ** 20
        self._noise_kept = {int(k) for k in order[kept] if resampled[k] > 0}
        self._noise_cache: dict[int, np.ndarray] = {}
        self.rir_files = [Path(f) for f in rirs]
        self._rir_cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._rir_cache_size = rir_cache
        self.simulated: list[np.ndarray] = []
        if not rirs:
            from testsets.rir import sample_voicefixer_room, simulate_rir
            rng = np.random.default_rng([seed, 7])
            self.simulated = [simulate_rir(sample_voicefixer_room(rng, cfg.rate))
                              for _ in progress(range(simulated), desc="simulate RIRs", unit="rir")]

    @property
    def n_rirs(self) -> int:
        return len(self.rir_files) or len(self.simulated)

    def rir(self, i: int) -> np.ndarray:
        if not self.rir_files:
            return self.simulated[i]
        x = self._rir_cache.pop(i, None)
        if x is None:
            x = load_at(self.rir_files[i], self.rate)
        self._rir_cache[i] = x
        while len(self._rir_cache) > self._rir_cache_size:
            self._rir_cache.popitem(last=False)
        return x

    def rir_for(self, rng: np.random.Generator) -> np.ndarray:
        return self.rir(int(rng.integers(self.n_rirs)))

    def _whole_noise(self, k: int) -> np.ndarray:
        """File k whole at the training rate (resampled once, kept when k is in the kept set)."""
        x = self._noise_cache.get(k)
        if x is None:
            rate = int(self.noise_rates[k])
            x = _read_noise(self.noise_files[k], 0, int(self.noise_frames[k]))
            x = resample(x, rate, self.rate) if rate != self.rate else x
            if k in self._noise_kept:
                x.flags.writeable = False          # slices are copied out; the kept file stays as read
                self._noise_cache[k] = x
        return x

    def noise_for(self, rng: np.random.Generator, n: int) -> np.ndarray:
        k = int(rng.integers(len(self.noise_files)))
        rate, frames = int(self.noise_rates[k]), int(self.noise_frames[k])
        need = -(-n * rate // self.rate) + 64 if rate != self.rate else n
        if frames <= need:
            x = self._whole_noise(k)
            x = np.tile(x, -(-n // len(x)))
            start = int(rng.integers(0, len(x) - n + 1))
            return x[start:start + n]
        start = int(rng.integers(0, frames - need + 1))
        if k in self._noise_kept:
            x = self._whole_noise(k)
            start = start * self.rate // rate
            return np.pad(x[start:start + n], (0, max(0, start + n - len(x))))
        x = _read_noise(self.noise_files[k], start, need)
        x = resample(x, rate, self.rate) if rate != self.rate else x
        if len(x) < n:
            x = np.pad(x, (0, n - len(x)))
        return x[:n]


def degrade_item(cfg: MaskSRConfig, dist, gains: np.ndarray, pools: NoiseRirPools,
                 clean: np.ndarray, codes: np.ndarray, rng: np.random.Generator, gain_bin: int | None = None):
    """One training pair (`augment.sample` + `augment.render`): (degraded input, target codegram,
    target waveform, drawn parameters).

    `render` leaves the pair at voicefixer_main's level: both divided by their common peak, then
    times q ~ U(Qlow, Qhigh), so the target's level is t = q / max(1, peak of the degraded mix).
    The pair is then scaled by one factor so that the target's level is the grid gain nearest to
    t (whose codegram was pre-extracted): input / target ratio untouched, level within half a
    bin (0.044 for 8 bins) of voicefixer_main's, except below the grid. `gain_bin` fixes the bin."""
    from systems.masksr.augment import render, sample
    params = sample(rng, dist)
    rir = pools.rir_for(rng) if params.reverb else None
    noise = pools.noise_for(rng, len(clean)) if params.snr_db is not None else None
    degraded, target = render(clean, cfg.rate, params, dist, noise=noise, rir=rir)
    level = float(np.max(np.abs(target))) / max(float(np.max(np.abs(clean))), 1e-12)
    if level <= 0:
        level = params.gain
    g = int(np.argmin(np.abs(gains - level))) if gain_bin is None else gain_bin
    scale = np.float32(gains[g] / level)
    return (degraded * scale).astype(np.float32), codes[g], (target * scale).astype(np.float32), params


def _gain_range(gains: np.ndarray) -> tuple[float, float]:
    """(Qlow, Qhigh) of a grid of bin centres."""
    step = float(gains[1] - gains[0]) if len(gains) > 1 else 0.0
    if not step:
        return float(gains[0]), float(gains[0]) + 1e-6
    return float(gains[0]) - step / 2, float(gains[-1]) + step / 2


class ItemMaker:
    """Degraded training pairs of a source (a ShardSource or alike) by global item position."""

    def __init__(self, cfg: MaskSRConfig, source, pools: NoiseRirPools):
        self.cfg, self.source, self.pools = cfg, source, pools
        self.gains = np.asarray(source.gains, dtype=np.float32)
        self.distribution = train_distribution(cfg, self.gains)
        from systems.masksr.augment import warm_designs
        warm_designs(self.distribution, cfg.rate)

    def degradation_rng(self, rng: np.random.Generator, position: int) -> np.random.Generator:
        if not self.cfg.fixed_degradations:
            return rng
        k = int(rng.integers(self.cfg.fixed_degradations))
        return np.random.default_rng([self.cfg.seed, 1, position, k])

    def gain_bin(self, position: int) -> int | None:
        # overfitting / debugging mode: one gain per segment, so a segment keeps one target
        return (int(np.random.default_rng([self.cfg.seed, 4, position]).integers(len(self.gains)))
                if self.cfg.fixed_degradations else None)

    def pair(self, position: int, rng: np.random.Generator):
        """(degraded input, target waveform, target codegram, KD target) of one item."""
        clean, codes, kd = self.source.item(position)
        gain_bin = self.gain_bin(position)
        wave, target_codes, target, _ = degrade_item(self.cfg, self.distribution, self.gains, self.pools,
                                                     clean, codes, self.degradation_rng(rng, position), gain_bin)
        return wave, target, target_codes, kd

    def __call__(self, position: int, rng: np.random.Generator):
        wave, _, codes, kd = self.pair(position, rng)
        return wave, codes, kd

    def batch(self, positions, rngs) -> dict:
        items = [self(int(p), r) for p, r in zip(positions, rngs, strict=True)]
        kd = [k for *_, k in items]
        return {"wave": torch.from_numpy(np.stack([w for w, *_ in items])),
                "codes": torch.from_numpy(np.stack([c for _, c, _ in items]).astype(np.int64)),
                "kd": torch.from_numpy(np.stack(kd)) if kd[0] is not None else None,
                "positions": torch.as_tensor(np.asarray(positions, dtype=np.int64))}

    def raw_batch(self, positions, rngs) -> dict:
        """What a worker hands over when the training device renders (`render_on_device`): clean
        segments, every gain's codegram, KD targets, the drawn parameters, noise and RIRs. The
        draws are those `batch` makes (same generator calls in the same order)."""
        from systems.masksr.augment import sample
        clean, codes, kds, params, noises, rirs, bins = [], [], [], [], [], [], []
        for p, r in zip(positions, rngs, strict=True):
            c, cg, kd = self.source.item(int(p))
            r = self.degradation_rng(r, int(p))
            q = sample(r, self.distribution)
            rirs.append(self.pools.rir_for(r) if q.reverb else None)
            noises.append(self.pools.noise_for(r, len(c)) if q.snr_db is not None else np.zeros(len(c), np.float32))
            clean.append(c)
            codes.append(cg)
            kds.append(kd)
            params.append(q)
            b = self.gain_bin(int(p))
            bins.append(-1 if b is None else b)
        return {"clean": torch.from_numpy(np.stack(clean)), "codes_all": torch.from_numpy(np.stack(codes)),
                "kd": torch.from_numpy(np.stack(kds)) if kds[0] is not None else None, "params": params,
                "noise": torch.from_numpy(np.stack(noises)), "rirs": rirs,
                "gain_bins": torch.as_tensor(bins, dtype=torch.int64),
                "positions": torch.as_tensor(np.asarray(positions, dtype=np.int64))}


def render_on_device(raw: dict, maker: ItemMaker, device) -> dict:
    """A `raw_batch` rendered on `device` by `augment_torch.render_batch`, then levelled onto the
    gain grid as `degrade_item` does: the same keys as `ItemMaker.batch`."""
    from systems.masksr.augment_torch import render_batch
    clean = raw["clean"].to(device, non_blocking=True)
    noise = raw["noise"].to(device, non_blocking=True)
    degraded, target = render_batch(clean, raw["params"], maker.distribution, maker.cfg.rate, noise, raw["rirs"])
    gains = torch.as_tensor(maker.gains, device=device)
    level = target.abs().amax(dim=1) / clean.abs().amax(dim=1).clamp(min=1e-12)
    level = torch.where(level > 0, level, torch.tensor([p.gain for p in raw["params"]], device=device))
    fixed = raw["gain_bins"].to(device)
    g = torch.where(fixed >= 0, fixed, (gains[None, :] - level[:, None]).abs().argmin(dim=1))
    wave = degraded * (gains[g] / level)[:, None]
    codes = raw["codes_all"].to(device)[torch.arange(len(g), device=device), g].long()
    kd = raw["kd"].to(device, non_blocking=True) if raw["kd"] is not None else None
    return {"wave": wave.float(), "codes": codes, "kd": kd, "positions": raw["positions"]}


def epoch_order(counts: np.ndarray, seed: int, epoch: int, block: int) -> np.ndarray:
    """Global item positions of one epoch: shards in a seeded order, items shuffled within blocks
    of `block` consecutive shards of that order."""
    rng = np.random.default_rng([seed, 2, epoch])
    starts = np.concatenate([[0], np.cumsum(counts)])
    shards = rng.permutation(len(counts))
    parts = []
    for b in range(0, len(shards), block):
        pos = np.concatenate([np.arange(starts[s], starts[s + 1]) for s in shards[b:b + block]])
        parts.append(rng.permutation(pos))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


class StepBatches(torch.utils.data.Dataset):
    """dataset[step] -> this rank's batch of step `step` (see the module docstring)."""

    def __init__(self, maker: ItemMaker, batch: int, rank: int = 0, world: int = 1,
                 shuffle_block: int = 64, steps: int | None = None, device_render: bool = False):
        self.maker, self.batch, self.rank, self.world = maker, batch, rank, world
        self.device_render = device_render        # True: raw batches for `render_on_device`
        self.block, self.steps = shuffle_block, steps
        shards = getattr(maker.source, "shards", None)
        if shards is not None:                  # a block's shard indexes stay loaded
            shards.keep_at_least(shuffle_block)
        counts = getattr(maker.source, "shard_counts", None)
        self.counts = np.asarray(counts if counts is not None else [len(maker.source)], dtype=np.int64)
        self.per_rank = int(self.counts.sum()) // world
        if self.per_rank < 1:
            raise BenchmarkError(f"{int(self.counts.sum())} training segments cannot feed {world} processes")
        self._order: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return self.steps if self.steps is not None else 1 << 62

    def positions(self, step: int) -> np.ndarray:
        out = np.empty(self.batch, dtype=np.int64)
        for j in range(self.batch):
            p = step * self.batch + j
            epoch, i = divmod(p, self.per_rank)
            if self._order is None or self._order[0] != epoch:
                self._order = (epoch, epoch_order(self.counts, self.maker.cfg.seed, epoch, self.block))
            out[j] = self._order[1][i * self.world + self.rank]
        return out

    def __getitem__(self, step: int) -> dict:
        from systems.masksr.shards import ShardError
        seed = self.maker.cfg.seed
        rngs = [np.random.default_rng([seed, step, self.rank, j]) for j in range(self.batch)]
        try:
            make = self.maker.raw_batch if self.device_render else self.maker.batch
            return make(self.positions(step), rngs)
        except ShardError as exc:          # handed to the main process as one clear message
            return {"error": str(exc)}
