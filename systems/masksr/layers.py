"""Transformer building blocks shared by the speech encoder and the masked LM (001 Sec. 3.2):
pre-norm blocks with 16 heads, an MLP of 4d, and sinusoidal positions."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def sinusoidal_positions(length: int, dim: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """(length, dim) sinusoidal position encoding (Vaswani et al.)."""
    pos = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32)
                     * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim, device=device)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return pe.to(dtype)


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float = 0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"d_model {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=causal,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(b, t, d))


class TransformerBlock(nn.Module):
    """Pre-norm block: x + Attn(LN(x)); x + MLP(LN(x))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int = 4, dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(),
                                 nn.Linear(mlp_ratio * dim, dim), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), causal=causal)
        return x + self.mlp(self.norm2(x))


class KVCache:
    """Keys and values of every block of a stack for positions 0..length-1 (preallocated)."""

    def __init__(self, stack: TransformerStack, batch: int, length: int, like: torch.Tensor):
        heads = stack.blocks[0].attn.heads if len(stack.blocks) else 1
        shape = (batch, heads, length, stack.dim // heads)
        self.k = [like.new_zeros(shape) for _ in stack.blocks]
        self.v = [like.new_zeros(shape) for _ in stack.blocks]
        self.positions = (sinusoidal_positions(length, stack.dim, like.device, like.dtype)
                          if stack.positions else None)


class TransformerStack(nn.Module):
    """Sinusoidal positions added to the input (unless `positions=False`), N pre-norm blocks, a
    final LayerNorm. `step` runs one position of a causal stack against a `KVCache`."""

    def __init__(self, dim: int, blocks: int, heads: int, mlp_ratio: int = 4, dropout: float = 0.0,
                 positions: bool = True):
        super().__init__()
        self.dim = dim
        self.positions = positions
        self.blocks = nn.ModuleList(TransformerBlock(dim, heads, mlp_ratio, dropout)
                                    for _ in range(blocks))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        if self.positions:
            x = x + sinusoidal_positions(x.shape[1], x.shape[2], x.device, x.dtype)
        for block in self.blocks:
            x = block(x, causal=causal)
        return self.norm(x)

    def step(self, x: torch.Tensor, position: int, cache: KVCache) -> torch.Tensor:
        """(B, d) input at `position` -> (B, d) output, equal to the last row of the causal
        `forward` over positions 0..position (same arithmetic, earlier keys/values cached)."""
        b, d = x.shape
        if cache.positions is not None:
            x = x + cache.positions[position]
        x = x[:, None]
        for i, block in enumerate(self.blocks):
            attn = block.attn
            q, k, v = attn.qkv(block.norm1(x)).view(b, 1, 3, attn.heads, d // attn.heads).permute(2, 0, 3, 1, 4)
            cache.k[i][:, :, position] = k[:, :, 0]
            cache.v[i][:, :, position] = v[:, :, 0]
            y = F.scaled_dot_product_attention(q, cache.k[i][:, :, :position + 1],
                                               cache.v[i][:, :, :position + 1])
            x = x + attn.out(y.transpose(1, 2).reshape(b, 1, d))
            x = x + block.mlp(block.norm2(x))
        return self.norm(x)[:, 0]
