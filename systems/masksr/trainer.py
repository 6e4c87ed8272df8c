"""The MaskSR / MaskSR2 trainer: CPU, one GPU, or several with torchrun (DDP); Adam, masked CE
(+ unweighted KD loss), checkpoints every N steps and an exact resume; training data streamed from
prepared shards (`prepare.py`) with degradation in DataLoader workers (`data.StepBatches`) or,
with `render_on="device"`, on the training device in the step (`step_inputs`; validation keeps the
workers' CPU rendering, the reference path);
validation on the dev split, split over the ranks; warmup / clipping / EMA / precision / gradient
accumulation options (`train_options.py`); logs in `train_log.jsonl` and TensorBoard.

`train()` is `build` (data, model, optimizer) -> `resume` (the checkpoint in the output folder) ->
`train_step` per step -> `save` every `checkpoint_every` steps, with an `on_step(state)` callback
after each step (tests stop a run there).

Exact resume: every random draw of step s (batch items, degradation, mask, CFG drop) comes from
generators seeded by (seed, s, rank[, slot]), and the checkpoint holds weights, BatchNorm
statistics, the Adam state, the EMA and the loss scaler, so N + N resumed steps equal 2N
uninterrupted steps, also across a SIGKILL (tested with torchrun).

DDP: the masked CE is a sum over this rank's masked positions divided by the masked count of the
whole global batch (all-reduced) times the world size, so the averaged DDP gradient equals the
gradient of a single process on the concatenated batch (tested within 1e-6); the papers do not
say how they normalise across GPUs. Gradient accumulation (`grad_accum` = A) cuts each rank's
batch of a step into A micro-batches with the same normalisation (the mask of the whole step is
drawn first), so an accumulated step equals the large-batch step (tested; BatchNorm's batch
statistics are per micro-batch, as they are per rank under DDP).

Scale: the host never waits for the device inside a step (losses stay tensors until a log step),
batches come from pinned memory with non-blocking copies, rank 0 writes checkpoints in a
background thread from a CPU snapshot (the other ranks never wait on a collective for the
write), and `train --speech` prepares its shards before the process group exists (a file-based
wait, no collective timeout)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist

from benchmark.core.errors import BenchmarkError
from benchmark.core.progress import progress
from systems.masksr.checkpoint import (  # noqa: F401  (re-exported for the tools and tests)
    CHECKPOINT,
    load_checkpoint,
    save_checkpoint,
    write_checkpoint,
)
from systems.masksr.config import MaskSRConfig
from systems.masksr.kd import kd_loss
from systems.masksr.strategies import get_strategy
from systems.masksr.train_options import EMA, TrainOptions, autocast, lr_at, resolve_precision


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


def global_count(mask: torch.Tensor, world: int) -> torch.Tensor:
    """Masked positions of the whole global batch of a step (all ranks)."""
    total = mask.sum().float()
    if world > 1:
        dist.all_reduce(total)
    return total


def step_loss(net, cfg: MaskSRConfig, strategy, wave, codes, kd_target, mask, drop, precision: str,
              world: int = 1, total: torch.Tensor | None = None, share: float = 1.0):
    """(loss to back-propagate, local CE, KD, per-codebook accuracy) of one batch. With world > 1
    the CE is normalised by the global masked count `total` (all-reduced here when not given, see
    the module docstring); `share` weights the KD mean (a micro-batch's share of the rank batch)."""
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
    if total is None:
        total = global_count(mask, world)
    ce_global = ce_sum * world / total.clamp(min=1)
    if kd_pred is not None:
        target = kd_target if kd_target.is_floating_point() else kd_target.long()
        kd = kd_loss(cfg.kd_target, kd_pred, target)
    else:
        kd = ce_sum.new_zeros(())
    return ce_global + share * kd, (ce_sum / count.clamp(min=1)).detach(), kd.detach(), acc


@torch.no_grad()
def validate(model, maker, cfg: MaskSRConfig, opts: TrainOptions, precision: str,
             rank: int = 0, world: int = 1) -> dict:
    """Loss, CE, KD and masked-token accuracy per codebook on the first `val_items` dev items,
    each with a fixed degradation and a fixed mask (both seeded by the item): comparable across
    steps and independent of the number of ranks, which share the items (rank r takes items r,
    r + W, ...; the sums are all-reduced). CE is token-weighted, KD item-weighted."""
    import numpy as np
    strategy = get_strategy(cfg.codebook_modelling)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    n = min(opts.val_items, len(maker.source))
    mine = list(range(rank, n, world))
    k = cfg.n_codebooks
    sums = torch.zeros(3 + 2 * k, dtype=torch.float64, device=device)  # ce, kd, items, hits, counts
    for b0 in range(0, len(mine), opts.val_batch):
        pos = mine[b0:b0 + opts.val_batch]
        batch = maker.batch(pos, [np.random.default_rng([cfg.seed, 3, p]) for p in pos])
        wave, codes = batch["wave"].to(device), batch["codes"].to(device)
        kd_t = batch["kd"].to(device) if batch["kd"] is not None else None
        mask = torch.cat([strategy.training_mask(codes[i:i + 1], cfg, step_generator(cfg.seed, 10**8 + p, 0, device))
                          for i, p in enumerate(pos)])
        drop = torch.zeros(codes.shape[0], dtype=torch.bool, device=device)
        inputs = strategy.lm_inputs(codes, mask, cfg.codebook_size)
        with autocast(precision, device):
            logits, kd_pred = model(wave, inputs, drop, kd_t.shape[1] if kd_t is not None else None)
        lf = logits.float()
        sums[0] += torch.nn.functional.cross_entropy(lf[mask], codes[mask], reduction="sum").double()
        if kd_pred is not None:
            target = kd_t if kd_t.is_floating_point() else kd_t.long()
            sums[1] += kd_loss(cfg.kd_target, kd_pred, target).double() * len(pos)
        sums[2] += len(pos)
        sums[3:3 + k] += ((lf.argmax(-1) == codes) & mask).sum(dim=(0, 2)).double()
        sums[3 + k:] += mask.sum(dim=(0, 2)).double()
    if world > 1:
        dist.all_reduce(sums)
    if was_training:
        model.train()
    s = sums.cpu()
    ce = float(s[0] / s[3 + k:].sum().clamp(min=1))
    kd = float(s[1] / s[2].clamp(min=1))
    acc = (s[3:3 + k] / s[3 + k:].clamp(min=1)).tolist()
    return {"dev_items": n, "dev_loss": ce + kd, "dev_ce": ce, "dev_kd": kd,
            "dev_accuracy": [round(a, 4) for a in acc]}


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


def prepare_from_folders(cfg: MaskSRConfig, speech: list[str], out: Path, poll_s: float = 2.0) -> Path:
    """The compatibility path `train --speech DIR...`: prepare the folders' shards under
    <out>/cache and return the prepared folder. Under torchrun each rank prepares its share
    (`prepare` splits by RANK) *before* the process group exists, then waits for the index the
    last rank writes by polling the folder: an 800 h preparation never runs inside a collective
    (whose timeout it would exceed)."""
    from systems.masksr.data import list_audio, prepared_dir
    from systems.masksr.prepare import prepare
    files = list_audio(speech, "speech")
    root = prepared_dir(cfg, files, out / "cache")
    while prepare(cfg, files, root) is None:          # None: other ranks' shards still missing
        time.sleep(poll_s)
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


def _cpu_copy(obj):
    """A CPU snapshot of nested dicts/lists of tensors (training mutates the live ones in place)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _cpu_copy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cpu_copy(v) for v in obj)
    return obj


class CheckpointWriter:
    """Writes checkpoints in a background thread (rank 0): the training loop only pays for the
    CPU snapshot, so the other ranks never wait at a collective while a large file is written.
    One write at a time: a new save first waits for the previous one."""

    def __init__(self):
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def submit(self, path: Path, blob: dict) -> None:
        self.wait()

        def run():
            try:
                write_checkpoint(path, blob)
            except BaseException as exc:       # re-raised by wait() in the training thread
                self._error = exc
        self._thread = threading.Thread(target=run, name="checkpoint-writer", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            exc, self._error = self._error, None
            raise BenchmarkError(f"writing the checkpoint failed: {exc}") from exc


@dataclass
class TrainState:
    """Everything a training run holds; `step` counts the finished steps."""
    cfg: MaskSRConfig
    opts: TrainOptions
    out: Path
    rank: int
    world: int
    device: str
    precision: str
    model: torch.nn.Module
    net: torch.nn.Module                      # the model, wrapped in DDP when world > 1
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    ema: EMA | None
    strategy: object
    maker: object                             # data.ItemMaker of the training split
    dev: object | None                        # data.ItemMaker of the dev split (validation)
    logger: _Logger
    writer: CheckpointWriter = field(default_factory=CheckpointWriter)
    step: int = 0
    kept: dict = field(default_factory=dict)  # checkpoint entries carried over (guidance_sweep)
    logs: list[StepStats] = field(default_factory=list)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def checkpoint_path(self) -> Path:
        return self.out / CHECKPOINT


StepCallback = Callable[[TrainState], None]


def build(cfg: MaskSRConfig, data: str | Path, noise: list[str], rirs: list[str] | None, out: Path,
          device: str, opts: TrainOptions, rank: int = 0, world: int = 1) -> TrainState:
    """Data sources, model (initialised from the codec), optimizer, scaler, EMA, logger."""
    from systems.masksr.codec import Codec
    from systems.masksr.data import ItemMaker, NoiseRirPools, ShardSource, list_audio
    from systems.masksr.model import MaskSRModel
    from systems.masksr.prepare import check_compatible
    if cfg.batch % (world * opts.grad_accum):
        raise BenchmarkError(f"batch {cfg.batch} is not divisible by {world} processes x "
                             f"{opts.grad_accum} accumulation steps")
    precision = resolve_precision(opts.precision, device)
    noise_files = list_audio(noise, "noise")
    rir_files = list_audio(rirs, "RIR") if rirs else []
    source = ShardSource(data, "train")
    check_compatible(source.index, cfg, data)
    pools = NoiseRirPools(cfg, noise_files, rir_files, cfg.simulated_rirs, cfg.seed)
    maker = ItemMaker(cfg, source, pools)
    dev = None
    if opts.val_every > 0:
        dev_source = ShardSource(data, "dev")
        if len(dev_source) == 0:
            raise BenchmarkError(f"{data} has no dev split: prepare it with --dev-fraction or --dev-speech "
                                 f"to validate every {opts.val_every} steps")
        dev = ItemMaker(cfg, dev_source, pools)
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
    # the EMA lives where it is saved (rank 0); ranks hold identical weights after every step
    ema = EMA(model, opts.ema_decay) if opts.ema_decay > 0 and rank == 0 else None
    return TrainState(cfg, opts, out, rank, world, device, precision, model, model, optimizer, scaler,
                      ema, get_strategy(cfg.codebook_modelling), maker, dev,
                      _Logger(out, rank == 0, opts.tensorboard))


def resume(state: TrainState) -> None:
    """Continue from the output folder's checkpoint when there is one; then wrap in DDP."""
    path = state.checkpoint_path
    if path.exists():
        ckpt = load_checkpoint(path)
        if ckpt["config"]["name"] != state.cfg.name:
            raise BenchmarkError(f"{path} holds a '{ckpt['config']['name']}' model, not '{state.cfg.name}'")
        state.model.load_state_dict(ckpt["model"])
        state.optimizer.load_state_dict(ckpt["optimizer"])
        if ckpt.get("scaler"):
            state.scaler.load_state_dict(ckpt["scaler"])
        if state.ema is not None and ckpt.get("ema"):
            state.ema.load_state_dict(ckpt["ema"])
        state.kept = {k: ckpt[k] for k in ("guidance_sweep",) if ckpt.get(k) is not None}
        state.step = int(ckpt["step"])
    if state.world > 1:
        state.net = torch.nn.parallel.DistributedDataParallel(state.model)


def step_inputs(state: TrainState, batch: dict) -> tuple:
    """(degraded input, target codes, KD target or None) of a loader batch on the training device:
    a worker-rendered batch is copied there; with `render_on="device"` the workers hand over clean
    segments and their drawn parameters (`data.StepBatches(device_render=True)`) and the batch is
    rendered here, on the device, by `data.render_on_device` (the same draws as the workers' path)."""
    if "clean" in batch:
        from systems.masksr.data import render_on_device
        with torch.no_grad():
            batch = render_on_device(batch, state.maker, state.device)
    return _to_device(batch, state.device)


def _to_device(batch: dict, device: str) -> tuple:
    """Pinned host batch -> device tensors without waiting for the copies (non_blocking)."""
    nb = str(device).startswith("cuda")
    wave = batch["wave"].to(device, non_blocking=nb)
    codes = batch["codes"].to(device, non_blocking=nb)
    kd = batch["kd"].to(device, non_blocking=nb) if batch["kd"] is not None else None
    return wave, codes, kd


def train_step(state: TrainState, batch: dict) -> dict:
    """One optimizer step of step `state.step` on this rank's batch: `grad_accum` micro-batches,
    clipping, Adam, EMA. Returns device tensors (ce, kd, accuracy, grad_norm): no host sync."""
    cfg, opts, step = state.cfg, state.opts, state.step
    if "error" in batch:
        from systems.masksr.shards import ShardError
        raise ShardError(batch["error"])
    wave, codes, kd_target = step_inputs(state, batch)
    mask, drop = draw_masks(state.strategy, codes, cfg, step, state.rank)
    total = global_count(mask, state.world)
    for group in state.optimizer.param_groups:
        group["lr"] = lr_at(step, cfg.lr, opts.warmup_steps)
    state.optimizer.zero_grad(set_to_none=True)
    n, parts = codes.shape[0], opts.grad_accum
    size = n // parts
    ce = kd = acc = None
    for m in range(parts):
        sl = slice(m * size, (m + 1) * size)
        last = m == parts - 1
        sync = state.net.no_sync() if (state.world > 1 and not last) else contextlib.nullcontext()
        with sync:
            loss, ce_m, kd_m, acc_m = step_loss(
                state.net, cfg, state.strategy, wave[sl], codes[sl],
                kd_target[sl] if kd_target is not None else None, mask[sl], drop[sl],
                state.precision, state.world, total=total, share=size / n)
            state.scaler.scale(loss).backward()
        ce = ce_m / parts if ce is None else ce + ce_m / parts
        kd = kd_m / parts if kd is None else kd + kd_m / parts
        acc = acc_m / parts if acc is None else acc + acc_m / parts
    grad_norm = None
    if opts.clip_grad_norm > 0:
        state.scaler.unscale_(state.optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(state.model.parameters(), opts.clip_grad_norm)
    state.scaler.step(state.optimizer)
    state.scaler.update()
    if state.ema is not None:
        state.ema.update(state.model)
    state.step = step + 1
    return {"ce": ce, "kd": kd, "accuracy": acc, "grad_norm": grad_norm}


def save(state: TrainState) -> None:
    """Rank 0 snapshots the state to the CPU and hands the write to the background writer. The
    EMA is stored once (`ema`, fp32); `checkpoint.ema_state_dict` rebuilds the restorable dict."""
    if not state.is_main:
        return
    cfg, kept = state.cfg, state.kept
    extra = {"options": state.opts.to_dict(),
             "scaler": state.scaler.state_dict() if state.precision == "fp16" else None,
             "ema": state.ema.state_dict() if state.ema is not None else None, **kept}
    saved = cfg if "guidance_sweep" not in kept else \
        dataclasses.replace(cfg, guidance=float(kept["guidance_sweep"]["chosen"]))
    blob = {"config": saved.to_dict(), "model": state.model.state_dict(),
            "optimizer": state.optimizer.state_dict(), "step": state.step, **extra}
    state.writer.submit(state.checkpoint_path, _cpu_copy(blob))


def _loader(state: TrainState):
    from systems.masksr.data import StepBatches
    cfg, opts = state.cfg, state.opts
    dataset = StepBatches(state.maker, cfg.batch // state.world, state.rank, state.world,
                          opts.shuffle_block, cfg.steps, device_render=opts.render_on == "device")
    return torch.utils.data.DataLoader(
        dataset, batch_size=None, sampler=range(state.step, cfg.steps), num_workers=opts.workers,
        worker_init_fn=_worker_init if opts.workers else None,
        prefetch_factor=opts.prefetch if opts.workers else None,
        pin_memory=str(state.device).startswith("cuda"))


def train(cfg: MaskSRConfig, speech: list[str] | None, noise: list[str], rirs: list[str] | None,
          out: str | Path, device: str | None = None, options: TrainOptions | None = None,
          data: str | Path | None = None, on_step: StepCallback | None = None) -> list[StepStats]:
    """Train `cfg` for cfg.steps steps (global batch cfg.batch split over ranks) from the prepared
    folder `data` (`train prepare`), or from speech folders prepared on the spot; returns logs.
    `on_step(state)` runs after every step (after its checkpoint was handed to the writer)."""
    opts = options or TrainOptions()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if (speech is None) == (data is None):
        raise BenchmarkError("give either speech folders or a prepared data folder, not both")
    if data is None:                                 # before the process group: no barrier
        data = prepare_from_folders(cfg, speech, out)
    rank, world, auto_device = _dist_setup()
    state = build(cfg, data, noise, rirs, out, device or auto_device, opts, rank, world)
    resume(state)
    start = state.step
    state.model.train()
    bar = progress(total=cfg.steps, initial=start, desc=f"train {cfg.name}", unit="step")
    t0 = time.perf_counter()
    wait = 0.0
    loader = _loader(state)
    batches = iter(loader)
    try:
        while state.step < cfg.steps:
            t_wait = time.perf_counter()
            batch = next(batches)
            wait += time.perf_counter() - t_wait
            result = train_step(state, batch)
            done = state.step
            bar.update(1)
            if done % cfg.log_every == 0 or done == cfg.steps:
                _log(state, result, done, start, time.perf_counter() - t0, wait, bar)
            if state.dev is not None and (done % opts.val_every == 0 or done == cfg.steps):
                record = validate(state.model, state.dev, cfg, opts, state.precision, rank, world)
                state.logger.write(done, {"step": done, **record})
            if done % cfg.checkpoint_every == 0 or done == cfg.steps:
                save(state)
            if on_step is not None:
                on_step(state)
    finally:
        state.writer.wait()
        bar.close()
        state.logger.close()
        del batches, loader
    if world > 1:
        dist.barrier()
    return state.logs


def _log(state: TrainState, result: dict, done: int, start: int, elapsed: float, wait: float, bar) -> None:
    """The one host sync of a log step: the step's scalars become floats."""
    ce, kd = float(result["ce"]), float(result["kd"])
    stats = StepStats(done, ce + kd, ce, kd, [round(float(a), 4) for a in result["accuracy"]])
    state.logs.append(stats)
    bar.set_postfix(loss=f"{stats.loss:.3f}", kd=f"{stats.kd:.3f}",
                    acc=f"{sum(stats.accuracy) / len(stats.accuracy):.3f}")
    record = {**stats.to_dict(), "lr": state.optimizer.param_groups[0]["lr"],
              "steps_per_s": (done - start) / elapsed, "data_wait_fraction": wait / elapsed}
    if result["grad_norm"] is not None:
        record["grad_norm"] = float(result["grad_norm"])
    if state.precision == "fp16":
        record["loss_scale"] = float(state.scaler.get_scale())
    state.logger.write(done, record)
