"""Iterative (MaskGIT) decoding generalised for the ablations (issue 6): decode only a subset of
codebooks (SoundStorm's codebook 1) and re-mask whole non-overlapping spans (002 App. B).

With every codebook editable and span 1 this draws the same random numbers in the same order as
`sampler.parallel_decode`, so it yields the same tokens (tested)."""

from __future__ import annotations

import math

import torch

from systems.masksr.sampler import _gumbel, guided_logits, masked_count, noise_variance


def guided_forward(lm, codes: torch.Tensor, cond: torch.Tensor, guidance: float) -> torch.Tensor:
    """(B, K, T, V) float logits; with w != 0 cond and uncond run as one doubled batch (CFG)."""
    if guidance == 0.0:
        return lm(codes, cond).float()
    b = codes.shape[0]
    drop = torch.cat([torch.zeros(b, dtype=torch.bool), torch.ones(b, dtype=torch.bool)]).to(cond.device)
    both = lm(torch.cat([codes, codes]), torch.cat([cond, cond]), drop).float()
    return guided_logits(both[:b], both[b:], guidance)


def span_view(x: torch.Tensor, span: int, fill) -> torch.Tensor:
    """(B, K, T) -> (B, K, ceil(T / span), span), the last span padded with `fill`."""
    t = x.shape[-1]
    units = -(-t // span)
    x = torch.nn.functional.pad(x, (0, units * span - t), value=fill)
    return x.view(*x.shape[:-1], units, span)


@torch.no_grad()
def iterative_decode(lm, cond: torch.Tensor, codes: torch.Tensor, levels: list[int], span: int,
                     iterations: int, guidance: float, noise_var_start: float = 4.0,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """MaskGIT over the masked tokens of codebooks `levels` of `codes` (B, K, T); other codebooks
    are kept as given (known lower ones, or masked higher ones that stay masked).

    Per iteration: sample every masked token (Gumbel-max of the guided log-probabilities), score a
    span by the maximum log-probability of its sampled tokens, add Gaussian noise (variance
    falling linearly from `noise_var_start` to 0) and re-mask the lowest-scoring spans so that
    floor(U cos(pi/2 (i+1)/n)) of the U spans stay masked after iteration i."""
    b, k, t = codes.shape
    mask_id = lm.mask_id
    device = codes.device
    editable = torch.zeros(k, dtype=torch.bool, device=device)
    editable[list(levels)] = True
    units = -(-t // span)
    total = len(levels) * units
    for i in range(iterations):
        masked = (codes == mask_id) & editable[None, :, None]
        logp = torch.log_softmax(guided_forward(lm, codes, cond, guidance), dim=-1)
        sampled = (logp + _gumbel(logp.shape, generator, device)).argmax(-1)
        score = logp.gather(-1, sampled[..., None])[..., 0]
        candidate = torch.where(masked, sampled, codes)
        unit_score = span_view(score, span, float("-inf")).amax(-1)           # (B, K, U)
        std = math.sqrt(noise_variance(i, iterations, noise_var_start))
        if std > 0:
            unit_score = unit_score + std * torch.randn(unit_score.shape, generator=generator, device=device)
        unit_masked = span_view(masked, span, False).any(-1)
        unit_score = torch.where(unit_masked, unit_score, torch.full_like(unit_score, float("inf")))
        n_mask = masked_count(i, iterations, total)
        if n_mask > 0:
            flat = unit_score.reshape(b, -1)
            lowest = flat.topk(n_mask, dim=1, largest=False).indices
            remask = torch.zeros_like(flat, dtype=torch.bool).scatter_(1, lowest, True).view(b, k, units)
            remask = remask.repeat_interleave(span, dim=-1)[..., :t]
            candidate = torch.where(remask, torch.full_like(candidate, mask_id), candidate)
        codes = candidate
    return codes
