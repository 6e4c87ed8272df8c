"""Checkpoint -> model: the one loader used by the system plugins, the tests and the tools."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from benchmark.core.errors import BenchmarkError
from systems.masksr.config import MaskSRConfig
from systems.masksr.model import MaskSRModel


@dataclass
class LoadedModel:
    cfg: MaskSRConfig
    model: MaskSRModel           # in eval mode, on the requested device
    step: int
    checkpoint: dict             # the whole file (config, model, optimizer, step)


def load_model(path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Read a trainer checkpoint (weights_only) and build its model from the stored config."""
    from systems.masksr.trainer import load_checkpoint
    ckpt = load_checkpoint(Path(path))
    try:
        cfg = MaskSRConfig.from_dict(ckpt["config"])
        model = MaskSRModel(cfg)
        model.load_state_dict(ckpt["model"])
    except (KeyError, RuntimeError) as exc:
        raise BenchmarkError(f"{path} is not a loadable MaskSR checkpoint: {exc}") from exc
    return LoadedModel(cfg, model.to(device).eval(), int(ckpt.get("step", 0)), ckpt)
