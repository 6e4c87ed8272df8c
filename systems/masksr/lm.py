"""Masked acoustic LM (001 Sec. 2.3, 002 Sec. II-B): 9 codebook embeddings summed with the
encoder output (or the learned unconditional embedding, for CFG), transformer blocks, 9 heads."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from systems.masksr.config import MaskSRConfig
from systems.masksr.layers import TransformerStack


class TableEmbedding(nn.Module):
    """MaskSR: one (1024 + mask) x d table per codebook; the K embeddings are summed."""

    def __init__(self, cfg: MaskSRConfig):
        super().__init__()
        self.tables = nn.ModuleList(nn.Embedding(cfg.codebook_size + 1, cfg.d_model)
                                    for _ in range(cfg.n_codebooks))

    def forward(self, codes: torch.Tensor) -> torch.Tensor:        # (B, K, T) -> (B, T, d)
        return sum(table(codes[:, k]) for k, table in enumerate(self.tables))


class DacEmbedding(nn.Module):
    """002 App. A: per codebook a (1024 + mask) x 8 table and an 8 -> d output FC, the same
    structure as DAC's quantizer blocks, initialised from them by `init_from_codec`."""

    def __init__(self, cfg: MaskSRConfig, codebook_dim: int = 8):
        super().__init__()
        self.tables = nn.ModuleList(nn.Embedding(cfg.codebook_size + 1, codebook_dim)
                                    for _ in range(cfg.n_codebooks))
        self.projs = nn.ModuleList(nn.Linear(codebook_dim, cfg.d_model)
                                   for _ in range(cfg.n_codebooks))

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return sum(proj(table(codes[:, k]))
                   for k, (table, proj) in enumerate(zip(self.tables, self.projs, strict=True)))

    @torch.no_grad()
    def init_from_codec(self, blocks) -> None:
        """Copy DAC's codebooks (entries 0..1023; the mask entry stays random) and output FCs
        (the first d channels when d < the codec's latent size)."""
        for table, proj, blk in zip(self.tables, self.projs, blocks, strict=True):
            v = blk.table.shape[0]
            table.weight[:v] = torch.as_tensor(blk.table, dtype=table.weight.dtype)
            n = min(proj.out_features, blk.out_weight.shape[0])
            proj.weight[:n] = torch.as_tensor(blk.out_weight[:n], dtype=proj.weight.dtype)
            proj.bias[:n] = torch.as_tensor(blk.out_bias[:n], dtype=proj.bias.dtype)


EMBEDDINGS: dict[str, Callable[[MaskSRConfig], nn.Module]] = {
    "table": TableEmbedding,
    "dac": DacEmbedding,
}


class MaskedLM(nn.Module):
    def __init__(self, cfg: MaskSRConfig):
        super().__init__()
        if cfg.embedding not in EMBEDDINGS:
            raise ValueError(f"unknown embedding '{cfg.embedding}'; known: {sorted(EMBEDDINGS)}")
        self.mask_id = cfg.codebook_size
        self.embed = EMBEDDINGS[cfg.embedding](cfg)
        self.uncond = nn.Parameter(torch.randn(cfg.d_model) * 0.02)   # CFG "unconditional" input
        self.blocks = TransformerStack(cfg.d_model, cfg.lm_blocks, cfg.heads, cfg.mlp_ratio,
                                       cfg.dropout)
        # the 9 output classifiers (d -> 1024 each) as one batched weight: one einsum, no stack
        self.head_weight = nn.Parameter(torch.empty(cfg.n_codebooks, cfg.d_model, cfg.codebook_size))
        self.head_bias = nn.Parameter(torch.zeros(cfg.n_codebooks, cfg.codebook_size))
        bound = 1.0 / cfg.d_model ** 0.5                         # nn.Linear's default init
        nn.init.uniform_(self.head_weight, -bound, bound)
        nn.init.uniform_(self.head_bias, -bound, bound)

    def condition(self, cond: torch.Tensor, drop: torch.Tensor | None) -> torch.Tensor:
        """Replace the encoder output of the items where `drop` is True by the learned embedding."""
        if drop is None:
            return cond
        return torch.where(drop[:, None, None], self.uncond.to(cond.dtype).expand_as(cond), cond)

    def forward(self, codes: torch.Tensor, cond: torch.Tensor,
                drop: torch.Tensor | None = None) -> torch.Tensor:
        """codes (B, K, T) with `mask_id` at masked positions, cond (B, T, d) -> (B, K, T, V)."""
        h = self.blocks(self.embed(codes) + self.condition(cond, drop))
        return torch.einsum("btd,kdv->bktv", h, self.head_weight) + self.head_bias[:, None, :]
