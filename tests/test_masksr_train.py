"""MaskSR family, training and restoring on real mini-corpus audio: overfit 4 utterances, exact
resume, DDP with torchrun (gloo), the train command, and the system plugin end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from masksr_eval_support import evaluate, overfit_maker

from benchmark.cli import main
from systems.masksr.config import get_config, override

ROOT = Path(__file__).resolve().parents[1]
# Overfitting = the first 0.5 s of 4 utterances, each with 2 fixed degradations drawn from the
# papers' ranges (with fresh degradations every step a tiny model needs far more steps to become
# degradation-invariant); evaluated on those degraded inputs with fresh masks and sampler seeds.
OVERFIT = {"segments_per_file": 1, "fixed_degradations": 2, "steps": 300}


pytestmark = pytest.mark.usefixtures("one_torch_thread")   # conftest.py


def _speech(corpora: Path, n: int) -> list[str]:
    files = sorted((corpora / "VCTK-Corpus-0.92" / "wav48_silence_trimmed").rglob("*.flac"))
    return [str(f) for f in files[:n]]


def _pools(corpora):
    return [str(corpora / "noise")], [str(corpora / "rirs")]


def _load(out: Path):
    from systems.masksr.checkpoint import CHECKPOINT, load_model
    loaded = load_model(out / CHECKPOINT)
    return loaded.cfg, loaded.model, loaded.checkpoint


@pytest.fixture(scope="module")
def overfit_run(tmp_path_factory, corpora):
    """masksr2_tiny trained on 4 real VCTK utterances (degraded on the fly) for 300 steps."""
    from systems.masksr.trainer import train
    out = tmp_path_factory.mktemp("masksr2_tiny")
    cfg = override(get_config("masksr2_tiny"), OVERFIT)
    noise, rirs = _pools(corpora)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)        # as `one_torch_thread` does for the tests (a module fixture
    try:                            # runs before it): no oversubscription of 2 shared cores
        logs = train(cfg, _speech(corpora, 4), noise, rirs, out)
    finally:
        torch.set_num_threads(threads)
    return out, logs


@pytest.mark.slow
def test_overfit_four_utterances(overfit_run, corpora):
    out, logs = overfit_run
    assert logs[-1].step == 300 and logs[-1].kd > 0
    assert logs[-1].ce < logs[0].ce / 3
    cfg, model, _ = _load(out)
    torch.manual_seed(0)
    metrics = evaluate(model, overfit_maker(cfg, corpora, _speech(corpora, 4), out / "cache"), cfg, batches=3)
    print("overfit:", metrics)
    assert metrics["masked_accuracy"] >= 0.9
    assert metrics["sampler_accuracy"] >= 0.8
    lines = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    assert len(lines[-1]["accuracy"]) == 9 and lines[-1]["steps_per_s"] > 0


RESUME = {"segments_per_file": 1, "batch": 2, "steps": 4, "checkpoint_every": 2}


@pytest.fixture(scope="module")
def resume_data(tmp_path_factory, corpora):
    """2 utterances prepared once for the four runs of the resume test (the `--speech` path that
    prepares on the spot is trained by `overfit_run` and the torchrun test)."""
    from systems.masksr.prepare import prepare
    out = tmp_path_factory.mktemp("resume_data")
    prepare(override(get_config("masksr2_tiny"), RESUME), [Path(s) for s in _speech(corpora, 2)], out)
    return out


def test_resume_equals_an_uninterrupted_run(tmp_path, corpora, resume_data):
    from systems.masksr.train_options import TrainOptions
    from systems.masksr.trainer import train
    cfg = override(get_config("masksr2_tiny"), RESUME)
    noise, rirs = _pools(corpora)
    opts = TrainOptions(tensorboard=False)

    def run(c, out):
        return train(c, None, noise, rirs, out, options=opts, data=resume_data)
    run(cfg, tmp_path / "full")
    run(override(cfg, {"steps": 2}), tmp_path / "split")
    _, _, half = _load(tmp_path / "split")
    assert half["step"] == 2
    run(cfg, tmp_path / "split")                               # resumes from step 2
    _, full, a = _load(tmp_path / "full")
    _, split, b = _load(tmp_path / "split")
    assert a["step"] == b["step"] == 4
    for (name, p), q in zip(full.state_dict().items(), split.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    fresh = override(cfg, {"seed": 1})                         # a different seed differs
    run(fresh, tmp_path / "other")
    _, other, _ = _load(tmp_path / "other")
    assert not torch.equal(other.lm.head_weight, full.lm.head_weight)


def test_render_on_device_trains_on_what_the_workers_would_render(tmp_path, corpora, resume_data):
    """`--render-on device`: the DataLoader worker hands over clean segments and drawn parameters
    (through a real worker process), the step renders them on the training device (here the CPU),
    the losses are finite and the choice is recorded in the checkpoint; the inputs the step trains
    on are the worker path's for the same draws, within data.render_on_device's tolerance (3 % RMS
    away from the segment ends, 10 % over all of it: tests/test_masksr_train_data.py)."""
    import dataclasses
    import math

    from systems.masksr.train_options import TrainOptions
    from systems.masksr.trainer import _loader, build, step_inputs, train
    cfg = override(get_config("masksr2_tiny"), {**RESUME, "steps": 3, "log_every": 1})
    noise, rirs = _pools(corpora)
    opts = TrainOptions(tensorboard=False, workers=1, render_on="device")
    logs = train(cfg, None, noise, rirs, tmp_path / "device", options=opts, data=resume_data)
    assert [s.step for s in logs] == [1, 2, 3]
    assert all(math.isfinite(s.loss) and s.loss > 0 and math.isfinite(s.kd) for s in logs), logs
    _, _, ckpt = _load(tmp_path / "device")
    assert ckpt["options"]["render_on"] == "device" and ckpt["step"] == 3
    states = {r: build(cfg, resume_data, noise, rirs, tmp_path / r, "cpu",
                       dataclasses.replace(opts, render_on=r, workers=0)) for r in ("workers", "device")}
    loaders = {r: iter(_loader(s)) for r, s in states.items()}
    edge = int(0.1 * cfg.rate)
    for step in range(cfg.steps):
        raw = next(loaders["device"])
        assert "clean" in raw and "wave" not in raw              # the workers did not render
        ref, codes, kd = step_inputs(states["workers"], next(loaders["workers"]))
        got, got_codes, got_kd = step_inputs(states["device"], raw)
        assert torch.equal(codes, got_codes) and torch.equal(kd, got_kd)
        for k in range(cfg.batch):
            a, b = ref[k].double(), got[k].double()
            b = b * float(b @ a / (b @ b))                        # the level (gain bin) compared apart
            err = float((b - a).pow(2).mean().sqrt() / a.pow(2).mean().sqrt())
            mid = float((b - a)[edge:-edge].pow(2).mean().sqrt() / a[edge:-edge].pow(2).mean().sqrt())
            assert err < 0.1 and mid < 0.03, (step, k, raw["params"][k], err, mid)
            assert not torch.equal(a, b)                          # two renderers, not one batch twice


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ddp_torchrun_two_cpu_processes(tmp_path, corpora):
    noise, rirs = _pools(corpora)
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "BENCHMARK_NO_PROGRESS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", str(_free_port()), "-m", "benchmark", "train", "masksr2_tiny",
           "--speech", *_speech(corpora, 2), "--noise", *noise, "--rirs", *rirs,
           "--out", str(out), "--steps", "3", "--batch", "4",
           "--config", "segments_per_file=1", "log_every=1"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "masked-token accuracy" in proc.stdout
    cfg, model, ckpt = _load(out)
    assert ckpt["step"] == 3 and cfg.batch == 4
    steps = [json.loads(x)["step"] for x in (out / "train_log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]                                   # rank 0 logs, once per step


def test_train_command_errors_are_one_message(tmp_path, corpora, capsys):
    rc = main(["train", "masksr_xl", "--speech", str(tmp_path), "--noise", str(tmp_path),
               "--out", str(tmp_path / "o")])
    assert rc == 2 and "unknown MaskSR configuration 'masksr_xl'" in capsys.readouterr().err
    rc = main(["train", "masksr2_tiny", "--speech", str(tmp_path), "--noise", str(corpora / "noise"),
               "--out", str(tmp_path / "o")])
    assert rc == 2 and "no .wav/.flac files found under the speech folders" in capsys.readouterr().err
    rc = main(["train", "masksr2_tiny", "--speech", str(tmp_path), "--noise", str(tmp_path),
               "--out", str(tmp_path / "o"), "--config", "lr"])
    assert rc == 2 and "expected KEY=VALUE" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["masksr_s", "masksr_m", "masksr_l", "masksr2_s", "masksr2_l"])
def test_plugins_without_checkpoint_say_how_to_get_one(name, tmp_path, monkeypatch):
    from systems.base import SYSTEMS
    from systems.masksr.plugin import MissingCheckpointError
    monkeypatch.chdir(tmp_path)
    cls = SYSTEMS.get(name)
    assert cls.info.rate == 44100 and cls.info.paper_row
    with pytest.raises(MissingCheckpointError) as err:
        cls().load()
    msg = str(err.value)
    assert f"python -m benchmark train {name}" in msg and f"--checkpoint {name}=PATH" in msg


@pytest.mark.slow
def test_plugin_restores_a_mini_set_end_to_end(overfit_run, corpora, isolated_env):
    import numpy as np
    import runner_support as rs

    from benchmark.core import paths
    from benchmark.core.audio import read_audio
    out, _ = overfit_run
    rs.make_vctk_set(corpora, paths.testsets_dir(), n=2)
    rc = main(["run", "--systems", "masksr2_tiny", "--testsets", "vctk_mini", "--metrics", "lsd",
               "--profile", "offline", "--name", "masksr_e2e", "--checkpoint", f"masksr2_tiny={out}"])
    assert rc == 0
    wavs = sorted((paths.runs_dir() / "masksr_e2e").rglob("*.wav")) + \
        sorted((paths.runs_dir() / "masksr_e2e").rglob("*.flac"))
    assert wavs, "no restored audio stored"
    x, rate = read_audio(wavs[0])
    assert np.isfinite(x).all() and np.abs(x).max() > 1e-4
