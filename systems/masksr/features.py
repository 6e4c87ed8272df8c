"""Input features of the corrupted speech (001 Sec. 2.2, App. A Table 5), `input_feature=...`
(the table `encoder.INPUT_FEATURES`):

- `stft` (MaskSR's default): |STFT|^0.3 frames aligned with the codegram;
- `waveform`: a learnable 2048-channel Conv1d (kernel 2048, stride 512) + ReLU + LayerNorm, whose
  frames line up with the codegram like the STFT's (zero padding of 1024 samples each side, frame
  t centred on sample t * 512); the config's `input_proj=fc` and 6 encoder blocks follow;
- `dac`: the corrupted input's DAC codegram embedded with the LM's 9 tables (the same tables as
  the target, which gives the published 54 M parameters) and summed, without a speech encoder;
  its config has 14 LM blocks and w = 0.3.
"""

from __future__ import annotations

import torch
from torch import nn


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


class WaveformFeature(nn.Module):
    def __init__(self, channels: int, kernel: int, hop: int):
        super().__init__()
        self.kernel, self.hop, self.channels = kernel, hop, channels
        self.conv = nn.Conv1d(1, channels, kernel, stride=hop)
        self.norm = nn.LayerNorm(channels)

    def frames(self, n_samples: int) -> int:
        return -(-n_samples // self.hop)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:          # (B, N) -> (B, T, C)
        t = self.frames(wave.shape[-1])
        half = self.kernel // 2
        x = nn.functional.pad(wave.float(), (half, t * self.hop - wave.shape[-1] + half))
        y = torch.relu(self.conv(x[:, None, :]))[..., :t]             # drop the extra last frame
        return self.norm(y.transpose(1, 2))


class DacInputEncoder(nn.Module):
    """(B, N) corrupted waveforms -> (B, T, d): sum of the LM's codebook embeddings of the input's
    DAC codegram. No parameters of its own; the frozen codec is not part of the state dict."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        object.__setattr__(self, "_lm", None)       # plain references: not submodules
        object.__setattr__(self, "_codec", None)

    def bind_lm(self, lm: nn.Module) -> None:
        object.__setattr__(self, "_lm", lm)

    def attach_codec(self, codec) -> None:
        object.__setattr__(self, "_codec", codec)

    def tokenise(self, wave: torch.Tensor) -> torch.Tensor:
        if self._codec is None:
            from systems.masksr.codec import Codec
            self.attach_codec(Codec(self.cfg.codec, str(wave.device)))
        with torch.autocast(wave.device.type, enabled=False):
            codes = self._codec.encode(wave.float())
        return codes.to(wave.device).clone()        # a normal tensor (encode runs in inference mode)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self._lm.embed(self.tokenise(wave))
