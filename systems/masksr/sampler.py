"""Restoring with a MaskSR-family model (001 Sec. 2.3 / 3.2, 002 Sec. II-B / III-B): the input cut
into non-overlapping windows, all windows encoded and decoded as one batch by the configuration's
codebook strategy (`strategies.STRATEGIES`), the codegram decoded to audio by the codec."""

from __future__ import annotations

import numpy as np
import torch

from systems.masksr.strategies import get_strategy


def split_windows(wave: np.ndarray, window: int) -> tuple[np.ndarray, int]:
    """Pad a waveform to whole non-overlapping windows: (n_windows, window) and the true length."""
    n = len(wave)
    count = max(1, -(-n // window))
    padded = np.zeros(count * window, dtype=np.float32)
    padded[:n] = wave
    return padded.reshape(count, window), n


def model_device(model: torch.nn.Module) -> torch.device:
    """The device the model's parameters live on (the one place the sampler takes it from)."""
    return next(model.parameters()).device


@torch.no_grad()
def sample_codegrams(model, waves: torch.Tensor, seed: int = 0, iterations: int | None = None,
                     guidance: float | None = None) -> torch.Tensor:
    """(B, N) corrupted windows -> (B, K, T) codegrams, decoded together as one batch on the
    model's device."""
    cfg = model.cfg
    device = model_device(model)
    waves = waves.to(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    cond = model.encoder(waves)
    return get_strategy(cfg.codebook_modelling).decode(
        model.lm, cond, cfg, generator,
        iterations=cfg.iterations if iterations is None else iterations,
        guidance=cfg.guidance if guidance is None else guidance)


@torch.inference_mode()
def restore(model, codec, wave: np.ndarray, seed: int = 0, iterations: int | None = None,
            guidance: float | None = None) -> np.ndarray:
    """Restore one 44.1 kHz waveform: windows -> encoder -> iterative decoding -> codec decoder
    (in inference mode for this call only)."""
    windows, n = split_windows(wave, model.cfg.window_frames * model.cfg.hop)
    codes = sample_codegrams(model, torch.from_numpy(windows), seed, iterations, guidance)
    out = codec.decode(codes).float().cpu().numpy().reshape(-1)
    return out[:n].astype(np.float32)
