"""`train prepare`: sharded, resumable pre-extraction of the clean training segments, their DAC
codegrams and KD targets (002 Sec. III-A: "We pre-extract from the target speech the DAC codegram
and the HuBERT targets before the online data creation").

- Work is cut into shard jobs of `files_per_shard` speech files (a job's content depends only on
  its files, so jobs are planned without reading audio). The files are first put in a seeded
  random order (`shuffle_seed`), so every shard holds files of many speakers and corpora, not a
  run of one folder: the trainer's batches, drawn from a block of shards, see many speakers. Jobs run in a process pool (CPU) or are
  split over torchrun ranks (one GPU each, `job % WORLD_SIZE == RANK`, no collective calls, so
  no barrier timeout however long it takes). A finished shard is skipped on a re-run; a killed
  job loses only the shards in progress (see `shards.py`).
- Segments are peak-normalised (Algorithm 1 normalises the clean speech first) and stored as
  16-bit FLAC; codegrams are computed from exactly the stored samples, batched (`batch`
  segments x the gain grid per DAC call).
- Random gain q (Algorithm 1, 003 App. C.2: "we randomly conduct a q ~ U(Qlow, Qhigh) scaling to
  the input and target data pair"): DAC is not scale-equivariant (its codegram of q*s differs from
  that of s; measured in tests), so the target codegram is pre-extracted at each of `cfg.gain_bins` grid
  gains, the centres of equal bins of [0.3, 1.0]; the trainer renders the pair at Algorithm 1's
  level and snaps it to the nearest bin (`data.degrade_item`), input and target by one factor. The KD targets are extracted
  once, at q = 1: HuBERT's first conv layer has no bias and is followed by a per-channel
  GroupNorm (feat_extract_norm="group", conv_bias=False), so its features depend on q only
  through GroupNorm's eps (measured with the tiny random teacher: RMS difference 0.02-0.034 of
  the unit-variance targets between q = 0.34 and 0.96, against 1.40 between two segments), and
  the spectral targets are per-channel normalised (RMS difference 1.5e-5).
- A held-out dev split (whole files, drawn by a seeded permutation, or given folders) for
  validation and the guidance sweep.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from benchmark.core.errors import BenchmarkError
from benchmark.core.files import atomic_write
from benchmark.core.progress import progress
from systems.masksr.config import MaskSRConfig
from systems.masksr.shards import SegmentRecord, read_sidecar, shard_name, write_shard

INDEX = "index.json"
KEY_FILE = "prepare.json"
PCM_SCALE = 32767.0


@dataclass(frozen=True)
class PrepareOptions:
    files_per_shard: int = 64
    batch: int = 8                     # segments per DAC / teacher call (x gains for DAC)
    workers: int = 1                   # process-pool size (CPU); under torchrun: one per rank
    gain_range: tuple[float, float] = (0.3, 1.0)   # Algorithm 1's (Qlow, Qhigh), 003 App. C.2
    dev_fraction: float = 0.0          # share of speech files held out as the dev split
    split_seed: int = 0
    shuffle_seed: int = 0              # the files' order across shards (a seeded permutation)


def gain_grid(bins: int, opts: PrepareOptions | None = None) -> np.ndarray:
    """Centres of `bins` equal bins of Algorithm 1's (Qlow, Qhigh)."""
    lo, hi = (opts or PrepareOptions()).gain_range
    return (lo + (np.arange(bins) + 0.5) * (hi - lo) / bins).astype(np.float32)


@dataclass(frozen=True)
class ShardJob:
    split: str
    index: int
    files: tuple[str, ...]

    @property
    def name(self) -> str:
        return shard_name(self.split, self.index)


def data_key(cfg: MaskSRConfig, opts: PrepareOptions) -> dict:
    """What the shards' contents depend on; a prepared folder serves configs with the same key."""
    return {"codec": cfg.codec, "rate": cfg.rate, "segment_seconds": cfg.segment_seconds,
            "segments_per_file": cfg.segments_per_file, "kd_target": cfg.kd_target,
            "kd_teacher": cfg.kd_teacher if cfg.kd_target != "none" else None,
            "gains": [round(float(g), 6) for g in gain_grid(cfg.gain_bins, opts)]}


def files_digest(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def shuffle_files(files: list[Path], seed: int) -> list[Path]:
    """The files in a seeded random order (independent of the order they were listed in)."""
    ordered = sorted(files, key=str)
    return [ordered[i] for i in np.random.default_rng([seed, 13]).permutation(len(ordered))]


def plan(train_files: list[Path], dev_files: list[Path], opts: PrepareOptions) -> list[ShardJob]:
    jobs = []
    for split, files in (("train", shuffle_files(train_files, opts.shuffle_seed)),
                         ("dev", shuffle_files(dev_files, opts.shuffle_seed))):
        for i in range(0, len(files), opts.files_per_shard):
            jobs.append(ShardJob(split, i // opts.files_per_shard,
                                 tuple(str(f) for f in files[i:i + opts.files_per_shard])))
    return jobs


def split_dev(files: list[Path], opts: PrepareOptions) -> tuple[list[Path], list[Path]]:
    if opts.dev_fraction <= 0:
        return files, []
    n_dev = max(1, int(round(opts.dev_fraction * len(files))))
    if n_dev >= len(files):
        raise BenchmarkError(f"dev fraction {opts.dev_fraction} leaves no training files out of {len(files)}")
    perm = np.random.default_rng([opts.split_seed, 11]).permutation(len(files))
    dev = set(perm[:n_dev].tolist())
    return ([f for i, f in enumerate(files) if i not in dev], [f for i, f in enumerate(files) if i in dev])


class Extractor:
    """Codec (+ KD teacher) of one process: turns a shard job into segment records."""

    def __init__(self, cfg: MaskSRConfig, opts: PrepareOptions, device: str = "cpu", codec=None):
        from systems.masksr.codec import Codec
        self.cfg, self.opts, self.device = cfg, opts, device
        self.codec = codec if codec is not None else Codec(cfg.codec, device)
        self.gains = gain_grid(cfg.gain_bins, opts)
        self.teacher = None
        if cfg.kd_target != "none":
            from systems.masksr.kd import TeacherRunner
            self.teacher = TeacherRunner(cfg.kd_target, cfg.kd_teacher, cfg.rate, device)

    def segments(self, job: ShardJob) -> list[tuple[np.ndarray, dict]]:
        from systems.masksr.segments import cut_segments, load_at
        n = int(round(self.cfg.segment_seconds * self.cfg.rate))
        per_file = self.cfg.segments_per_file or None
        out = []
        for f in job.files:
            for k, seg in enumerate(cut_segments(load_at(Path(f), self.cfg.rate), n)[:per_file]):
                peak = float(np.max(np.abs(seg)))
                pcm = np.round(seg / peak * PCM_SCALE) if peak > 0 else np.zeros(n)
                out.append((pcm.astype(np.int16), {"file": f, "start": k * n, "peak": round(peak, 6)}))
        return out

    def codes(self, pcm: np.ndarray) -> np.ndarray:
        """(B, N) int16 -> (B, G, K, T) int16 codegrams of q * x for each grid gain q."""
        import torch
        x = torch.from_numpy(pcm.astype(np.float32) / PCM_SCALE)
        g = torch.from_numpy(self.gains)
        waves = (x[:, None, :] * g[None, :, None]).reshape(-1, x.shape[-1])
        codes = self.codec.encode(waves).to(torch.int16).cpu().numpy()
        return codes.reshape(x.shape[0], len(self.gains), *codes.shape[1:])

    def kd(self, pcm: np.ndarray) -> list[np.ndarray | None]:
        if self.teacher is None:
            return [None] * len(pcm)
        import torch

        from benchmark.core.audio import resample
        from systems.masksr.kd import HUBERT_RATE
        waves = pcm.astype(np.float32) / PCM_SCALE
        t = self.teacher
        if t.target.compute is not None:
            targets = [t.target.compute(w, self.cfg.rate) for w in waves]
        else:
            x16 = np.stack([resample(w, self.cfg.rate, HUBERT_RATE) for w in waves])
            with torch.inference_mode():
                out = t.model(torch.from_numpy(x16).to(t.device), output_hidden_states=True)
            hs = [h.float().cpu().numpy() for h in out.hidden_states]
            targets = [t.target.extract([h[b] for h in hs], t.kmeans) for b in range(len(waves))]
        dtype = np.int16 if t.target.loss == "ce" else np.float16
        return [np.asarray(v).astype(dtype) for v in targets]

    def records(self, job: ShardJob) -> list[SegmentRecord]:
        segs = self.segments(job)
        records = []
        for i in range(0, len(segs), self.opts.batch):
            chunk = segs[i:i + self.opts.batch]
            pcm = np.stack([p for p, _ in chunk])
            for j, (codes, kd) in enumerate(zip(self.codes(pcm), self.kd(pcm), strict=True)):
                n = i + j
                records.append(SegmentRecord(f"{job.split}-{job.index:06d}-{n:05d}", pcm[j], codes, kd,
                                             chunk[j][1]))
        return records

    def run(self, job: ShardJob, out: Path) -> dict:
        return write_shard(out / job.name, self.records(job), self.cfg.rate,
                           {"split": job.split, "index": job.index, "files": list(job.files)})


_WORKER: Extractor | None = None


def _pool_init(cfg_dict: dict, opts_dict: dict, threads: int) -> None:
    import torch
    global _WORKER
    torch.set_num_threads(threads)
    opts = PrepareOptions(**{**opts_dict, "gain_range": tuple(opts_dict["gain_range"])})
    _WORKER = Extractor(MaskSRConfig.from_dict(cfg_dict), opts)


def _pool_run(job: ShardJob, out: str) -> dict:
    assert _WORKER is not None
    return _WORKER.run(job, Path(out))


def _check_key(out: Path, key: dict) -> None:
    path = out / KEY_FILE
    if path.exists():
        have = json.loads(path.read_text())
        if have != key:
            diff = sorted(k for k in set(have) | set(key) if have.get(k) != key.get(k))
            raise BenchmarkError(f"{out} was prepared with different settings ({', '.join(diff)}): "
                                 f"use a new folder for these settings")
    else:
        atomic_write(path, json.dumps(key, indent=1, sort_keys=True))


def _write_index(out: Path, key: dict, jobs: list[ShardJob]) -> dict | None:
    splits: dict[str, list] = {"train": [], "dev": []}
    for job in jobs:
        info = read_sidecar(out / job.name)
        if info is None:
            return None
        splits[job.split].append({"shard": job.name, "items": info["items"], "bytes": info["bytes"]})
    index = {"key": key, "splits": splits}
    atomic_write(out / INDEX, json.dumps(index, indent=1))
    return index


def prepare(cfg: MaskSRConfig, speech: list[Path], out: str | Path, opts: PrepareOptions | None = None,
            dev_speech: list[Path] | None = None, device: str | None = None, codec=None) -> dict | None:
    """Pre-extract every pending shard of `speech` into `out`; returns the index once every shard
    of the plan exists (None on a torchrun rank whose peers are still working)."""
    opts = opts or PrepareOptions()
    out = Path(out)
    key = data_key(cfg, opts)
    if dev_speech:
        train_files, dev_files = list(speech), list(dev_speech)
    else:
        train_files, dev_files = split_dev(list(speech), opts)
    key["files"] = {"train": files_digest(train_files), "dev": files_digest(dev_files)}
    key["shuffle_seed"] = opts.shuffle_seed
    _check_key(out, key)
    jobs = plan(train_files, dev_files, opts)
    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    pending = [j for n, j in enumerate(jobs) if n % world == rank and read_sidecar(out / j.name) is None]
    if pending:
        bar = progress(total=len(pending), desc="pre-extract shards", unit="shard")
        if opts.workers > 1 and world == 1:
            import multiprocessing as mp
            threads = max(1, (os.cpu_count() or 1) // opts.workers)
            with ProcessPoolExecutor(opts.workers, mp_context=mp.get_context("spawn"),
                                     initializer=_pool_init,
                                     initargs=(cfg.to_dict(), asdict(opts), threads)) as pool:
                for fut in as_completed([pool.submit(_pool_run, j, str(out)) for j in pending]):
                    fut.result()
                    bar.update(1)
        else:
            import torch
            if device is None:
                local = int(os.environ.get("LOCAL_RANK", "0"))
                device = f"cuda:{local}" if torch.cuda.is_available() else "cpu"
            ex = Extractor(cfg, opts, device, codec)
            for job in pending:
                ex.run(job, out)
                bar.update(1)
        bar.close()
    return _write_index(out, key, jobs)


def load_index(root: str | Path) -> dict:
    path = Path(root) / INDEX
    if not path.exists():
        raise BenchmarkError(f"{root} holds no prepared training data ({INDEX} missing): run "
                             f"`python -m benchmark train prepare NAME --speech DIR... --out {root}` "
                             f"(re-running it finishes an interrupted preparation)")
    return json.loads(path.read_text())


def check_compatible(index: dict, cfg: MaskSRConfig, root: str | Path) -> None:
    key = index["key"]
    want = data_key(cfg, PrepareOptions())
    bad = [k for k in want if k != "gains" and want[k] != key.get(k)]     # gains: the data's own grid
    if bad:
        raise BenchmarkError(f"{root} was prepared for {', '.join(f'{k}={key.get(k)}' for k in bad)}, "
                             f"but {cfg.name} needs {', '.join(f'{k}={want[k]}' for k in bad)}")
