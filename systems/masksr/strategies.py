"""Codebook modelling strategies (001 Sec. 2.4): how training masks the codegram and how the
sampler decodes it. MaskSR's `parallel` strategy is registered here; SoundStorm/UniAudio and span
masking (issue 6) add entries to STRATEGIES without touching the model or the trainer."""

from __future__ import annotations

import math

import torch

from systems.masksr.sampler import parallel_decode


class CodebookStrategy:
    name = ""

    def training_mask(self, codes: torch.Tensor, cfg, generator: torch.Generator) -> torch.Tensor:
        """(B, K, T) bool: True where the input token is masked and the loss is applied."""
        raise NotImplementedError

    def decode(self, lm, cond, cfg, generator, iterations: int, guidance: float) -> torch.Tensor:
        raise NotImplementedError


class ParallelStrategy(CodebookStrategy):
    """MaskGIT over the whole 9 x T codegram at once: a cosine-distributed mask ratio per sample."""
    name = "parallel"

    def training_mask(self, codes, cfg, generator):
        if cfg.span != 1:
            raise NotImplementedError("span masking (002 App. B) is not implemented yet (issue 6)")
        b = codes.shape[0]
        total = codes[0].numel()
        u = torch.rand(b, generator=generator, device=codes.device)
        counts = torch.clamp((torch.cos(math.pi / 2 * u) * total).round().long(), min=1)
        rank = torch.rand(b, total, generator=generator, device=codes.device).argsort(1).argsort(1)
        return (rank < counts[:, None]).view_as(codes)

    def decode(self, lm, cond, cfg, generator, iterations, guidance):
        return parallel_decode(lm, cond, iterations, guidance, cfg.n_codebooks,
                               cfg.noise_var_start, generator)


STRATEGIES: dict[str, CodebookStrategy] = {"parallel": ParallelStrategy()}


def get_strategy(name: str) -> CodebookStrategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown codebook_modelling '{name}'; known: {sorted(STRATEGIES)}") from None
