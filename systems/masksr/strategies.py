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

    def lm_inputs(self, codes: torch.Tensor, mask: torch.Tensor, mask_id: int) -> torch.Tensor:
        """The LM's input codegram for a training mask (default: masked tokens -> mask_id)."""
        return torch.where(mask, torch.full_like(codes, mask_id), codes)

    def build_lm(self, cfg):
        """The LM this strategy decodes with (default: the bidirectional masked LM)."""
        from systems.masksr.lm import MaskedLM
        return MaskedLM(cfg)


class ParallelStrategy(CodebookStrategy):
    """MaskGIT over the whole 9 x T codegram at once: a cosine-distributed mask ratio per sample."""
    name = "parallel"

    def training_mask(self, codes, cfg, generator):
        if cfg.span != 1:          # 002 App. B span masking (systems/masksr/span.py)
            from systems.masksr.span import cosine_ratios, span_mask
            ratios = cosine_ratios(codes.shape[0], generator, codes.device)
            return span_mask(tuple(codes.shape), ratios, cfg.span, generator, codes.device)
        b = codes.shape[0]
        total = codes[0].numel()
        u = torch.rand(b, generator=generator, device=codes.device)
        counts = torch.clamp((torch.cos(math.pi / 2 * u) * total).round().long(), min=1)
        rank = torch.rand(b, total, generator=generator, device=codes.device).argsort(1).argsort(1)
        return (rank < counts[:, None]).view_as(codes)

    def decode(self, lm, cond, cfg, generator, iterations, guidance):
        if cfg.span != 1:          # re-mask whole spans by their max score (002 App. B)
            from systems.masksr.decoding import iterative_decode
            codes = torch.full((cond.shape[0], cfg.n_codebooks, cond.shape[1]), lm.mask_id,
                               dtype=torch.long, device=cond.device)
            return iterative_decode(lm, cond, codes, list(range(cfg.n_codebooks)), cfg.span,
                                    iterations, guidance, cfg.noise_var_start, generator)
        return parallel_decode(lm, cond, iterations, guidance, cfg.n_codebooks,
                               cfg.noise_var_start, generator)


STRATEGIES: dict[str, CodebookStrategy] = {"parallel": ParallelStrategy()}


def get_strategy(name: str) -> CodebookStrategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown codebook_modelling '{name}'; known: {sorted(STRATEGIES)}") from None


# issue 6: the SoundStorm and UniAudio strategies register themselves into STRATEGIES
from systems.masksr import soundstorm, uniaudio  # noqa: E402,F401
