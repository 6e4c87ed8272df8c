"""Options of a training run that are not part of the model configuration: learning-rate warmup,
gradient clipping, EMA of the weights, numeric precision, gradient accumulation, data-loader workers,
where the degradation is rendered (workers or the training device), validation and logging. The defaults keep the papers' recipe (001 Sec. 3.2, 002 Sec. III-B: Adam at a constant
1e-4, nothing else stated): no warmup, no clipping, no EMA. Precision: the papers are silent
(001 trained on A100s, 002 on V100s, which have no bf16); "auto" is bf16 autocast on CUDA and
fp32 on CPU, "fp16" is autocast with dynamic loss scaling (torch.amp.GradScaler)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from benchmark.core.errors import BenchmarkError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# where a training pair's degradation is rendered: "workers" (DataLoader workers, `augment.render`,
# the reference path) or "device" (workers read the clean segments and draw the parameters, the
# training step renders the batch on the training device, `augment_torch.render_batch`)
RENDER_ON = ("workers", "device")


@dataclass(frozen=True)
class TrainOptions:
    warmup_steps: int = 0            # linear warmup from 0 to cfg.lr over this many steps
    clip_grad_norm: float = 0.0      # 0: no clipping; else max global L2 norm
    ema_decay: float = 0.0           # 0: no EMA; else ema = d * ema + (1 - d) * weights per step
    precision: str = "auto"
    grad_accum: int = 1              # micro-batches per optimizer step (global batch unchanged)
    workers: int = 2                 # DataLoader worker processes per rank (0: in the main process)
    prefetch: int = 2                # batches prefetched per worker
    shuffle_block: int = 64          # shards whose items are shuffled together (data.StepBatches)
    render_on: str = "workers"       # RENDER_ON: where the degraded inputs are rendered
    val_every: int = 0               # validate on the dev split every N steps (0: never)
    val_items: int = 64              # dev items used (the first N of the dev split)
    val_batch: int = 8
    tensorboard: bool = True         # TensorBoard event files in <out>/tensorboard (rank 0)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise BenchmarkError(f"unknown precision '{self.precision}'. Known: {', '.join(PRECISIONS)}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise BenchmarkError(f"EMA decay must be in [0, 1), got {self.ema_decay}")
        if self.render_on not in RENDER_ON:
            raise BenchmarkError(f"unknown render place '{self.render_on}'. Known: {', '.join(RENDER_ON)}")
        if self.grad_accum < 1:
            raise BenchmarkError(f"gradient accumulation needs at least 1 micro-batch, got {self.grad_accum}")
        if self.workers < 0 or self.warmup_steps < 0 or self.clip_grad_norm < 0:
            raise BenchmarkError("workers, warmup steps and the clipping norm must not be negative")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def resolve_precision(precision: str, device: str) -> str:
    cuda = str(device).startswith("cuda")
    if precision == "auto":
        return "bf16" if cuda else "fp32"
    if precision == "fp16" and not cuda:
        raise BenchmarkError("fp16 training with loss scaling needs a CUDA device; use fp32 or bf16 on CPU")
    return precision


def autocast(precision: str, device: str):
    dev = "cuda" if str(device).startswith("cuda") else "cpu"
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    return torch.autocast(dev, dtype=dtype or torch.float32, enabled=dtype is not None)


def lr_at(step: int, base: float, warmup: int) -> float:
    """Learning rate of (0-based) step `step`: linear warmup, then constant (the papers' Adam)."""
    return base * min(1.0, (step + 1) / warmup) if warmup > 0 else base


class EMA:
    """Exponential moving average of every floating-point tensor of a model's state dict
    (BatchNorm running statistics included), kept in fp32."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.state = {k: v.detach().float().clone() for k, v in model.state_dict().items()
                      if v.is_floating_point()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        for k, v in model.state_dict().items():
            if k in self.state:
                self.state[k].mul_(self.decay).add_(v.detach().float(), alpha=1.0 - self.decay)

    def state_dict(self) -> dict:
        return self.state

    def load_state_dict(self, state: dict) -> None:
        self.state = {k: v.float().clone() for k, v in state.items()}

    def model_state(self, model: torch.nn.Module) -> dict:
        """The model's state dict with the averaged tensors in place of the live ones."""
        return {k: self.state[k].to(v.dtype) if k in self.state else v for k, v in model.state_dict().items()}
