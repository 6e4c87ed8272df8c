"""MaskSR's parallel codebook modelling (001 Sec. 2.3): MaskGIT over the whole 9 x T codegram at
once, a cosine-distributed mask ratio per training sample; with `span > 1` the masks are whole
spans (002 App. B, `span.py`) and decoding re-masks whole spans."""

from __future__ import annotations

import math

import torch

from systems.masksr.decoding import parallel_decode
from systems.masksr.span import cosine_ratios, span_mask
from systems.masksr.strategy_base import CodebookStrategy


def token_mask(codes: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """(B, K, T) bool: round(cos(pi/2 u) K T) random tokens per sample (at least one), u ~ U(0, 1)."""
    b = codes.shape[0]
    total = codes[0].numel()
    u = torch.rand(b, generator=generator, device=codes.device)
    counts = torch.clamp((torch.cos(math.pi / 2 * u) * total).round().long(), min=1)
    rank = torch.rand(b, total, generator=generator, device=codes.device).argsort(1).argsort(1)
    return (rank < counts[:, None]).view_as(codes)


class ParallelStrategy(CodebookStrategy):
    name = "parallel"

    def training_mask(self, codes, cfg, generator):
        if cfg.span == 1:
            return token_mask(codes, generator)
        ratios = cosine_ratios(codes.shape[0], generator, codes.device)
        return span_mask(tuple(codes.shape), ratios, cfg.span, generator, codes.device)

    def decode(self, lm, cond, cfg, generator, iterations, guidance):
        return parallel_decode(lm, cond, iterations, guidance, cfg.n_codebooks, cfg.noise_var_start,
                               generator, span=cfg.span, score=cfg.score)
