"""systems/masksr/decoding.py, the one MaskGIT loop: equal to a reference loop written out here
token by token (both ranking scores, guided and not), the ranking scores on hand-made logits,
and the score's effect on which token is re-masked."""

from __future__ import annotations

import math

import pytest
import torch

from benchmark.core.errors import BenchmarkError
from systems.masksr.config import get_config, override
from systems.masksr.decoding import SCORES, iterative_decode, parallel_decode, token_scores
from systems.masksr.model import MaskSRModel

M = 1024


pytestmark = pytest.mark.usefixtures("one_torch_thread")   # conftest.py


@torch.no_grad()
def _reference_maskgit(lm, cond, n_codebooks, iterations, w, var0, gen, score):
    """MaskGIT as 001 Sec. 2.3 words it, one sample and one token at a time (python sort, no
    topk), drawing the same random numbers in the same order as the loop under test."""
    b, t, _ = cond.shape
    codes = torch.full((b, n_codebooks, t), M, dtype=torch.long)
    total = n_codebooks * t
    for i in range(iterations):
        if w == 0.0:
            logits = lm(codes, cond).float()
        else:
            drop = torch.tensor([False] * b + [True] * b)
            both = lm(torch.cat([codes, codes]), torch.cat([cond, cond]), drop).float()
            logits = (1 + w) * both[:b] - w * both[b:]                    # l_q = (1+w) l_c - w l_u
        logp = torch.log_softmax(logits, -1)
        u = torch.rand(logp.shape, generator=gen).clamp(1e-10, 1 - 1e-10)
        sampled = (logp - torch.log(-torch.log(u))).argmax(-1)
        base = logits if score == "logit" else logp
        s = base.gather(-1, sampled[..., None])[..., 0]
        var = var0 * (1 - i / (iterations - 1))
        if var > 0:
            s = s + math.sqrt(var) * torch.randn(s.shape, generator=gen)
        keep_masked = 0 if i == iterations - 1 else math.floor(total * math.cos(math.pi / 2 * (i + 1) / iterations))
        new = codes.clone()
        for n in range(b):
            masked = [(k, j) for k in range(n_codebooks) for j in range(t) if codes[n, k, j] == M]
            for k, j in masked:
                new[n, k, j] = sampled[n, k, j]
            lowest = sorted(masked, key=lambda kj: float(s[n, kj[0], kj[1]]))[:keep_masked]
            for k, j in lowest:
                new[n, k, j] = M
        codes = new
    return codes


@pytest.mark.parametrize("score,w", [("logit", 1.0), ("log_prob", 1.0), ("logit", 0.0)])
def test_the_loop_equals_a_reference_maskgit_written_out_token_by_token(score, w):
    torch.manual_seed(0)
    model = MaskSRModel(get_config("masksr2_tiny")).eval()
    cond = torch.randn(2, 10, 64)
    ref = _reference_maskgit(model.lm, cond, 9, 6, w, 4.0, torch.Generator().manual_seed(3), score)
    got = parallel_decode(model.lm, cond, 6, w, 9, 4.0, torch.Generator().manual_seed(3), score=score)
    assert (got != M).all()
    assert torch.equal(got, ref)
    # span 1 through the general entry is the same loop
    start = torch.full((2, 9, 10), M)
    same = iterative_decode(model.lm, cond, start, list(range(9)), 1, 6, w, 4.0,
                            torch.Generator().manual_seed(3), score)
    assert torch.equal(same, ref)


def test_the_two_scores_give_different_codegrams_from_the_same_draws():
    torch.manual_seed(0)
    model = MaskSRModel(get_config("masksr2_tiny")).eval()
    cond = torch.randn(1, 12, 64)
    a, b = (parallel_decode(model.lm, cond, 6, 1.0, 9, 4.0, torch.Generator().manual_seed(1), score=s)
            for s in ("logit", "log_prob"))
    assert not torch.equal(a, b)


def test_scores_on_hand_made_logits():
    # position A: two tokens tied at logit 10; position B: one token at logit 2, the rest -8
    logits = torch.tensor([[10.0, 10.0, 0.0, 0.0], [2.0, -8.0, -8.0, -8.0]])
    sampled = torch.tensor([0, 0])
    logit = token_scores(logits, sampled, "logit")
    log_prob = token_scores(logits, sampled, "log_prob")
    assert logit.tolist() == [10.0, 2.0]
    expected = [10 - math.log(2 * math.exp(10) + 2), 2 - math.log(math.exp(2) + 3 * math.exp(-8))]
    assert log_prob.tolist() == pytest.approx(expected, abs=1e-6)          # -0.6931, -0.0010
    assert logit[0] > logit[1] and log_prob[0] < log_prob[1]               # the orders disagree
    # guided: the logit score is l_q = (1 + w) l_c - w l_u of the sampled token (w = 2)
    lc, lu = torch.tensor([[3.0, 1.0]]), torch.tensor([[1.0, 2.0]])
    assert token_scores(3 * lc - 2 * lu, torch.tensor([0]), "logit").item() == 7.0
    assert set(SCORES) == {"logit", "log_prob"}
    with pytest.raises(BenchmarkError, match="unknown ranking score 'prob'"):
        token_scores(logits, sampled, "prob")


class _TwoPositionLM(torch.nn.Module):
    """One codebook, two frames: frame 0 is the tied pair (logit 10), frame 1 the sure token
    (logit 2); records which positions are masked at each call."""
    mask_id = M

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, codes, cond, drop=None):
        self.seen.append((codes[0, 0] == M).tolist())
        logits = torch.full((codes.shape[0], 1, 2, 1024), -1e4)
        logits[:, 0, 0, :2] = 10.0
        logits[:, 0, 1, 5] = 2.0
        logits[:, 0, 1, 6:9] = -8.0
        return logits


@pytest.mark.parametrize("score,remasked", [("logit", [False, True]), ("log_prob", [True, False])])
def test_the_score_decides_which_token_is_remasked(score, remasked):
    lm = _TwoPositionLM()
    out = parallel_decode(lm, torch.zeros(1, 2, 4), iterations=2, guidance=0.0, n_codebooks=1,
                          noise_var_start=0.0, generator=torch.Generator().manual_seed(0), score=score)
    # iteration 0 keeps floor(2 cos(pi/4)) = 1 token masked: the lower-scoring one
    assert lm.seen == [[True, True], remasked]
    assert out[0, 0, 1] == 5 and out[0, 0, 0] in (0, 1)


def test_the_configs_rank_by_the_logit_score_the_papers_name():
    assert get_config("masksr_s").score == "logit" and get_config("masksr2_l").score == "logit"
    assert override(get_config("masksr_s"), ["score=log_prob"]).score == "log_prob"
