"""Training data: clean 44.1 kHz segments with their DAC codegrams and KD targets pre-extracted
and cached (002 Sec. III-A), degraded on the fly with the shared distortion pipeline
(`testsets.distortions`) at the papers' ranges. A batch is a pure function of (seed, step, rank),
so a resumed run sees exactly the batches an uninterrupted run would."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from benchmark.core.audio import read_audio, resample
from benchmark.core.errors import BenchmarkError
from benchmark.core.progress import progress
from systems.masksr.config import MaskSRConfig
from testsets.distortions import TRAIN_ORDER, DistortionConfig, render, sample_params

AUDIO_SUFFIXES = (".wav", ".flac")


def list_audio(dirs: list[str] | None, what: str) -> list[Path]:
    files: list[Path] = []
    for d in dirs or []:
        p = Path(d)
        if not p.exists():
            raise BenchmarkError(f"{what} folder {p} does not exist")
        files += sorted(f for f in ([p] if p.is_file() else p.rglob("*"))
                        if f.suffix.lower() in AUDIO_SUFFIXES)
    if dirs and not files:
        raise BenchmarkError(f"no .wav/.flac files found under the {what} folders {dirs}")
    return files


def load_at(path: Path, rate: int) -> np.ndarray:
    x, r = read_audio(path, mix_channels=True)
    return resample(x, r, rate)


def distortion_config(cfg: MaskSRConfig) -> DistortionConfig:
    """The MaskSR training ranges (001 Sec. 3.1, 002 Sec. III-A) on VoiceFixer's Algorithm 1."""
    return DistortionConfig(clip_range=tuple(cfg.clip), cutoff_range=tuple(cfg.bandwidth_hz),
                            snr_range=tuple(cfg.snr_db), p_reverb=cfg.p_reverb, order=TRAIN_ORDER)


@dataclass
class SegmentBank:
    """Clean segments (S, N), their codegrams (S, K, T) and KD targets (S, Th[, C]) or None."""
    waves: torch.Tensor
    codes: torch.Tensor
    kd: torch.Tensor | None

    def __len__(self) -> int:
        return self.waves.shape[0]


def cut_segments(x: np.ndarray, n: int) -> list[np.ndarray]:
    """Non-overlapping segments of n samples; a tail shorter than n/2 is dropped, a file shorter
    than n is zero-padded to one segment."""
    if len(x) < n:
        return [np.pad(x, (0, n - len(x)))]
    segs = [x[i:i + n] for i in range(0, len(x) - n + 1, n)]
    tail = len(x) % n
    if tail >= n // 2:
        segs.append(np.pad(x[-tail:], (0, n - tail)))
    return segs


def _bank_key(cfg: MaskSRConfig, files: list[Path]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([cfg.codec, cfg.kd_target, cfg.kd_teacher, cfg.segment_seconds, cfg.rate,
                           cfg.segments_per_file]).encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def build_segment_bank(cfg: MaskSRConfig, speech: list[Path], cache: Path, codec,
                       device: str = "cpu", is_main: bool = True) -> SegmentBank:
    """Pre-extract (or load from `cache`) codegrams and KD targets of every clean segment."""
    path = cache / f"segments-{_bank_key(cfg, speech)}.pt"
    if path.exists():
        blob = torch.load(path, map_location="cpu", weights_only=True)
        return SegmentBank(blob["waves"], blob["codes"], blob.get("kd"))
    if not is_main:
        raise BenchmarkError(f"segment cache {path} missing on a non-main rank")
    n = int(round(cfg.segment_seconds * cfg.rate))
    per_file = cfg.segments_per_file or None
    waves = [s for f in speech for s in cut_segments(load_at(f, cfg.rate), n)[:per_file]]
    teacher = None
    if cfg.kd_target != "none":
        from systems.masksr.kd import TeacherRunner
        teacher = TeacherRunner(cfg.kd_target, cfg.kd_teacher, cfg.rate, device)
    codes, kd = [], []
    for w in progress(waves, desc="pre-extract DAC codes / KD targets", unit="seg"):
        codes.append(codec.encode(torch.from_numpy(w)[None])[0].to(torch.int16).cpu())
        if teacher is not None:
            kd.append(torch.from_numpy(teacher(w)))
    bank = SegmentBank(torch.from_numpy(np.stack(waves)), torch.stack(codes),
                       torch.stack(kd) if kd else None)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    torch.save({"waves": bank.waves, "codes": bank.codes, **({"kd": bank.kd} if kd else {})}, tmp)
    tmp.replace(path)
    return bank


class NoiseRirPools:
    """Noise recordings and RIRs at the training rate; RIRs simulated (VoiceFixer rooms,
    `testsets.rir`) when no folder is given."""

    def __init__(self, cfg: MaskSRConfig, noise: list[Path], rirs: list[Path], simulated: int, seed: int):
        self.noises = [load_at(f, cfg.rate) for f in noise]
        if rirs:
            self.rirs = [load_at(f, cfg.rate) for f in rirs]
        else:
            from testsets.rir import sample_voicefixer_room, simulate_rir
            rng = np.random.default_rng([seed, 7])
            self.rirs = [simulate_rir(sample_voicefixer_room(rng, cfg.rate))
                         for _ in progress(range(simulated), desc="simulate RIRs", unit="rir")]

    def noise_for(self, rng: np.random.Generator, n: int) -> np.ndarray:
        x = self.noises[int(rng.integers(len(self.noises)))]
        if len(x) < n:
            x = np.tile(x, -(-n // len(x)))
        start = int(rng.integers(0, len(x) - n + 1))
        return x[start:start + n]


class BatchMaker:
    """batch(step, rank) -> (degraded (B, N), codes (B, K, T), kd targets or None)."""

    def __init__(self, cfg: MaskSRConfig, bank: SegmentBank, pools: NoiseRirPools, batch: int):
        self.cfg, self.bank, self.pools, self.batch = cfg, bank, pools, batch
        self.dcfg = distortion_config(cfg)

    def degrade(self, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        params = sample_params(rng, self.dcfg)
        rir = self.pools.rirs[int(rng.integers(len(self.pools.rirs)))] if params.reverb else None
        noise = self.pools.noise_for(rng, len(clean)) if params.snr_db is not None else None
        out = render(clean, self.cfg.rate, params, noise=noise, rir=rir)
        # the target codegram is of the clean segment as cached; keep the input at its level
        scale = np.abs(clean).max() / max(np.abs(out.target).max(), 1e-8)
        return (out.degraded * scale).astype(np.float32)

    def _degradation_rng(self, rng: np.random.Generator, segment: int) -> np.random.Generator:
        if not self.cfg.fixed_degradations:
            return rng
        k = int(rng.integers(self.cfg.fixed_degradations))
        return np.random.default_rng([self.cfg.seed, 1, segment, k])

    def __call__(self, step: int, rank: int = 0):
        rng = np.random.default_rng([self.cfg.seed, step, rank])
        idx = rng.integers(len(self.bank), size=self.batch)
        degraded = [self.degrade(self.bank.waves[i].numpy(), self._degradation_rng(rng, int(i)))
                    for i in idx]
        kd = self.bank.kd[idx] if self.bank.kd is not None else None
        return torch.from_numpy(np.stack(degraded)), self.bank.codes[idx].long(), kd
