"""The interface of a codebook modelling strategy (001 Sec. 2.4): how training masks the codegram,
what the LM sees for a training mask, which LM it decodes with and how the sampler decodes."""

from __future__ import annotations

import torch

from systems.masksr.lm import MaskedLM


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

    def build_lm(self, cfg) -> torch.nn.Module:
        """The LM this strategy decodes with (default: the bidirectional masked LM)."""
        return MaskedLM(cfg)
