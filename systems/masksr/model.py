"""The MaskSR / MaskSR2 network: speech encoder + masked LM (+ the KD head used only in training)."""

from __future__ import annotations

import torch
from torch import nn

from systems.masksr.config import ConfigError, MaskSRConfig
from systems.masksr.encoder import build_encoder
from systems.masksr.kd import KD_TARGETS, TEACHERS, KDHead
from systems.masksr.lm import DacEmbedding
from systems.masksr.strategies import get_strategy


class MaskSRModel(nn.Module):
    def __init__(self, cfg: MaskSRConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = build_encoder(cfg)           # registry: STFT, waveform or DAC input
        self.lm = get_strategy(cfg.codebook_modelling).build_lm(cfg)   # masked or causal LM
        if hasattr(self.encoder, "bind_lm"):        # DAC input shares the LM's tables (001 App. A)
            self.encoder.bind_lm(self.lm)
        self.kd_head = None
        if cfg.kd_target != "none":
            if cfg.kd_target not in KD_TARGETS:
                raise ConfigError(f"unknown kd_target '{cfg.kd_target}'; known: none, {sorted(KD_TARGETS)}")
            dim = KD_TARGETS[cfg.kd_target].dim(TEACHERS[cfg.kd_teacher])
            self.kd_head = KDHead(cfg.d_model, dim)

    def init_from_codec(self, codec) -> None:
        """002 App. A initialisation of every `dac` embedding of the LM (UniAudio has two)."""
        for module in self.lm.modules():
            if isinstance(module, DacEmbedding):
                module.init_from_codec(codec.codebook_blocks())
        if hasattr(self.encoder, "attach_codec"):   # DAC input: tokenise with the loaded codec
            self.encoder.attach_codec(codec)

    def forward(self, wave: torch.Tensor, codes: torch.Tensor, drop: torch.Tensor | None = None,
                kd_frames: int | None = None):
        """wave (B, N) corrupted input, codes (B, K, T) masked codegram -> (logits, kd prediction)."""
        h = self.encoder(wave)
        logits = self.lm(codes, h, drop)
        kd = self.kd_head(h, kd_frames) if (self.kd_head is not None and kd_frames) else None
        return logits, kd

    def inference_parameters(self) -> int:
        """Parameters used at inference (the KD head is discarded, 002 Fig. 1)."""
        n = sum(p.numel() for p in self.parameters())
        return n - (sum(p.numel() for p in self.kd_head.parameters()) if self.kd_head else 0)
