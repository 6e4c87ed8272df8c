"""MaskSR checkpoints: the file format (save, load, which weights to restore with) and the one
loader used by the system plugins, the guidance sweep, the tests and the tools. Inference code
imports this module, never the trainer (an import-linter contract in pyproject.toml).

A checkpoint holds `config`, `model` (the live weights), `optimizer`, `step` and, with an EMA, `ema`
(the fp32 average of every floating-point tensor). The EMA is stored once: the restorable EMA
state dict (`ema_state_dict`) is built from it at load time, not saved a second time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from benchmark.core.errors import BenchmarkError
from benchmark.core.files import atomic_target
from systems.masksr.config import MaskSRConfig
from systems.masksr.model import MaskSRModel

CHECKPOINT = "checkpoint.pt"
WEIGHTS = ("ema", "model")      # what `weights="auto"` prefers, in order


def checkpoint_path(path: str | Path) -> Path:
    """A checkpoint file from a folder holding CHECKPOINT or the file itself."""
    path = Path(path)
    return path / CHECKPOINT if path.is_dir() else path


def write_checkpoint(path: Path, blob: dict) -> None:
    """Write atomically (`core.files.atomic_target`): a crash never leaves half a file."""
    with atomic_target(path) as tmp:
        torch.save(blob, tmp)


def save_checkpoint(path: Path, cfg: MaskSRConfig, model, optimizer, step: int, **extra) -> None:
    write_checkpoint(path, {"config": cfg.to_dict(), "model": model.state_dict(),
                            "optimizer": optimizer.state_dict() if optimizer is not None else None,
                            "step": step, **extra})


def load_checkpoint(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise BenchmarkError(f"cannot load MaskSR checkpoint {path}: {exc}") from exc


def has_ema(ckpt: dict) -> bool:
    """Whether the checkpoint holds EMA weights (`ema`, or `model_ema` of older checkpoints)."""
    return bool(ckpt.get("model_ema") or ckpt.get("ema"))


def ema_state_dict(ckpt: dict) -> dict | None:
    """The model's state dict with the EMA tensors in place of the live ones (None without an
    EMA). Checkpoints written before the EMA was stored once carry `model_ema` itself."""
    if ckpt.get("model_ema"):
        return ckpt["model_ema"]
    ema = ckpt.get("ema")
    if not ema:
        return None
    return {k: ema[k].to(v.dtype) if k in ema else v for k, v in ckpt["model"].items()}


def choose_weights(with_ema: bool, weights: str = "auto") -> str:
    """"ema" | "model": the one rule, `auto` = the EMA when the checkpoint has one."""
    if weights not in ("auto", *WEIGHTS):
        raise BenchmarkError(f"unknown weights '{weights}': auto, ema or model")
    if weights == "ema" and not with_ema:
        raise BenchmarkError("the checkpoint has no EMA weights (trained without --ema-decay)")
    return "ema" if weights in ("auto", "ema") and with_ema else "model"


def select_weights(ckpt: dict, weights: str = "auto") -> tuple[str, dict]:
    """("ema" | "model", state dict) by `choose_weights` (the plugin and `train sweep-guidance`
    both call this, so they always use the same weights)."""
    which = choose_weights(has_ema(ckpt), weights)
    return which, (ema_state_dict(ckpt) if which == "ema" else ckpt["model"])


def checkpoint_fingerprint(path: str | Path) -> str:
    """sha256 of the checkpoint file's bytes (memoised per process while its path, size, mtime and
    inode are unchanged: benchmark.core.hashing): part of the outputs' cache key, so a checkpoint
    retrained or replaced at the same path never serves the outputs of the old one (hashing a
    4.7 GB MaskSR-L checkpoint takes a few seconds, once per run)."""
    from benchmark.core.hashing import sha256_memo
    return sha256_memo(checkpoint_path(path))


def weights_in_file(path: str | Path, weights: str = "auto") -> str:
    """Which weights `load_model(path, weights=...)` will restore with, from the file's structure:
    its tensors are memory-mapped, not read (the plugins key their outputs with it before loading)."""
    file = checkpoint_path(path)
    try:
        ckpt = torch.load(file, map_location="cpu", weights_only=True, mmap=True)
    except Exception:             # e.g. a file in torch's legacy (non-zip) format: read it whole
        ckpt = load_checkpoint(file)
    return choose_weights(has_ema(ckpt), weights)


@dataclass
class LoadedModel:
    cfg: MaskSRConfig
    model: MaskSRModel           # in eval mode, on the requested device
    step: int
    checkpoint: dict             # the whole file (config, model, optimizer, step)
    weights: str = "model"       # which weights the model holds: "ema" or "model"


def load_model(path: str | Path, device: str | torch.device = "cpu", weights: str = "auto") -> LoadedModel:
    """Read a trainer checkpoint (weights_only) and build its model from the stored config, with
    the EMA weights when it has them (`weights="model"` for the live ones)."""
    ckpt = load_checkpoint(checkpoint_path(path))
    try:
        cfg = MaskSRConfig.from_dict(ckpt["config"])
        model = MaskSRModel(cfg)
        which, state = select_weights(ckpt, weights)
        model.load_state_dict(state)
    except (KeyError, RuntimeError) as exc:
        raise BenchmarkError(f"{path} is not a loadable MaskSR checkpoint: {exc}") from exc
    return LoadedModel(cfg, model.to(device).eval(), int(ckpt.get("step", 0)), ckpt, which)
