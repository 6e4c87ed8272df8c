"""UniAudio codebook modelling (001 Sec. 2.4 / 3.2), `codebook_modelling=uniaudio`: autoregressive
over time and codebooks with UniAudio's multi-scale transformer, 9 x T sampling steps per window.

001 Sec. 3.2 "use[s] the official UniAudio implementation", whose LM is `MegaByteModel` in
yangdongchao/UniAudio `UniAudio/model.py` (commit 232e381c2e8c0fa4696b8b583355019a7010e224):
- a **global** causal transformer over frames: the input of frame t is the embedding of the
  tokens of frame t - 1 (a start frame at t = 0), `n_layer` blocks and a final LayerNorm;
- a **local** causal transformer over the codebooks of one frame, run for every frame as a batch:
  the input of codebook k of frame t is the embedding of codebook k - 1's token of the same frame
  (a start token at k = 0) + the global output of frame t through `g2l_linear` + a learned
  position embedding of k; `min(8, n_layer // 2)` blocks, a final LayerNorm, the output head;
- the loss on every token (teacher forcing), decoding token by token with a KV cache per scale.

What is ours (001 keeps "the same overall system (Figure 1) and model size as MaskSR-S"): the
speech encoder output of frame t (or the learned CFG embedding) is added to the global input of
frame t, like MaskSR adds it to the summed codebook embeddings; the frame's tokens are embedded
with MaskSR's 9 tables (1024 + mask entries, the mask entry standing for the start tokens) and
summed, because the official split of d into 9 concatenated sub-embeddings needs d % 9 == 0
(d = 512 is not); for the same reason the global output of a frame is projected once by
`g2l` (d -> d) instead of per d/9 chunk, the codebooks being told apart by the local position
embedding; global positions are sinusoidal (as everywhere in MaskSR; the official learned table
fixes a maximum length); 9 heads of d x 1024 without bias (the official shared `lm_head` over
the codebooks' vocabulary ranges, bias-free). `lm_blocks` is the global depth; uniaudio_s uses 5
global + 2 local blocks, which gives 001's 55 M (see tests/test_masksr_sizes.py)."""

from __future__ import annotations

import torch
from torch import nn

from benchmark.core.errors import BenchmarkError
from systems.masksr.decoding import guided_logits, sample_tokens
from systems.masksr.layers import KVCache, TransformerStack
from systems.masksr.lm import EMBEDDINGS
from systems.masksr.strategy_base import CodebookStrategy


def local_blocks(global_blocks: int) -> int:
    """The official local depth: min(8, n_layer // 2) (UniAudio/model.py, MegaByteModel)."""
    return min(8, global_blocks // 2)


def previous_frames(codes: torch.Tensor, start: int) -> torch.Tensor:
    """(B, K, T) -> (B, K, T): column t holds frame t - 1 (the start token in column 0)."""
    return torch.cat([torch.full_like(codes[..., :1], start), codes[..., :-1]], dim=-1)


def previous_levels(codes: torch.Tensor, start: int) -> torch.Tensor:
    """(B, K, T) -> (B, K, T): row k holds codebook k - 1 of the same frame (start token in row 0)."""
    return torch.cat([torch.full_like(codes[:, :1], start), codes[:, :-1]], dim=1)


def embed_level(embedding: nn.Module, level: int, tokens: torch.Tensor) -> torch.Tensor:
    """Embedding of tokens of codebook `level` with that codebook's table (and FC for `dac`)."""
    e = embedding.tables[level](tokens)
    return embedding.projs[level](e) if hasattr(embedding, "projs") else e


class MultiScaleLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        if cfg.embedding not in EMBEDDINGS:
            raise BenchmarkError(f"unknown embedding '{cfg.embedding}'; known: {sorted(EMBEDDINGS)}")
        d, k = cfg.d_model, cfg.n_codebooks
        self.mask_id = cfg.codebook_size
        self.n_levels = k
        self.embed = EMBEDDINGS[cfg.embedding](cfg)          # global: a frame's tokens, summed
        self.uncond = nn.Parameter(torch.randn(d) * 0.02)    # CFG "unconditional" input
        self.global_blocks = TransformerStack(d, cfg.lm_blocks, cfg.heads, cfg.mlp_ratio, cfg.dropout)
        self.g2l = nn.Linear(d, d)
        self.local_embed = EMBEDDINGS[cfg.embedding](cfg)    # local: the previous codebook's token
        self.local_pos = nn.Parameter(torch.randn(k, d) * 0.02)
        self.local_blocks = TransformerStack(d, local_blocks(cfg.lm_blocks), cfg.heads, cfg.mlp_ratio,
                                             cfg.dropout, positions=False)
        self.head_weight = nn.Parameter(torch.empty(k, d, cfg.codebook_size))
        nn.init.uniform_(self.head_weight, -1.0 / d ** 0.5, 1.0 / d ** 0.5)

    def condition(self, cond: torch.Tensor, drop: torch.Tensor | None) -> torch.Tensor:
        """Replace the encoder output of the items where `drop` is True by the learned embedding."""
        if drop is None:
            return cond
        return torch.where(drop[:, None, None], self.uncond.to(cond.dtype).expand_as(cond), cond)

    def local_inputs(self, prev: torch.Tensor, level: int, global_out: torch.Tensor) -> torch.Tensor:
        """Input of codebook `level`: previous token (of codebook level - 1, or the start token =
        mask entry of the last table) + projected global state + the level's position."""
        k = self.n_levels
        return embed_level(self.local_embed, (level - 1) % k, prev) + global_out + self.local_pos[level]

    def forward(self, codes: torch.Tensor, cond: torch.Tensor,
                drop: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher forcing: codes (B, K, T) (the whole target), cond (B, T, d) -> (B, K, T, V);
        the logits of (k, t) see only the tokens before (k, t) in frame-major order."""
        b, k, t = codes.shape
        g = self.embed(previous_frames(codes, self.mask_id)) + self.condition(cond, drop)
        g = self.g2l(self.global_blocks(g, causal=True))                     # (B, T, d)
        prev = previous_levels(codes, self.mask_id)
        x = torch.stack([self.local_inputs(prev[:, j], j, g) for j in range(k)], dim=2)   # (B, T, K, d)
        h = self.local_blocks(x.reshape(b * t, k, -1), causal=True).view(b, t, k, -1)
        return torch.einsum("btkd,kdv->bktv", h, self.head_weight)


@torch.no_grad()
def autoregressive_decode(lm: MultiScaleLM, cond: torch.Tensor, guidance: float,
                          generator: torch.Generator | None = None, use_cache: bool = True) -> torch.Tensor:
    """(B, T, d) encoder outputs -> (B, K, T) codegram in 9T sampling steps (CFG batched).

    With `use_cache` the global stack runs one frame and the local stack one codebook per step
    against their KV caches; without, both recompute their whole prefix every step (the
    reference the cache must equal bit for bit)."""
    b, t, d = cond.shape
    k = lm.n_levels
    device = cond.device
    guided = guidance != 0.0
    if guided:
        drop = torch.cat([torch.zeros(b, dtype=torch.bool), torch.ones(b, dtype=torch.bool)]).to(device)
        c = lm.condition(torch.cat([cond, cond]), drop)
    else:
        c = lm.condition(cond, None)
    bb = c.shape[0]
    tokens = torch.full((b, k, t), lm.mask_id, dtype=torch.long, device=device)
    frame = torch.full((bb, k, 1), lm.mask_id, dtype=torch.long, device=device)   # the start frame
    g_cache = KVCache(lm.global_blocks, bb, t, c) if use_cache else None
    g_inputs = c.new_zeros(bb, t, d)
    for f in range(t):
        g_inputs[:, f] = lm.embed(frame)[:, 0] + c[:, f]
        if use_cache:
            g = lm.global_blocks.step(g_inputs[:, f], f, g_cache)
        else:
            g = lm.global_blocks(g_inputs[:, :f + 1], causal=True)[:, -1]
        g = lm.g2l(g)
        l_cache = KVCache(lm.local_blocks, bb, k, c) if use_cache else None
        l_inputs = c.new_zeros(bb, k, d)
        prev = torch.full((bb,), lm.mask_id, dtype=torch.long, device=device)
        for j in range(k):
            l_inputs[:, j] = lm.local_inputs(prev, j, g)
            if use_cache:
                h = lm.local_blocks.step(l_inputs[:, j], j, l_cache)
            else:
                h = lm.local_blocks(l_inputs[:, :j + 1], causal=True)[:, -1]
            logits = (h @ lm.head_weight[j]).float()
            if guided:
                logits = guided_logits(logits[:b], logits[b:], guidance)
            tok = sample_tokens(logits, generator)
            tokens[:, j, f] = tok
            prev = torch.cat([tok, tok]) if guided else tok
        frame = torch.cat([tokens[:, :, f:f + 1]] * 2) if guided else tokens[:, :, f:f + 1]
    return tokens


class UniAudioStrategy(CodebookStrategy):
    name = "uniaudio"

    def training_mask(self, codes, cfg, generator):
        if cfg.span != 1:
            raise BenchmarkError("span masking is defined for the parallel strategy only (002 App. B)")
        return torch.ones_like(codes, dtype=torch.bool)      # every token is predicted

    def lm_inputs(self, codes, mask, mask_id):
        return codes                                          # teacher forcing; the LM shifts

    def build_lm(self, cfg):
        return MultiScaleLM(cfg)

    def decode(self, lm, cond, cfg, generator, iterations, guidance):
        return autoregressive_decode(lm, cond, guidance, generator, use_cache=True)
