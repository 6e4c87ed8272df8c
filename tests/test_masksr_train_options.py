"""Training options (warmup, EMA, precision) against hand-computed values; paper defaults unchanged."""

from __future__ import annotations

import pytest
import torch

from benchmark.core.errors import BenchmarkError
from systems.masksr.train_options import EMA, TrainOptions, autocast, lr_at, resolve_precision


def test_defaults_are_the_papers_recipe():
    o = TrainOptions()
    assert (o.warmup_steps, o.clip_grad_norm, o.ema_decay, o.precision) == (0, 0.0, 0.0, "auto")
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
