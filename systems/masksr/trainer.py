"""The MaskSR / MaskSR2 trainer: CPU, one GPU, or several with torchrun (DDP); Adam, bf16 autocast
on CUDA, masked CE (+ unweighted KD loss), checkpoints every N steps and an exact resume.

Exact resume: every random draw of step s (batch, degradation, mask, CFG drop) comes from
generators seeded by (seed, s, rank), and the checkpoint holds weights, BatchNorm statistics and
the Adam state, so N + N resumed steps equal 2N uninterrupted steps."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from benchmark.core.errors import BenchmarkError
from benchmark.core.progress import progress
from systems.masksr.config import MaskSRConfig
from systems.masksr.kd import kd_loss
from systems.masksr.strategies import get_strategy

CHECKPOINT = "checkpoint.pt"


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


def masked_ce(logits: torch.Tensor, codes: torch.Tensor, mask: torch.Tensor):
    """Cross-entropy over masked positions only, and per-codebook masked-token accuracy."""
    lf = logits.float()
    ce = torch.nn.functional.cross_entropy(lf[mask], codes[mask])
    with torch.no_grad():
        hit = (lf.argmax(-1) == codes) & mask
        acc = hit.sum(dim=(0, 2)).float() / mask.sum(dim=(0, 2)).clamp(min=1).float()
    return ce, acc


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


def save_checkpoint(path: Path, cfg: MaskSRConfig, model, optimizer, step: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    torch.save({"config": cfg.to_dict(), "model": model.state_dict(),
                "optimizer": optimizer.state_dict() if optimizer is not None else None,
                "step": step}, tmp)
    os.replace(tmp, path)


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


def train(cfg: MaskSRConfig, speech: list[str], noise: list[str], rirs: list[str] | None,
          out: str | Path, device: str | None = None) -> list[StepStats]:
    """Train `cfg` for cfg.steps steps (global batch cfg.batch split over ranks); returns logs."""
    from systems.masksr.codec import Codec
    from systems.masksr.data import BatchMaker, NoiseRirPools, build_segment_bank, list_audio
    from systems.masksr.model import MaskSRModel

    rank, world, auto_device = _dist_setup()
    device = device or auto_device
    out = Path(out)
    is_main = rank == 0
    if cfg.batch % world:
        raise BenchmarkError(f"batch {cfg.batch} is not divisible by {world} processes")
    speech_files = list_audio(speech, "speech")
    noise_files = list_audio(noise, "noise")
    rir_files = list_audio(rirs, "RIR") if rirs else []

    codec = Codec(cfg.codec, device)
    if codec.rate != cfg.rate or codec.hop != cfg.hop or codec.n_codebooks != cfg.n_codebooks:
        raise BenchmarkError(f"codec {cfg.codec} ({codec.rate} Hz, hop {codec.hop}) does not match the config")
    if is_main:
        bank = build_segment_bank(cfg, speech_files, out / "cache", codec, device)
    if world > 1:
        dist.barrier()
    if not is_main:
        bank = build_segment_bank(cfg, speech_files, out / "cache", codec, device, is_main=False)
    pools = NoiseRirPools(cfg, noise_files, rir_files, cfg.simulated_rirs, cfg.seed)
    maker = BatchMaker(cfg, bank, pools, cfg.batch // world)

    torch.manual_seed(cfg.seed)
    model = MaskSRModel(cfg)
    model.init_from_codec(codec)
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    start = 0
    ckpt_path = out / CHECKPOINT
    if ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path)
        if ckpt["config"]["name"] != cfg.name:
            raise BenchmarkError(f"{ckpt_path} holds a '{ckpt['config']['name']}' model, not '{cfg.name}'")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        start = int(ckpt["step"])
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    strategy = get_strategy(cfg.codebook_modelling)
    use_bf16 = str(device).startswith("cuda")
    logs: list[StepStats] = []
    log_file = out / "train_log.jsonl"
    kd_frames = bank.kd.shape[1] if bank.kd is not None else None
    model.train()
    bar = progress(total=cfg.steps, initial=start, desc=f"train {cfg.name}", unit="step")
    t0 = time.perf_counter()
    for step in range(start, cfg.steps):
        wave, codes, kd_target = maker(step, rank)
        wave, codes = wave.to(device), codes.to(device)
        gen = step_generator(cfg.seed, step, rank, device)
        mask = strategy.training_mask(codes, cfg, gen)
        drop = torch.rand(codes.shape[0], generator=gen, device=device) < cfg.cfg_dropout
        inputs = strategy.lm_inputs(codes, mask, cfg.codebook_size)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_bf16):
            logits, kd_pred = net(wave, inputs, drop, kd_frames)
        ce, acc = masked_ce(logits, codes, mask)
        kd = kd_loss(cfg.kd_target, kd_pred, kd_target.to(device)) if kd_pred is not None else ce.new_zeros(())
        loss = ce + kd
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        done = step + 1
        bar.update(1)
        if done % cfg.log_every == 0 or done == cfg.steps:
            stats = StepStats(done, loss.item(), ce.item(), kd.item(), [round(float(a), 4) for a in acc])
            logs.append(stats)
            bar.set_postfix(loss=f"{stats.loss:.3f}", kd=f"{stats.kd:.3f}",
                            acc=f"{sum(stats.accuracy) / len(stats.accuracy):.3f}")
            if is_main:
                with open(log_file, "a") as f:
                    f.write(json.dumps({**stats.to_dict(), "steps_per_s":
                                        (done - start) / (time.perf_counter() - t0)}) + "\n")
        if is_main and (done % cfg.checkpoint_every == 0 or done == cfg.steps):
            save_checkpoint(ckpt_path, cfg, model, optimizer, done)
    bar.close()
    if world > 1:
        dist.barrier()
    return logs
