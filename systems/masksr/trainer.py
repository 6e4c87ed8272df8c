"""The MaskSR / MaskSR2 trainer: CPU, one GPU, or several with torchrun (DDP); Adam, masked CE
(+ unweighted KD loss), checkpoints every N steps and an exact resume; training data streamed from
prepared shards (`prepare.py`) with degradation in DataLoader workers (`data.StepBatches`);
validation on the dev split; warmup / clipping / EMA / precision options (`train_options.py`);
logs in `train_log.jsonl` and TensorBoard.

Exact resume: every random draw of step s (batch items, degradation, mask, CFG drop) comes from
generators seeded by (seed, s, rank[, slot]), and the checkpoint holds weights, BatchNorm
statistics, the Adam state, the EMA and the loss scaler, so N + N resumed steps equal 2N
uninterrupted steps, also across a SIGKILL (tested with torchrun).

DDP: the masked CE is a sum over this rank's masked positions divided by the masked count of the
whole global batch (all-reduced) times the world size, so the averaged DDP gradient equals the
gradient of a single process on the concatenated batch (tested within 1e-6); the papers do not
say how they normalise across GPUs."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from benchmark.core.errors import BenchmarkError
from benchmark.core.files import atomic_target
from benchmark.core.progress import progress
from systems.masksr.config import MaskSRConfig
from systems.masksr.kd import kd_loss
from systems.masksr.strategies import get_strategy
from systems.masksr.train_options import EMA, TrainOptions, autocast, lr_at, resolve_precision

CHECKPOINT = "checkpoint.pt"


KILL_ENV = "BENCHMARK_TEST_KILL_AT_STEP"   # tests: SIGKILL the whole job when this step starts


@dataclass
class StepStats:
    step: int
    loss: float
    ce: float
    kd: float
    accuracy: list[float]          # masked-token accuracy per codebook

    def to_dict(self) -> dict:
        return {"step": self.step, "loss": self.loss, "ce": self.ce, "kd": self.kd,
                "accuracy": self.accuracy}


def step_generator(seed: int, step: int, rank: int, device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed((seed * 1_000_003 + step) * 1009 + rank)


def draw_masks(strategy, codes: torch.Tensor, cfg: MaskSRConfig, step: int, rank: int):
    """The training mask and the CFG drop flags of step `step` on rank `rank`."""
    gen = step_generator(cfg.seed, step, rank, codes.device)
    mask = strategy.training_mask(codes, cfg, gen)
    drop = torch.rand(codes.shape[0], generator=gen, device=codes.device) < cfg.cfg_dropout
    return mask, drop


def step_loss(net, cfg: MaskSRConfig, strategy, wave, codes, kd_target, mask, drop, precision: str,
              world: int = 1):
    """(loss to back-propagate, local CE, KD, per-codebook accuracy) of one batch. With world > 1
    the CE is normalised by the global masked count (see the module docstring)."""
    kd_frames = kd_target.shape[1] if kd_target is not None else None
    inputs = strategy.lm_inputs(codes, mask, cfg.codebook_size)
    with autocast(precision, wave.device):
        logits, kd_pred = net(wave, inputs, drop, kd_frames)
    lf = logits.float()
    ce_sum = torch.nn.functional.cross_entropy(lf[mask], codes[mask], reduction="sum")
    count = mask.sum().float()
    with torch.no_grad():
        hit = (lf.argmax(-1) == codes) & mask
        acc = hit.sum(dim=(0, 2)).float() / mask.sum(dim=(0, 2)).clamp(min=1).float()
    total = count.detach().clone()
    if world > 1:
        dist.all_reduce(total)
    ce_global = ce_sum * world / total.clamp(min=1)
    if kd_pred is not None:
        target = kd_target if kd_target.is_floating_point() else kd_target.long()
        kd = kd_loss(cfg.kd_target, kd_pred, target)
    else:
        kd = ce_sum.new_zeros(())
    return ce_global + kd, (ce_sum / count.clamp(min=1)).detach(), kd.detach(), acc


@torch.no_grad()
def validate(model, maker, cfg: MaskSRConfig, opts: TrainOptions, precision: str) -> dict:
    """Loss, CE, KD and masked-token accuracy per codebook on the first `val_items` dev items,
    each with a fixed degradation (seeded by the item) and fixed masks: comparable across steps."""
    import numpy as np
    strategy = get_strategy(cfg.codebook_modelling)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    n = min(opts.val_items, len(maker.source))
    ce_sum = kd_sum = 0.0
    hits = torch.zeros(cfg.n_codebooks, dtype=torch.float64)
    counts = torch.zeros(cfg.n_codebooks, dtype=torch.float64)
    batches = 0
    for b0 in range(0, n, opts.val_batch):
        pos = list(range(b0, min(n, b0 + opts.val_batch)))
        batch = maker.batch(pos, [np.random.default_rng([cfg.seed, 3, p]) for p in pos])
        wave, codes = batch["wave"].to(device), batch["codes"].to(device)
        kd_t = batch["kd"].to(device) if batch["kd"] is not None else None
        gen = step_generator(cfg.seed, 10**8 + b0, 0, device)
        mask = strategy.training_mask(codes, cfg, gen)
        drop = torch.zeros(codes.shape[0], dtype=torch.bool, device=device)
        _, ce, kd, _ = step_loss(model, cfg, strategy, wave, codes, kd_t, mask, drop, precision)
        inputs = strategy.lm_inputs(codes, mask, cfg.codebook_size)
        with autocast(precision, device):
            logits, _ = model(wave, inputs, drop, kd_t.shape[1] if kd_t is not None else None)
        hit = (logits.float().argmax(-1) == codes) & mask
        hits += hit.sum(dim=(0, 2)).double().cpu()
        counts += mask.sum(dim=(0, 2)).double().cpu()
        ce_sum += float(ce)
        kd_sum += float(kd)
        batches += 1
    if was_training:
        model.train()
    acc = (hits / counts.clamp(min=1)).tolist()
    return {"dev_items": n, "dev_loss": (ce_sum + kd_sum) / max(batches, 1), "dev_ce": ce_sum / max(batches, 1),
            "dev_kd": kd_sum / max(batches, 1), "dev_accuracy": [round(a, 4) for a in acc]}


@torch.no_grad()
def evaluate(model, maker, cfg: MaskSRConfig, batches: int = 4, first_step: int = 10**7) -> dict:
    """Masked-token accuracy (training mask distribution) and sampler token accuracy on fresh
    degradations of the bank's segments (steps from `first_step` are never used in training)."""
    from systems.masksr.sampler import sample_codegrams
    strategy = get_strategy(cfg.codebook_modelling)
    model.eval()
    device = next(model.parameters()).device
    hits = total = s_hits = s_total = 0
    for i in range(batches):
        wave, codes, _ = maker(first_step + i)
        wave, codes = wave.to(device), codes.to(device)
        mask = strategy.training_mask(codes, cfg, step_generator(cfg.seed, first_step + i, 0, device))
        logits, _ = model(wave, strategy.lm_inputs(codes, mask, cfg.codebook_size))
        hits += int(((logits.argmax(-1) == codes) & mask).sum())
        total += int(mask.sum())
        sampled = sample_codegrams(model, wave, seed=i)
        s_hits += int((sampled == codes).sum())
        s_total += codes.numel()
    return {"masked_accuracy": hits / total, "sampler_accuracy": s_hits / s_total}


def save_checkpoint(path: Path, cfg: MaskSRConfig, model, optimizer, step: int, **extra) -> None:
    with atomic_target(path) as tmp:
        torch.save({"config": cfg.to_dict(), "model": model.state_dict(),
                    "optimizer": optimizer.state_dict() if optimizer is not None else None,
                    "step": step, **extra}, tmp)


def load_checkpoint(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise BenchmarkError(f"cannot load MaskSR checkpoint {path}: {exc}") from exc


def _dist_setup() -> tuple[int, int, str]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        device = f"cuda:{local}"
        torch.cuda.set_device(local)
    else:
        device = "cpu"
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return rank, world, device


def _worker_init(_worker_id: int) -> None:
    torch.set_num_threads(1)


def prepare_from_folders(cfg: MaskSRConfig, speech: list[str], out: Path, world: int) -> Path:
    """The compatibility path `train --speech DIR...`: prepare the folders' shards under
    <out>/cache (split over the ranks, then a barrier) and return the prepared folder."""
    from systems.masksr.data import list_audio, prepared_dir
    from systems.masksr.prepare import prepare
    files = list_audio(speech, "speech")
    root = prepared_dir(cfg, files, out / "cache")
    prepare(cfg, files, root)
    if world > 1:
        dist.barrier()
        prepare(cfg, files, root)          # every shard exists now: writes the index
    return root


class _Logger:
    """train_log.jsonl lines and TensorBoard scalars (rank 0 only)."""

    def __init__(self, out: Path, enabled: bool, tensorboard: bool):
        self.file = out / "train_log.jsonl"
        self.enabled = enabled
        self.tb = None
        if enabled and tensorboard:
            from torch.utils.tensorboard import SummaryWriter
            self.tb = SummaryWriter(str(out / "tensorboard"))

    def write(self, step: int, record: dict) -> None:
        if not self.enabled:
            return
        with open(self.file, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.tb is not None:
            for k, v in record.items():
                if isinstance(v, list):
                    for i, x in enumerate(v):
                        self.tb.add_scalar(f"{k}/codebook_{i + 1}", x, step)
                elif isinstance(v, (int, float)) and k != "step":
                    self.tb.add_scalar(k, v, step)
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def train(cfg: MaskSRConfig, speech: list[str] | None, noise: list[str], rirs: list[str] | None,
          out: str | Path, device: str | None = None, options: TrainOptions | None = None,
          data: str | Path | None = None) -> list[StepStats]:
    """Train `cfg` for cfg.steps steps (global batch cfg.batch split over ranks) from the prepared
    folder `data` (`train prepare`), or from speech folders prepared on the spot; returns logs."""
    from systems.masksr.codec import Codec
    from systems.masksr.data import ItemMaker, NoiseRirPools, ShardSource, StepBatches, list_audio
    from systems.masksr.model import MaskSRModel
    from systems.masksr.prepare import check_compatible

    opts = options or TrainOptions()
    rank, world, auto_device = _dist_setup()
    device = device or auto_device
    precision = resolve_precision(opts.precision, device)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    is_main = rank == 0
    if cfg.batch % world:
        raise BenchmarkError(f"batch {cfg.batch} is not divisible by {world} processes")
    if (speech is None) == (data is None):
        raise BenchmarkError("give either speech folders or a prepared data folder, not both")
    noise_files = list_audio(noise, "noise")
    rir_files = list_audio(rirs, "RIR") if rirs else []
    if data is None:
        data = prepare_from_folders(cfg, speech, out, world)
    source = ShardSource(data, "train")
    check_compatible(source.index, cfg, data)
    pools = NoiseRirPools(cfg, noise_files, rir_files, cfg.simulated_rirs, cfg.seed)
    maker = ItemMaker(cfg, source, pools)

    codec = Codec(cfg.codec, device)
    if codec.rate != cfg.rate or codec.hop != cfg.hop or codec.n_codebooks != cfg.n_codebooks:
        raise BenchmarkError(f"codec {cfg.codec} ({codec.rate} Hz, hop {codec.hop}) does not match the config")
    torch.manual_seed(cfg.seed)
    model = MaskSRModel(cfg)
    model.init_from_codec(codec)
    model.to(device)
    del codec
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")
    ema = EMA(model, opts.ema_decay) if opts.ema_decay > 0 else None
    start = 0
    ckpt_path = out / CHECKPOINT
    kept: dict = {}
    if ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path)
        if ckpt["config"]["name"] != cfg.name:
            raise BenchmarkError(f"{ckpt_path} holds a '{ckpt['config']['name']}' model, not '{cfg.name}'")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        if ckpt.get("scaler"):
            scaler.load_state_dict(ckpt["scaler"])
        if ema is not None and ckpt.get("ema"):
            ema.load_state_dict(ckpt["ema"])
        kept = {k: ckpt[k] for k in ("guidance_sweep",) if ckpt.get(k) is not None}
        start = int(ckpt["step"])
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    strategy = get_strategy(cfg.codebook_modelling)
    logger = _Logger(out, is_main, opts.tensorboard)
    dev = None
    if is_main and opts.val_every > 0:
        dev_source = ShardSource(data, "dev")
        if len(dev_source) == 0:
            raise BenchmarkError(f"{data} has no dev split: prepare it with --dev-fraction or --dev-speech "
                                 f"to validate every {opts.val_every} steps")
        dev = ItemMaker(cfg, dev_source, pools)

    dataset = StepBatches(maker, cfg.batch // world, rank, world, opts.shuffle_block, cfg.steps)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=None, sampler=range(start, cfg.steps), num_workers=opts.workers,
        worker_init_fn=_worker_init if opts.workers else None,
        prefetch_factor=opts.prefetch if opts.workers else None)
    kill_at = int(os.environ.get(KILL_ENV, "-1"))
    logs: list[StepStats] = []
    model.train()
    bar = progress(total=cfg.steps, initial=start, desc=f"train {cfg.name}", unit="step")
    t0 = time.perf_counter()
    wait = 0.0
    batches = iter(loader)
    for step in range(start, cfg.steps):
        if step == kill_at and is_main:
            os.killpg(os.getpgrp(), signal.SIGKILL)
        t_wait = time.perf_counter()
        batch = next(batches)
        wait += time.perf_counter() - t_wait
        if "error" in batch:
            from systems.masksr.shards import ShardError
            raise ShardError(batch["error"])
        wave, codes = batch["wave"].to(device), batch["codes"].to(device)
        kd_target = batch["kd"].to(device) if batch["kd"] is not None else None
        mask, drop = draw_masks(strategy, codes, cfg, step, rank)
        loss, ce, kd, acc = step_loss(net, cfg, strategy, wave, codes, kd_target, mask, drop, precision, world)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg.lr, opts.warmup_steps)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        grad_norm = None
        if opts.clip_grad_norm > 0:
            scaler.unscale_(optimizer)
            grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), opts.clip_grad_norm))
        scaler.step(optimizer)
        scaler.update()
        if ema is not None:
            ema.update(model)
        done = step + 1
        bar.update(1)
        if done % cfg.log_every == 0 or done == cfg.steps:
            stats = StepStats(done, float(ce + kd), float(ce), float(kd), [round(float(a), 4) for a in acc])
            logs.append(stats)
            bar.set_postfix(loss=f"{stats.loss:.3f}", kd=f"{stats.kd:.3f}",
                            acc=f"{sum(stats.accuracy) / len(stats.accuracy):.3f}")
            elapsed = time.perf_counter() - t0
            record = {**stats.to_dict(), "lr": optimizer.param_groups[0]["lr"],
                      "steps_per_s": (done - start) / elapsed, "data_wait_fraction": wait / elapsed}
            if grad_norm is not None:
                record["grad_norm"] = grad_norm
            if precision == "fp16":
                record["loss_scale"] = float(scaler.get_scale())
            logger.write(done, record)
        if dev is not None and (done % opts.val_every == 0 or done == cfg.steps):
            logger.write(done, {"step": done, **validate(model, dev, cfg, opts, precision)})
        if is_main and (done % cfg.checkpoint_every == 0 or done == cfg.steps):
            extra = {"options": opts.to_dict(), "scaler": scaler.state_dict() if precision == "fp16" else None,
                     "ema": ema.state_dict() if ema is not None else None,
                     "model_ema": ema.model_state(model) if ema is not None else None, **kept}
            saved = cfg if "guidance_sweep" not in kept else \
                dataclasses.replace(cfg, guidance=float(kept["guidance_sweep"]["chosen"]))
            save_checkpoint(ckpt_path, saved, model, optimizer, done, **extra)
    bar.close()
    logger.close()
    del batches, loader
    if world > 1:
        dist.barrier()
    return logs
