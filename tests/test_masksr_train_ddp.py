"""MaskSR trainer with torchrun (gloo, 2 CPU processes) on prepared shards of real mini-corpus audio:
a run SIGKILLed mid-way and resumed equals an uninterrupted run bit for bit (weights, Adam, EMA,
log, validation), and one DDP step's gradients equal a single-process step on the concatenated
batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from systems.masksr.config import get_config, override

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
import masksr_train_support as support  # noqa: E402


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra) -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "BENCHMARK_NO_PROGRESS": "1", **extra}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, corpora):
    """5 VCTK files, 2 segments each, one file as the dev split, 2 gains (8 in the papers' setup)."""
    from systems.masksr.prepare import PrepareOptions, prepare
    out = tmp_path_factory.mktemp("ddp_data")
    files = sorted((corpora / "VCTK-Corpus-0.92" / "wav48_silence_trimmed").rglob("*.flac"))[:5]
    cfg = override(get_config("masksr2_tiny"), {"segments_per_file": 2, "gain_bins": 2})
    torch.set_num_threads(1)
    prepare(cfg, files, out, PrepareOptions(files_per_shard=2, dev_fraction=0.2))
    return out


def _torchrun(args: list[str], env: dict, timeout: int = 900) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", str(_free_port()), *args]
    # own session: the kill hook SIGKILLs torchrun's whole process group, never pytest
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
                          start_new_session=True)


def _train_args(data: Path, noise: Path, out: Path) -> list[str]:
    return ["-m", "benchmark", "train", "masksr2_tiny", "--data", str(data), "--noise", str(noise),
            "--out", str(out), "--steps", "6", "--batch", "4", "--workers", "2",
            "--warmup-steps", "3", "--clip-grad-norm", "1.0", "--ema-decay", "0.9",
            "--val-every", "3", "--val-items", "2",
            "--config", "segments_per_file=2", "checkpoint_every=2", "log_every=1", "simulated_rirs=1"]


@pytest.mark.slow
def test_torchrun_killed_and_resumed_equals_uninterrupted(prepared, corpora, tmp_path):
    from systems.masksr.checkpoint import CHECKPOINT, ema_state_dict, load_checkpoint
    noise = corpora / "noise"
    full = _torchrun(_train_args(prepared, noise, tmp_path / "full"), _env())
    assert full.returncode == 0, full.stderr[-3000:]
    # the step callback SIGKILLs the job after step 4 (its checkpoint written): a crash at step 5
    args = _train_args(prepared, noise, tmp_path / "split")
    killed = _torchrun([str(ROOT / "tests" / "masksr_train_support.py"), "fit", "4", *args[3:]], _env())
    assert killed.returncode != 0
    assert load_checkpoint(tmp_path / "split" / CHECKPOINT)["step"] == 4
    resumed = _torchrun(_train_args(prepared, noise, tmp_path / "split"), _env())
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a = load_checkpoint(tmp_path / "full" / CHECKPOINT)
    b = load_checkpoint(tmp_path / "split" / CHECKPOINT)
    assert a["step"] == b["step"] == 6
    assert "model_ema" not in a                                     # the EMA is stored once
    for part in ("model", "ema"):
        for (name, p), q in zip(a[part].items(), b[part].values(), strict=True):
            assert torch.equal(p, q), f"{part}.{name}"
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(a["model"]["lm.head_weight"], ema_state_dict(a)["lm.head_weight"])
    logs = {}
    for run in ("full", "split"):
        lines = [json.loads(x) for x in (tmp_path / run / "train_log.jsonl").read_text().splitlines()]
        logs[run] = {(x["step"], "dev_ce" in x): x for x in lines}
    assert sorted(logs["full"]) == sorted(logs["split"])            # steps 1-6, validation at 3 and 6
    for key, x in logs["full"].items():
        y = logs["split"][key]
        fields = ("dev_ce", "dev_kd", "dev_accuracy") if key[1] else ("ce", "kd", "accuracy", "lr", "grad_norm")
        assert all(x[f] == y[f] for f in fields), key
    lrs = [logs["full"][(s, False)]["lr"] for s in range(1, 7)]
    assert lrs == pytest.approx([2e-3 / 3, 2 * 2e-3 / 3, 2e-3, 2e-3, 2e-3, 2e-3])   # warmup 3 steps
    assert list((tmp_path / "full" / "tensorboard").glob("events.out.tfevents.*"))


@pytest.mark.slow
def test_ddp_step_gradients_equal_a_single_process_step_on_the_concatenated_batch(prepared, corpora, tmp_path):
    from systems.masksr.model import MaskSRModel
    from systems.masksr.strategies import get_strategy
    from systems.masksr.trainer import step_loss
    proc = _torchrun([str(ROOT / "tests" / "masksr_train_support.py"), str(prepared),
                      str(corpora / "noise"), str(tmp_path)], _env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    ddp = torch.load(tmp_path / "ddp_grads.pt", weights_only=True)
    parts = [torch.load(tmp_path / f"batch{r}.pt", weights_only=True) for r in range(2)]
    assert set(parts[0]["positions"].tolist()).isdisjoint(parts[1]["positions"].tolist())
    cfg = support.tiny_cfg()
    strategy = get_strategy(cfg.codebook_modelling)

    def grads(batch_parts):
        cat = {k: torch.cat([p[k] for p in batch_parts]) for k in ("wave", "codes", "kd", "mask", "drop")}
        torch.manual_seed(cfg.seed)
        model = MaskSRModel(cfg)
        loss, *_ = step_loss(model, cfg, strategy, cat["wave"], cat["codes"], cat["kd"], cat["mask"],
                             cat["drop"], "fp32")
        loss.backward()
        return {n: p.grad for n, p in model.named_parameters() if p.grad is not None}

    single = grads(parts)
    assert set(single) == set(ddp)
    worst = max(float((single[n] - ddp[n]).abs().max()) for n in single)
    print(f"max |DDP - single-process| gradient difference: {worst:.2e}")
    assert worst < 1e-6
    assert max(float(g.abs().max()) for g in single.values()) > 1e-3
    # the per-rank mean CE that plain DDP would average differs: the global normalisation matters
    halves = [grads([p]) for p in parts]
    naive = max(float(((halves[0][n] + halves[1][n]) / 2 - single[n]).abs().max()) for n in single)
    print(f"max difference of averaged per-rank-mean gradients: {naive:.2e}")
    assert naive > 1e-5
