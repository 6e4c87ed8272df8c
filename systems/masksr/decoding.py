"""MaskGIT iterative decoding (001 Sec. 2.3, 002 Sec. II-B and App. B): the one decoding loop of
the MaskSR family. MaskSR decodes every codebook (`parallel_decode`), SoundStorm only codebook 1
(`iterative_decode(levels=[0])`), span masking re-masks whole non-overlapping spans (`span > 1`).

Per iteration: one LM forward (conditional and unconditional batched, guided logits
l_q = (1 + w) l_c - w l_u), a token sampled at every masked position, each sampled token scored,
Gaussian noise (variance falling linearly 4 -> 0) added to the scores, and the lowest-scoring
tokens (spans) re-masked so that floor(U cos(pi/2 (i+1)/n)) of the U units stay masked after
iteration i (cosine schedule).

The ranking score (`SCORES`): 001 Sec. 2.3 "re-mask a subset of the sampled tokens with low logit
scores ... add Gaussian noise to the logit scores before ranking them", and 002 Sec. II-B the same
with footnote 3 defining the logit scores l_g = (1 + w) l_c - w l_u. The default is therefore
`logit`, the guided logit of the sampled token; `log_prob` (its log-softmax, what MaskGIT's
reference implementation ranks by) is the alternative."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from benchmark.core.errors import BenchmarkError


def masked_count(iteration: int, iterations: int, total: int) -> int:
    """Units still masked after `iteration` (0-based): floor(total * cos(pi/2 * (i+1)/n)); 0 at the end."""
    if iteration >= iterations - 1:
        return 0
    return int(math.floor(total * math.cos(math.pi / 2 * (iteration + 1) / iterations)))


def noise_variance(iteration: int, iterations: int, start: float = 4.0) -> float:
    """Variance of the score noise: linear from `start` at the first iteration to 0 at the last."""
    if iterations <= 1:
        return 0.0
    return start * (1.0 - iteration / (iterations - 1))


def guided_logits(cond: torch.Tensor, uncond: torch.Tensor, w: float) -> torch.Tensor:
    """l = (1 + w) l_c - w l_u."""
    return (1.0 + w) * cond - w * uncond


def gumbel_noise(shape, generator: torch.Generator | None, device) -> torch.Tensor:
    """Standard Gumbel noise: argmax(log p + g) is a sample of p (the Gumbel-max trick)."""
    u = torch.rand(shape, generator=generator, device=device).clamp_(1e-10, 1.0 - 1e-10)
    return -torch.log(-torch.log(u))


def sample_tokens(logits: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One token per position from softmax(logits) (Gumbel-max on the log-probabilities)."""
    logp = torch.log_softmax(logits, dim=-1)
    return (logp + gumbel_noise(logp.shape, generator, logits.device)).argmax(-1)


def guided_forward(lm, codes: torch.Tensor, cond: torch.Tensor, guidance: float) -> torch.Tensor:
    """(B, K, T, V) float guided logits; with w != 0 cond and uncond run as one doubled batch."""
    if guidance == 0.0:
        return lm(codes, cond).float()
    b = codes.shape[0]
    drop = torch.cat([torch.zeros(b, dtype=torch.bool), torch.ones(b, dtype=torch.bool)]).to(cond.device)
    both = lm(torch.cat([codes, codes]), torch.cat([cond, cond]), drop).float()
    return guided_logits(both[:b], both[b:], guidance)


# --- ranking scores: (guided logits (..., V), sampled tokens (...)) -> score (...) ---------------
def _logit_score(logits: torch.Tensor, sampled: torch.Tensor) -> torch.Tensor:
    return logits.gather(-1, sampled[..., None])[..., 0]


def _log_prob_score(logits: torch.Tensor, sampled: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(logits, dim=-1).gather(-1, sampled[..., None])[..., 0]


SCORES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "logit": _logit_score,          # 001 Sec. 2.3, 002 Sec. II-B: "the logit scores"
    "log_prob": _log_prob_score,    # log-probability of the sampled token
}


def token_scores(logits: torch.Tensor, sampled: torch.Tensor, score: str) -> torch.Tensor:
    try:
        return SCORES[score](logits, sampled)
    except KeyError:
        raise BenchmarkError(f"unknown ranking score '{score}'; known: {', '.join(sorted(SCORES))}") from None


def span_view(x: torch.Tensor, span: int, fill) -> torch.Tensor:
    """(B, K, T) -> (B, K, ceil(T / span), span), the last span padded with `fill`."""
    t = x.shape[-1]
    units = -(-t // span)
    x = torch.nn.functional.pad(x, (0, units * span - t), value=fill)
    return x.view(*x.shape[:-1], units, span)


def fully_masked(lm, cond: torch.Tensor, n_codebooks: int) -> torch.Tensor:
    """(B, K, T) codegram of mask tokens for encoder outputs `cond` (B, T, d)."""
    return torch.full((cond.shape[0], n_codebooks, cond.shape[1]), lm.mask_id, dtype=torch.long,
                      device=cond.device)


@torch.no_grad()
def iterative_decode(lm, cond: torch.Tensor, codes: torch.Tensor, levels: list[int], span: int,
                     iterations: int, guidance: float, noise_var_start: float = 4.0,
                     generator: torch.Generator | None = None, score: str = "logit") -> torch.Tensor:
    """MaskGIT over the masked tokens of codebooks `levels` of `codes` (B, K, T); the other
    codebooks are kept as given (known lower ones, or masked higher ones that stay masked).

    A unit is one token (span 1) or one non-overlapping span of `span` frames of one codebook,
    scored by the maximum score of its sampled tokens (002 App. B)."""
    if score not in SCORES:
        raise BenchmarkError(f"unknown ranking score '{score}'; known: {', '.join(sorted(SCORES))}")
    b, k, t = codes.shape
    mask_id = lm.mask_id
    device = codes.device
    editable = torch.zeros(k, dtype=torch.bool, device=device)
    editable[list(levels)] = True
    units = -(-t // span)
    total = len(levels) * units
    for i in range(iterations):
        masked = (codes == mask_id) & editable[None, :, None]
        logits = guided_forward(lm, codes, cond, guidance)
        sampled = sample_tokens(logits, generator)
        candidate = torch.where(masked, sampled, codes)
        unit_score = span_view(token_scores(logits, sampled, score), span, float("-inf")).amax(-1)
        std = math.sqrt(noise_variance(i, iterations, noise_var_start))
        if std > 0:
            unit_score = unit_score + std * torch.randn(unit_score.shape, generator=generator, device=device)
        unit_masked = span_view(masked, span, False).any(-1)
        # decided units stay decided: they rank above every masked unit
        unit_score = torch.where(unit_masked, unit_score, torch.full_like(unit_score, float("inf")))
        n_mask = masked_count(i, iterations, total)
        if n_mask > 0:
            flat = unit_score.reshape(b, -1)
            lowest = flat.topk(n_mask, dim=1, largest=False).indices
            remask = torch.zeros_like(flat, dtype=torch.bool).scatter_(1, lowest, True).view(b, k, units)
            remask = remask.repeat_interleave(span, dim=-1)[..., :t]
            candidate = torch.where(remask, torch.full_like(candidate, mask_id), candidate)
        codes = candidate
    return codes


def parallel_decode(lm, cond: torch.Tensor, iterations: int, guidance: float, n_codebooks: int,
                    noise_var_start: float = 4.0, generator: torch.Generator | None = None,
                    span: int = 1, score: str = "logit") -> torch.Tensor:
    """MaskSR: every codebook of a fully masked codegram, decoded together (the loop above)."""
    return iterative_decode(lm, cond, fully_masked(lm, cond, n_codebooks), list(range(n_codebooks)),
                            span, iterations, guidance, noise_var_start, generator, score)
