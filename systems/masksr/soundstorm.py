"""SoundStorm codebook modelling (001 Sec. 2.4), `codebook_modelling=soundstorm`.

Training: each sample draws one codebook k; a MaskGIT cosine ratio of its tokens is masked and
predicted; codebooks below k are given, codebooks above k are fully masked in the input but carry
no loss. Inference: codebook 1 by iterative sampling, then codebooks 2..9 greedily with one LM pass
each; `cfg.iterations` counts all passes (48 = 40 + 8 for 9 codebooks, 001 Sec. 3.2)."""

from __future__ import annotations

import math

import torch

from benchmark.core.errors import BenchmarkError
from systems.masksr.decoding import fully_masked, guided_forward, iterative_decode
from systems.masksr.strategy_base import CodebookStrategy


def chosen_codebook(mask: torch.Tensor) -> torch.Tensor:
    """(B, K, T) training mask -> (B,) index of the codebook being predicted."""
    return mask.any(-1).float().argmax(-1)


class SoundStormStrategy(CodebookStrategy):
    name = "soundstorm"

    def training_mask(self, codes, cfg, generator):
        if cfg.span != 1:
            raise BenchmarkError("span masking is defined for the parallel strategy only (002 App. B)")
        b, k, t = codes.shape
        device = codes.device
        level = torch.randint(k, (b,), generator=generator, device=device)
        u = torch.rand(b, generator=generator, device=device)
        counts = torch.clamp((torch.cos(math.pi / 2 * u) * t).round().long(), min=1)
        rank = torch.rand(b, t, generator=generator, device=device).argsort(1).argsort(1)
        chosen = rank < counts[:, None]                                           # (B, T)
        on_level = torch.arange(k, device=device)[None, :] == level[:, None]     # (B, K)
        return on_level[:, :, None] & chosen[:, None, :]

    def lm_inputs(self, codes, mask, mask_id):
        above = torch.arange(codes.shape[1], device=codes.device)[None, :] > chosen_codebook(mask)[:, None]
        hidden = mask | above[:, :, None]
        return torch.where(hidden, torch.full_like(codes, mask_id), codes)

    def decode(self, lm, cond, cfg, generator, iterations, guidance):
        k = cfg.n_codebooks
        first = iterations - (k - 1)
        if first < 1:
            raise BenchmarkError(f"soundstorm needs more than {k - 1} iterations (one per codebook "
                                 f"after the first), got {iterations}")
        codes = iterative_decode(lm, cond, fully_masked(lm, cond, k), [0], 1, first, guidance,
                                 cfg.noise_var_start, generator, cfg.score)
        for level in range(1, k):
            logits = guided_forward(lm, codes, cond, guidance)
            codes[:, level] = logits[:, level].argmax(-1)
        return codes
