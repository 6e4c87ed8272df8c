"""Speech encoder of the corrupted input (001 Sec. 2.2, 002 Sec. II): |STFT|^0.3 frames aligned
with the codegram, MaskSR2's per-bin BatchNorm1d, projection to d, transformer blocks."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from systems.masksr.config import MaskSRConfig
from systems.masksr.layers import TransformerStack


class STFTFeature(nn.Module):
    """Power-law compressed magnitude STFT X^0.3; frame t covers samples around t * hop, so that
    frame t lines up with codegram frame t (the last centred frame is dropped)."""

    def __init__(self, n_fft: int, hop: int):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.channels = n_fft // 2 + 1

    def frames(self, n_samples: int) -> int:
        return -(-n_samples // self.hop)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:          # (B, N) -> (B, T, F)
        t = self.frames(wave.shape[-1])
        wave = nn.functional.pad(wave.float(), (0, t * self.hop - wave.shape[-1]))
        spec = torch.stft(wave, self.n_fft, self.hop, window=self.window, center=True,
                          return_complex=True)
        return spec.abs().pow(0.3)[..., :t].transpose(1, 2)


# name -> builder(config) of a module mapping (B, N) waveforms to (B, T, C) frames
INPUT_FEATURES: dict[str, Callable[[MaskSRConfig], nn.Module]] = {
    "stft": lambda cfg: STFTFeature(cfg.n_fft, cfg.hop),
}


class SpeechEncoder(nn.Module):
    def __init__(self, cfg: MaskSRConfig):
        super().__init__()
        if cfg.input_feature not in INPUT_FEATURES:
            raise ValueError(f"unknown input_feature '{cfg.input_feature}'; known: {sorted(INPUT_FEATURES)}")
        self.feature = INPUT_FEATURES[cfg.input_feature](cfg)
        c, d = self.feature.channels, cfg.d_model
        self.norm = nn.BatchNorm1d(c) if cfg.input_norm == "batchnorm" else nn.Identity()
        if cfg.input_proj == "mlp":
            self.proj = nn.Sequential(nn.Linear(c, d), nn.GELU(), nn.Linear(d, d))
        elif cfg.input_proj == "fc":
            self.proj = nn.Linear(c, d)
        else:
            raise ValueError(f"unknown input_proj '{cfg.input_proj}'")
        self.blocks = TransformerStack(d, cfg.encoder_blocks, cfg.heads, cfg.mlp_ratio, cfg.dropout)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:         # (B, N) -> (B, T, d)
        x = self.feature(wave)
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        return self.blocks(self.proj(x))


# input_feature -> builder of a whole encoder replacing SpeechEncoder (issue 6: `dac` input)
ENCODERS: dict[str, Callable[[MaskSRConfig], nn.Module]] = {}


def build_encoder(cfg: MaskSRConfig) -> nn.Module:
    return ENCODERS.get(cfg.input_feature, SpeechEncoder)(cfg)


# issue 6: waveform and DAC input features register themselves (systems/masksr/features.py)
from systems.masksr import features  # noqa: E402,F401
