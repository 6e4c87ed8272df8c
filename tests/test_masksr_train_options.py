"""Training options (warmup, EMA, precision) against hand-computed values; paper defaults unchanged."""

from __future__ import annotations

import pytest
import torch

from benchmark.core.errors import BenchmarkError
from systems.masksr.train_options import EMA, TrainOptions, autocast, lr_at, resolve_precision


def test_defaults_are_the_papers_recipe():
    o = TrainOptions()
    assert (o.warmup_steps, o.clip_grad_norm, o.ema_decay, o.precision) == (0, 0.0, 0.0, "auto")
    assert o.render_on == "workers"                                         # the reference renderer
    with pytest.raises(BenchmarkError, match="unknown render place 'gpu'. Known: workers, device"):
        TrainOptions(render_on="gpu")
    assert [lr_at(s, 1e-4, 0) for s in (0, 10, 799_999)] == [1e-4] * 3      # constant Adam lr


def test_warmup_is_linear_then_constant():
    assert [lr_at(s, 1.0, 4) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


def test_ema_follows_its_formula():
    m = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        m.weight.copy_(torch.tensor([[1.0, 2.0]]))
    ema = EMA(m, 0.9)
    with torch.no_grad():
        m.weight.copy_(torch.tensor([[3.0, 0.0]]))
    ema.update(m)                                       # 0.9 * [1, 2] + 0.1 * [3, 0]
    assert torch.allclose(ema.state_dict()["weight"], torch.tensor([[1.2, 1.8]]))
    assert torch.allclose(ema.model_state(m)["weight"], torch.tensor([[1.2, 1.8]]))
    assert torch.equal(m.weight, torch.tensor([[3.0, 0.0]]))   # the live weights are untouched


def test_precisions():
    assert resolve_precision("auto", "cpu") == "fp32" and resolve_precision("auto", "cuda:0") == "bf16"
    with pytest.raises(BenchmarkError, match="fp16 training with loss scaling needs a CUDA device"):
        resolve_precision("fp16", "cpu")
    with pytest.raises(BenchmarkError, match="unknown precision 'fp8'"):
        TrainOptions(precision="fp8")
    lin = torch.nn.Linear(4, 4)
    with autocast("bf16", "cpu"):
        assert lin(torch.randn(2, 4)).dtype == torch.bfloat16
    with autocast("fp32", "cpu"):
        assert lin(torch.randn(2, 4)).dtype == torch.float32


def _state(cfg, accum: int):
    from systems.masksr.model import MaskSRModel
    from systems.masksr.strategies import get_strategy
    from systems.masksr.trainer import TrainState
    torch.manual_seed(0)
    model = MaskSRModel(cfg).train()
    opts = TrainOptions(grad_accum=accum, workers=0, tensorboard=False)
    return TrainState(cfg, opts, None, 0, 1, "cpu", "fp32", model, model,
                      torch.optim.Adam(model.parameters(), lr=cfg.lr), torch.amp.GradScaler("cuda", enabled=False),
                      None, get_strategy(cfg.codebook_modelling), None, None, None)


@pytest.mark.usefixtures("one_torch_thread")
def test_an_accumulated_step_equals_the_large_batch_step():
    """--grad-accum 4 on a batch of 8 (4 micro-batches of 2) against one batch of 8: the same
    gradients (CE normalised by the step's masked count, KD weighted by the micro-batch share)
    within 1e-5 of the largest gradient (fp32, sums in another order), and so the same step.
    No BatchNorm on the input (its batch statistics are per micro-batch by construction)."""
    from systems.masksr.config import get_config, override
    from systems.masksr.trainer import train_step
    cfg = override(get_config("masksr2_tiny"), {"input_norm": "none", "batch": 8})
    g = torch.Generator().manual_seed(1)
    n = int(cfg.segment_seconds * cfg.rate)
    t = cfg.segment_frames
    base = _state(cfg, 1)
    with torch.no_grad():
        _, kd_pred = base.model(torch.zeros(1, n), torch.zeros(1, cfg.n_codebooks, t, dtype=torch.long), None, 24)
    batch = {"wave": 0.1 * torch.randn(8, n, generator=g),
             "codes": torch.randint(0, cfg.codebook_size, (8, cfg.n_codebooks, t), generator=g),
             "kd": torch.randn(8, *kd_pred.shape[1:], generator=g)}
    grads, params, stats = [], [], []
    for accum in (1, 4):
        state = base if accum == 1 else _state(cfg, accum)
        out = train_step(state, batch)
        grads.append({k: p.grad.clone() for k, p in state.model.named_parameters() if p.grad is not None})
        params.append({k: p.detach().clone() for k, p in state.model.named_parameters()})
        stats.append(out)
    scale = max(float(v.abs().max()) for v in grads[0].values())
    worst = max(float((grads[0][k] - grads[1][k]).abs().max()) for k in grads[0])
    print(f"accumulated vs large-batch gradient: max |diff| {worst:.2e}, max |grad| {scale:.2e}")
    assert set(grads[0]) == set(grads[1]) and scale > 1e-3
    assert worst <= 1e-5 * scale
    assert float(stats[1]["kd"]) == pytest.approx(float(stats[0]["kd"]), rel=1e-5)
    # Adam's first step is ~lr * sign(grad): compare where the gradient is clearly non-zero
    big = {k: grads[0][k].abs() > 1e-3 * scale for k in grads[0]}
    moved = max(float((params[0][k] - params[1][k])[big[k]].abs().max()) for k in big if big[k].any())
    assert moved < 1e-6
    with pytest.raises(BenchmarkError, match="at least 1 micro-batch"):
        TrainOptions(grad_accum=0)
