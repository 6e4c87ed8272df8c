"""System plugins of the MaskSR family: one registered System per configuration, restoring with a
trained checkpoint (`checkpoints/<name>/` or `--checkpoint NAME=PATH`), with its EMA weights when
it has them (the weights `train sweep-guidance` chose w with). Config keys: `checkpoint`, `seed`,
`guidance`, `iterations`, `precision` (fp32 | bf16 | tf32, CUDA), `batch_windows`, `normalize`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from benchmark.core.errors import AssetError, BenchmarkError
from systems.base import SYSTEMS, RestoreItem, System, SystemInfo
from systems.masksr.config import MaskSRConfig, get_config

# 2: EMA weights when the checkpoint has them, level normalisation, the joined codegram decoded in
# overlapping chunks; a loaded instance's version adds "+ema" or "+model" (the weights it holds),
# and so does the info the runner keys and stores its outputs under (`keyed_info`, before loading)
VERSION = "2"
MAX_BATCH = 8                      # items per restore() call; their windows share LM batches
PLUGIN_CONFIGS = ("masksr_s", "masksr_m", "masksr_l", "masksr2_s", "masksr2_l", "masksr2_tiny")
CHECKPOINT_ROOT = Path("checkpoints")


class MissingCheckpointError(AssetError):
    """A missing local file, like a missing asset (`doctor` reports it as missing, not failed)."""


def checkpoint_file(name: str, given: str | None) -> Path:
    """The checkpoint file of system `name`: the given path (folder or file) or checkpoints/<name>/."""
    from systems.masksr.checkpoint import CHECKPOINT
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
    checkpoint_name: str = ""          # the configuration whose trained checkpoint is used
    default_guidance: float | None = None   # a row decoded at another w than the config's
    precisions = ("fp32", "bf16", "tf32")   # `run --precision` (sampler.PRECISIONS)

    @classmethod
    def prerequisites(cls, config: dict) -> list[str]:
        """The trained checkpoint, checked before a run starts (benchmark.run.preflight)."""
        try:
            checkpoint_file(cls.checkpoint_name, (config or {}).get("checkpoint"))
        except MissingCheckpointError as exc:
            return [str(exc)]
        return []

    @classmethod
    def keyed_info(cls, config: dict) -> SystemInfo:
        """The class info with the version a loaded instance will report ("2+ema" / "2+model"),
        told from the checkpoint file without loading it, so the runner's cache key and stored
        system row say which weights restored the outputs. A missing or unreadable checkpoint:
        the class info (the preflight / `load` then stops the run with its own message)."""
        from systems.masksr.checkpoint import checkpoint_fingerprint, weights_in_file
        try:
            file = checkpoint_file(cls.checkpoint_name, (config or {}).get("checkpoint"))
            which = weights_in_file(file)
            fingerprint = checkpoint_fingerprint(file)
        except (BenchmarkError, OSError):
            return cls.info
        return weights_info(cls.info, which, fingerprint)

    def load(self) -> None:
        from systems.masksr.checkpoint import checkpoint_fingerprint, load_model
        from systems.masksr.codec import Codec
        file = checkpoint_file(self.checkpoint_name, self.config.get("checkpoint"))
        loaded = load_model(file, self.device)
        if loaded.cfg.name != self.checkpoint_name:
            raise BenchmarkError(f"{file} holds a '{loaded.cfg.name}' model, not '{self.checkpoint_name}'")
        self.model, self.cfg, self.step = loaded.model, loaded.cfg, loaded.step
        self.weights = loaded.weights
        # the instance's version names the weights it restores with (= keyed_info's, told before loading)
        self.info = weights_info(type(self).info, loaded.weights, checkpoint_fingerprint(file))
        self.codec = Codec(self.cfg.codec, self.device)
        self.options = inference_options(self.config)

    def restore(self, items: list[RestoreItem]) -> list[np.ndarray]:
        from systems.masksr.sampler import restore_batch  # inference mode for the call only
        seed = int(self.config.get("seed", 0))
        guidance = self.config.get("guidance", self.default_guidance)
        return restore_batch(self.model, self.codec, [np.asarray(it.audio, dtype=np.float32) for it in items],
                             seed=seed, iterations=self.config.get("iterations"), guidance=guidance,
                             options=self.options)


def weights_info(info: SystemInfo, weights: str, fingerprint: str = "") -> SystemInfo:
    """The class info of a system restoring with `weights` ("ema" | "model") of the checkpoint whose
    file sha256 is `fingerprint`: version "2+ema@<12 hex>", so the cache key and the stored system
    row name both the weights and the exact checkpoint file."""
    version = f"{info.version}+{weights}" + (f"@{fingerprint[:12]}" if fingerprint else "")
    return dataclasses.replace(info, version=version)


def inference_options(config: dict):
    """The sampler's options from a system config (`--config` of `run`)."""
    from systems.masksr.sampler import InferenceOptions
    known = {"precision": str, "batch_windows": int, "decode_frames": int, "normalize": bool}
    given = {k: known[k](v) if not (known[k] is bool and isinstance(v, str))
             else v.lower() in ("1", "true", "yes") for k, v in config.items() if k in known}
    return InferenceOptions(**given)


PAPERS = {"001": "MaskSR (001)", "002": "MaskSR2 (002)"}
DECODERS = {"parallel": "masked LM", "soundstorm": "masked LM, SoundStorm decoding",
            "uniaudio": "UniAudio multi-scale autoregressive LM"}


def system_class(name: str, config: str | None = None, guidance: float | None = None,
                 paper_row: str | None = None) -> type[System]:
    """The System of configuration `config` (default: `name`), registered as `name`; with
    `guidance` it decodes that configuration's checkpoint at another w (002's MaskSR-S w = 0)."""
    cfg = get_config(config or name)
    w = cfg.guidance if guidance is None else guidance
    row = cfg.paper_row if paper_row is None else paper_row
    assets = ("dac_44khz",) if cfg.codec == "dac_44khz" else ()
    steps = (f"{cfg.n_codebooks} x {cfg.window_frames} steps" if cfg.codebook_modelling == "uniaudio"
             else f"{cfg.iterations} iterations")
    info = SystemInfo(
        name=name, version=VERSION, rate=cfg.rate, backend="torch", assets=assets,
        description=(f"{PAPERS.get(cfg.paper, 'test configuration')} {row or name}: "
                     f"{DECODERS[cfg.codebook_modelling]} on DAC tokens, d={cfg.d_model}, "
                     f"{cfg.encoder_blocks}+{cfg.lm_blocks} blocks, {steps}, w={w:g}, "
                     f"{cfg.window_seconds:g} s windows ({cfg.window_frames} frames); "
                     f"EMA weights when the checkpoint has them"),
        devices=("cpu", "cuda"), max_batch=MAX_BATCH, paper_row=row, extra="codec")
    attrs = {"info": info, "__module__": __name__, "checkpoint_name": cfg.name,
             "default_guidance": guidance}
    return type(f"MaskSR_{name}", (MaskSRSystem,), attrs)


for _name in PLUGIN_CONFIGS:
    SYSTEMS.add(_name, lambda n=_name: system_class(n))
