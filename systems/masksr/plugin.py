"""System plugins of the MaskSR family: one registered System per configuration, restoring with a
trained checkpoint (`checkpoints/<name>/` or `--checkpoint NAME=PATH`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.core.errors import AssetError, BenchmarkError
from systems.base import SYSTEMS, RestoreItem, System, SystemInfo
from systems.masksr.config import MaskSRConfig, get_config

PLUGIN_CONFIGS = ("masksr_s", "masksr_m", "masksr_l", "masksr2_s", "masksr2_l", "masksr2_tiny")
CHECKPOINT_ROOT = Path("checkpoints")


class MissingCheckpointError(AssetError):
    """A missing local file, like a missing asset (`doctor` reports it as missing, not failed)."""


def checkpoint_file(name: str, given: str | None) -> Path:
    """The checkpoint file of system `name`: the given path (folder or file) or checkpoints/<name>/."""
    from systems.masksr.trainer import CHECKPOINT
    path = Path(given) if given else CHECKPOINT_ROOT / name
    file = path / CHECKPOINT if path.is_dir() or not path.suffix else path
    if not file.is_file():
        raise MissingCheckpointError(
            f"system '{name}' has no trained checkpoint at {file}. Train one with "
            f"`python -m benchmark train {name} --speech DIR... --noise DIR... --out checkpoints/{name}` "
            f"or pass `--checkpoint {name}=PATH` (a folder holding {CHECKPOINT} or the file itself).")
    return file


class MaskSRSystem(System):
    """Restores with the masked LM: encoder + iterative sampling + DAC decoder (44.1 kHz)."""

    cfg: MaskSRConfig

    def load(self) -> None:
        import torch

        from systems.masksr.codec import Codec
        from systems.masksr.model import MaskSRModel
        from systems.masksr.trainer import load_checkpoint
        file = checkpoint_file(self.info.name, self.config.get("checkpoint"))
        ckpt = load_checkpoint(file)
        cfg = MaskSRConfig.from_dict(ckpt["config"])
        if cfg.name != self.info.name:
            raise BenchmarkError(f"{file} holds a '{cfg.name}' model, not '{self.info.name}'")
        self.model = MaskSRModel(cfg)
        self.model.load_state_dict(ckpt["model"])
        self.model.to(self.device).eval()
        self.codec = Codec(cfg.codec, self.device)
        self.cfg = cfg
        self.step = int(ckpt["step"])
        torch.set_grad_enabled(False)

    def restore(self, items: list[RestoreItem]) -> list[np.ndarray]:
        from systems.masksr.sampler import restore
        seed = int(self.config.get("seed", 0))
        return [restore(self.model, self.codec, np.asarray(it.audio, dtype=np.float32), seed=seed,
                        device=self.device, iterations=self.config.get("iterations"),
                        guidance=self.config.get("guidance"))
                for it in items]


def _system_class(name: str) -> type[System]:
    cfg = get_config(name)
    assets = ("dac_44khz",) if cfg.codec == "dac_44khz" else ()
    info = SystemInfo(
        name=name, version="1", rate=cfg.rate, backend="torch", assets=assets,
        description=(f"{cfg.paper_row or name}: masked LM on DAC tokens, d={cfg.d_model}, "
                     f"{cfg.encoder_blocks}+{cfg.lm_blocks} blocks, {cfg.iterations} iterations, "
                     f"w={cfg.guidance:g}, {cfg.window_seconds:g} s windows"),
        devices=("cpu", "cuda"), max_batch=1, paper_row=cfg.paper_row, extra="codec")
    cls = type(f"MaskSR_{name}", (MaskSRSystem,), {"info": info, "__module__": __name__})
    return cls


for _name in PLUGIN_CONFIGS:
    SYSTEMS.add(_name, lambda n=_name: _system_class(n))
