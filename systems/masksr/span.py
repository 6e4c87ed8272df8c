"""Span masking for training (002 App. B), option `span=l` of any parallel-strategy config.

1. A global ratio r_g (MaskGIT cosine schedule) marks 9 * T * r_g random tokens of the codegram;
   counting them per codebook gives the codebook ratios r_k (the token mask itself is not used).
2. As in MAGNET, codebook k gets u_k spans of length l starting at distinct random frames
   (overlaps merge, a span running past the end is cut), u_k chosen so that the expected masked
   fraction equals r_k. The expected fraction for u spans is computed exactly, edges included:
   frame t is left unmasked iff none of the min(t + 1, l) starts that would cover it is drawn,
   P = C(T - m_t, u) / C(T, u). u_k is rounded stochastically between the two neighbouring
   counts so that E[masked fraction] = r_k exactly (MAGNET rounds to the nearest count).

Inference re-masks whole non-overlapping spans by their maximum token score
(`decoding.iterative_decode`)."""

from __future__ import annotations

import math
from functools import lru_cache

import torch


@lru_cache(maxsize=64)
def expected_coverage(frames: int, span: int) -> torch.Tensor:
    """(frames + 1,) float64: expected masked fraction of a sequence of `frames` tokens with u
    spans of length `span` at distinct uniform start frames, for u = 0..frames."""
    u = torch.arange(frames + 1, dtype=torch.float64)[:, None]
    m = torch.clamp(torch.arange(frames, dtype=torch.float64) + 1, max=span)      # covering starts
    # C(T - m, u) / C(T, u) = prod_{i < m} (T - u - i) / (T - i)
    free = torch.ones(frames + 1, frames, dtype=torch.float64)
    for i in range(span):
        factor = ((frames - u - i) / (frames - i)).clamp(min=0.0)
        free = free * torch.where(m > i, factor, torch.ones_like(factor))
    return (1.0 - free).mean(dim=1)


def spans_for_ratio(ratios: torch.Tensor, frames: int, span: int, generator: torch.Generator) -> torch.Tensor:
    """Number of spans (long, same shape as `ratios`) whose expected coverage is `ratios` on average."""
    cov = expected_coverage(frames, span).to(ratios.device)
    r = ratios.double().clamp(0.0, 1.0)
    high = torch.searchsorted(cov, r.contiguous()).clamp(max=frames)     # first u with cov >= r
    low = (high - 1).clamp(min=0)
    c_low, c_high = cov[low], cov[high]
    p = torch.where(c_high > c_low, (r - c_low) / (c_high - c_low), torch.ones_like(r))
    up = torch.rand(r.shape, generator=generator, device=r.device, dtype=torch.float64) < p
    return torch.where(up, high, low)


def mask_from_starts(starts: torch.Tensor, span: int) -> torch.Tensor:
    """(..., T) bool starts -> (..., T) bool mask: each start masks itself and the next span - 1
    frames (cut at the end of the sequence)."""
    mask = starts.clone()
    shifted = starts
    for _ in range(span - 1):
        shifted = torch.nn.functional.pad(shifted[..., :-1], (1, 0), value=False)
        mask |= shifted
    return mask


def span_mask(shape: tuple[int, int, int], global_ratios: torch.Tensor, span: int,
              generator: torch.Generator, device=None) -> torch.Tensor:
    """(B, K, T) bool span mask whose expected masked fraction is `global_ratios` (B,)."""
    b, k, t = shape
    device = device if device is not None else global_ratios.device
    counts = torch.clamp((global_ratios * k * t).round().long(), min=1)
    rank = torch.rand(b, k * t, generator=generator, device=device).argsort(1).argsort(1)
    per_codebook = (rank < counts[:, None]).view(b, k, t).sum(-1)                  # (B, K)
    n_spans = spans_for_ratio(per_codebook.double() / t, t, span, generator)
    # never an empty mask: a sample whose draws gave no span at all gets one in its fullest codebook
    empty = n_spans.sum(-1) == 0
    if bool(empty.any()):
        fullest = per_codebook.argmax(-1)
        n_spans[empty, fullest[empty]] = 1
    start_rank = torch.rand(b, k, t, generator=generator, device=device).argsort(-1).argsort(-1)
    return mask_from_starts(start_rank < n_spans[..., None], span)


def cosine_ratios(batch: int, generator: torch.Generator, device=None) -> torch.Tensor:
    """MaskGIT training ratios r = cos(pi/2 u), u ~ U(0, 1)."""
    u = torch.rand(batch, generator=generator, device=device)
    return torch.cos(math.pi / 2 * u)
