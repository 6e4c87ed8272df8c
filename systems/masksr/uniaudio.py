"""UniAudio codebook modelling (001 Sec. 2.4), `codebook_modelling=uniaudio`: a causal LM that runs
autoregressively over time and codebooks, 9 x T steps per window, decoded with a KV cache.

The codegram is flattened frame-major (frame 1 codebooks 1..9, frame 2 codebooks 1..9, ...). The
input at flat position p is the previous token (a BOS = mask token at p = 0) embedded with its own
codebook's table, plus the encoder output of p's frame (or the CFG embedding) and a learned
embedding of the codebook p predicts; the LM's transformer runs causally over the 9T positions
and p's codebook head gives its logits. Same encoder, tables, blocks and heads as MaskSR-S (plus
9 x d level embeddings), trained by the same trainer with a loss on every token."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.core.errors import BenchmarkError
from systems.masksr.layers import sinusoidal_positions
from systems.masksr.lm import MaskedLM
from systems.masksr.sampler import _gumbel, guided_logits
from systems.masksr.strategies import STRATEGIES, CodebookStrategy


def previous_tokens(codes: torch.Tensor, bos: int) -> torch.Tensor:
    """(B, K, T) -> (B, K, T): entry (k, t) is the token before (k, t) in frame-major order."""
    b, k, t = codes.shape
    flat = codes.transpose(1, 2).reshape(b, k * t)
    prev = torch.cat([torch.full_like(flat[:, :1], bos), flat[:, :-1]], dim=1)
    return prev.view(b, t, k).transpose(1, 2)


class CausalLM(MaskedLM):
    def __init__(self, cfg):
        super().__init__(cfg)
        self.n_levels = cfg.n_codebooks
        self.level = nn.Parameter(torch.randn(cfg.n_codebooks, cfg.d_model) * 0.02)

    def embed_level(self, level: int, tokens: torch.Tensor) -> torch.Tensor:
        """Embedding of tokens of codebook `level` with that codebook's table (and FC for `dac`)."""
        e = self.embed.tables[level](tokens)
        return self.embed.projs[level](e) if hasattr(self.embed, "projs") else e

    def inputs(self, codes: torch.Tensor, cond: torch.Tensor, drop: torch.Tensor | None) -> torch.Tensor:
        """Teacher-forcing inputs (B, T * K, d) for the true codegram `codes` (B, K, T)."""
        b, k, t = codes.shape
        prev = previous_tokens(codes, self.mask_id)
        emb = torch.stack([self.embed_level((j - 1) % k, prev[:, j]) for j in range(k)], dim=2)
        x = emb + self.condition(cond, drop)[:, :, None, :] + self.level.to(emb.dtype)
        return x.reshape(b, t * k, -1)

    def forward(self, codes: torch.Tensor, cond: torch.Tensor,
                drop: torch.Tensor | None = None) -> torch.Tensor:
        """codes (B, K, T) (the full target), cond (B, T, d) -> (B, K, T, V); logits (k, t) see
        only the tokens before (k, t) in frame-major order."""
        b, k, t = codes.shape
        h = self.blocks(self.inputs(codes, cond, drop), causal=True).view(b, t, k, -1)
        return torch.einsum("btkd,kdv->bktv", h, self.head_weight) + self.head_bias[:, None, :]


class KVCache:
    """Keys and values of every block for positions 0..length-1, preallocated for the window."""

    def __init__(self, lm: CausalLM, batch: int, length: int, like: torch.Tensor):
        d = lm.head_weight.shape[1]
        heads = lm.blocks.blocks[0].attn.heads if len(lm.blocks.blocks) else 1
        shape = (batch, heads, length, d // heads)
        self.k = [like.new_zeros(shape) for _ in lm.blocks.blocks]
        self.v = [like.new_zeros(shape) for _ in lm.blocks.blocks]


def _cached_step(lm: CausalLM, x: torch.Tensor, p: int, cache: KVCache) -> torch.Tensor:
    """One position through the blocks (same arithmetic as TransformerBlock): (B, 1, d) -> (B, d)."""
    b, _, d = x.shape
    for i, block in enumerate(lm.blocks.blocks):
        attn = block.attn
        q, k, v = attn.qkv(block.norm1(x)).view(b, 1, 3, attn.heads, d // attn.heads).permute(2, 0, 3, 1, 4)
        cache.k[i][:, :, p] = k[:, :, 0]
        cache.v[i][:, :, p] = v[:, :, 0]
        y = F.scaled_dot_product_attention(q, cache.k[i][:, :, :p + 1], cache.v[i][:, :, :p + 1])
        x = x + attn.out(y.transpose(1, 2).reshape(b, 1, d))
        x = x + block.mlp(block.norm2(x))
    return lm.blocks.norm(x)[:, 0]


@torch.no_grad()
def autoregressive_decode(lm: CausalLM, cond: torch.Tensor, guidance: float,
                          generator: torch.Generator | None = None, use_cache: bool = True) -> torch.Tensor:
    """(B, T, d) encoder outputs -> (B, K, T) codegram, 9T sampling steps (CFG batched).
    `use_cache=False` recomputes the whole prefix every step (the reference for the cache)."""
    b, t, d = cond.shape
    k = lm.n_levels
    length = k * t
    device = cond.device
    if guidance != 0.0:
        drop = torch.cat([torch.zeros(b, dtype=torch.bool), torch.ones(b, dtype=torch.bool)]).to(device)
        c = lm.condition(torch.cat([cond, cond]), drop)
    else:
        c = lm.condition(cond, None)
    bb = c.shape[0]
    pe = sinusoidal_positions(length, d, device, c.dtype)
    cache = KVCache(lm, bb, length, c) if use_cache else None
    xs = c.new_zeros(bb, length, d) if not use_cache else None
    tokens = torch.empty(b, length, dtype=torch.long, device=device)
    prev = torch.full((bb,), lm.mask_id, dtype=torch.long, device=device)
    for p in range(length):
        frame, level = divmod(p, k)
        x = lm.embed_level((level - 1) % k, prev) + c[:, frame] + lm.level[level]
        if use_cache:
            h = _cached_step(lm, (x + pe[p])[:, None], p, cache)
        else:
            xs[:, p] = x
            h = lm.blocks(xs[:, :p + 1], causal=True)[:, -1]
        logits = (h @ lm.head_weight[level] + lm.head_bias[level]).float()
        if guidance != 0.0:
            logits = guided_logits(logits[:b], logits[b:], guidance)
        logp = torch.log_softmax(logits, dim=-1)
        tok = (logp + _gumbel(logp.shape, generator, device)).argmax(-1)
        tokens[:, p] = tok
        prev = torch.cat([tok, tok]) if guidance != 0.0 else tok
    return tokens.view(b, t, k).transpose(1, 2).contiguous()


class UniAudioStrategy(CodebookStrategy):
    name = "uniaudio"

    def training_mask(self, codes, cfg, generator):
        if cfg.span != 1:
            raise BenchmarkError("span masking is defined for the parallel strategy only (002 App. B)")
        return torch.ones_like(codes, dtype=torch.bool)      # every token is predicted

    def lm_inputs(self, codes, mask, mask_id):
        return codes                                          # teacher forcing; the LM shifts

    def build_lm(self, cfg):
        return CausalLM(cfg)

    def decode(self, lm, cond, cfg, generator, iterations, guidance):
        return autoregressive_decode(lm, cond, guidance, generator, use_cache=True)


STRATEGIES["uniaudio"] = UniAudioStrategy()
