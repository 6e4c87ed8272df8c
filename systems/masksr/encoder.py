"""Speech encoder of the corrupted input (001 Sec. 2.2, 002 Sec. II): input features (`features.py`,
|STFT|^0.3 frames aligned with the codegram by default), MaskSR2's per-bin BatchNorm1d, projection
to d, transformer blocks."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from systems.masksr.config import ConfigError, MaskSRConfig
from systems.masksr.features import DacInputEncoder, STFTFeature, WaveformFeature
from systems.masksr.layers import TransformerStack

# name -> builder(config) of a module mapping (B, N) waveforms to (B, T, C) frames
INPUT_FEATURES: dict[str, Callable[[MaskSRConfig], nn.Module]] = {
    "stft": lambda cfg: STFTFeature(cfg.n_fft, cfg.hop),
    "waveform": lambda cfg: WaveformFeature(cfg.n_fft, cfg.n_fft, cfg.hop),
    "dac": DacInputEncoder,      # listed for error messages; built through ENCODERS
}


# input_proj -> builder(channels, d): MaskSR's MLP (001 Sec. 2.2) or MaskSR2's FC (002 Sec. II)
PROJECTIONS: dict[str, Callable[[int, int], nn.Module]] = {
    "mlp": lambda c, d: nn.Sequential(nn.Linear(c, d), nn.GELU(), nn.Linear(d, d)),
    "fc": nn.Linear,
}


class SpeechEncoder(nn.Module):
    def __init__(self, cfg: MaskSRConfig):
        super().__init__()
        if cfg.input_feature not in INPUT_FEATURES:
            raise ConfigError(f"unknown input_feature '{cfg.input_feature}'; known: {sorted(INPUT_FEATURES)}")
        self.feature = INPUT_FEATURES[cfg.input_feature](cfg)
        c, d = self.feature.channels, cfg.d_model
        self.norm = nn.BatchNorm1d(c) if cfg.input_norm == "batchnorm" else nn.Identity()
        if cfg.input_proj not in PROJECTIONS:
            raise ConfigError(f"unknown input_proj '{cfg.input_proj}'; known: {sorted(PROJECTIONS)}")
        self.proj = PROJECTIONS[cfg.input_proj](c, d)
        self.blocks = TransformerStack(d, cfg.encoder_blocks, cfg.heads, cfg.mlp_ratio, cfg.dropout)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:         # (B, N) -> (B, T, d)
        x = self.feature(wave)
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        return self.blocks(self.proj(x))


# input_feature -> builder of a whole encoder replacing SpeechEncoder (001 App. A: `dac` input
# shares the LM's tables and has no speech encoder)
ENCODERS: dict[str, Callable[[MaskSRConfig], nn.Module]] = {"dac": DacInputEncoder}


def build_encoder(cfg: MaskSRConfig) -> nn.Module:
    return ENCODERS.get(cfg.input_feature, SpeechEncoder)(cfg)
