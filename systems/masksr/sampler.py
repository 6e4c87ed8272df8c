"""MaskGIT iterative decoding as MaskSR specifies it (001 Sec. 2.3, 002 Sec. II-B): cosine re-mask
schedule, Gaussian noise on the scores with variance falling linearly 4 -> 0, classifier-free
guidance from one batched conditional + unconditional forward, all windows decoded as one batch."""

from __future__ import annotations

import math

import numpy as np
import torch


def masked_count(iteration: int, iterations: int, total: int) -> int:
    """Tokens still masked after `iteration` (0-based): floor(total * cos(pi/2 * (i+1)/n)); 0 at the end."""
    if iteration >= iterations - 1:
        return 0
    return int(math.floor(total * math.cos(math.pi / 2 * (iteration + 1) / iterations)))


def noise_variance(iteration: int, iterations: int, start: float = 4.0) -> float:
    """Variance of the score noise: linear from `start` at the first iteration to 0 at the last."""
    if iterations <= 1:
        return 0.0
    return start * (1.0 - iteration / (iterations - 1))


def guided_logits(cond: torch.Tensor, uncond: torch.Tensor, w: float) -> torch.Tensor:
    """l = (1 + w) l_c - w l_u."""
    return (1.0 + w) * cond - w * uncond


def _gumbel(shape, generator, device) -> torch.Tensor:
    u = torch.rand(shape, generator=generator, device=device).clamp_(1e-10, 1.0 - 1e-10)
    return -torch.log(-torch.log(u))


@torch.no_grad()
def parallel_decode(lm, cond: torch.Tensor, iterations: int, guidance: float, n_codebooks: int,
                    noise_var_start: float = 4.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """Decode (B, K, T) codegrams from encoder outputs `cond` (B, T, d), starting fully masked."""
    b, t, _ = cond.shape
    device = cond.device
    mask_id = lm.mask_id
    codes = torch.full((b, n_codebooks, t), mask_id, dtype=torch.long, device=device)
    total = n_codebooks * t
    drop = torch.cat([torch.zeros(b, dtype=torch.bool), torch.ones(b, dtype=torch.bool)]).to(device)
    cond2 = torch.cat([cond, cond])
    for i in range(iterations):
        masked = codes == mask_id
        if guidance == 0.0:
            logits = lm(codes, cond).float()
        else:
            both = lm(torch.cat([codes, codes]), cond2, drop).float()   # one batched forward
            logits = guided_logits(both[:b], both[b:], guidance)
        logp = torch.log_softmax(logits, dim=-1)
        sampled = (logp + _gumbel(logp.shape, generator, device)).argmax(-1)
        score = logp.gather(-1, sampled[..., None])[..., 0]
        std = math.sqrt(noise_variance(i, iterations, noise_var_start))
        if std > 0:
            score = score + std * torch.randn(score.shape, generator=generator, device=device)
        candidate = torch.where(masked, sampled, codes)
        score = torch.where(masked, score, torch.full_like(score, float("inf")))  # decided tokens stay
        n_mask = masked_count(i, iterations, total)
        if n_mask > 0:
            flat = score.view(b, -1)
            lowest = flat.topk(n_mask, dim=1, largest=False).indices
            remask = torch.zeros_like(flat, dtype=torch.bool).scatter_(1, lowest, True).view_as(codes)
            candidate = torch.where(remask, torch.full_like(candidate, mask_id), candidate)
        codes = candidate
    return codes


def split_windows(wave: np.ndarray, window: int) -> tuple[np.ndarray, int]:
    """Pad a waveform to whole non-overlapping windows: (n_windows, window) and the true length."""
    n = len(wave)
    count = max(1, -(-n // window))
    padded = np.zeros(count * window, dtype=np.float32)
    padded[:n] = wave
    return padded.reshape(count, window), n


@torch.no_grad()
def sample_codegrams(model, waves: torch.Tensor, seed: int = 0, iterations: int | None = None,
                     guidance: float | None = None) -> torch.Tensor:
    """(B, N) corrupted windows -> (B, K, T) codegrams, decoded together as one batch."""
    from systems.masksr.strategies import get_strategy
    cfg = model.cfg
    generator = torch.Generator(device=waves.device).manual_seed(seed)
    cond = model.encoder(waves)
    return get_strategy(cfg.codebook_modelling).decode(
        model.lm, cond, cfg, generator,
        iterations=cfg.iterations if iterations is None else iterations,
        guidance=cfg.guidance if guidance is None else guidance)


@torch.no_grad()
def restore(model, codec, wave: np.ndarray, seed: int = 0, device: str = "cpu",
            iterations: int | None = None, guidance: float | None = None) -> np.ndarray:
    """Restore one 44.1 kHz waveform: windows -> encoder -> iterative decoding -> DAC decoder."""
    windows, n = split_windows(wave, model.cfg.window_frames * model.cfg.hop)
    codes = sample_codegrams(model, torch.from_numpy(windows).to(device), seed, iterations, guidance)
    out = codec.decode(codes).float().cpu().numpy().reshape(-1)
    return out[:n].astype(np.float32)
