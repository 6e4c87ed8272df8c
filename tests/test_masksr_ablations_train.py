"""MaskSR ablations (issue 6), training on real mini-corpus audio: every variant trains through the
same `python -m benchmark train NAME` command, and a tiny model of each codebook-modelling
strategy / input feature / spectral KD target overfits 4 utterances."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from masksr_eval_support import evaluate, overfit_maker

from benchmark.cli import main
from systems.masksr.config import get_config, override

# tiny architecture + real (random small) DAC + tiny HuBERT: S-size variants shrunk for CPU tests
TINY = ["d_model=32", "encoder_blocks=1", "heads=2", "codec=dac_random_small",
        "kd_teacher=hubert_random_tiny", "segment_seconds=0.25", "segments_per_file=1", "log_every=1"]
# 0.25 s segments and windows (22 frames): each overfit run stays within ~1-2 minutes on 2 cores
OVERFIT = {"segments_per_file": 1, "segment_seconds": 0.25, "window_seconds": 0.25, "lr": 3e-3,
           "iterations": 12, "steps": 200}


def _speech(corpora: Path, n: int) -> list[str]:
    files = sorted((corpora / "VCTK-Corpus-0.92" / "wav48_silence_trimmed").rglob("*.flac"))
    return [str(f) for f in files[:n]]


def _pools(corpora: Path) -> tuple[list[str], list[str]]:
    return [str(corpora / "noise")], [str(corpora / "rirs")]


def _load(out: Path):
    from systems.masksr.checkpoint import CHECKPOINT, load_model
    loaded = load_model(out / CHECKPOINT)
    return loaded.cfg, loaded.model, loaded.checkpoint


pytestmark = pytest.mark.usefixtures("one_torch_thread")   # conftest.py


@pytest.mark.parametrize("name,lm_blocks", [("soundstorm_s", 1), ("uniaudio_s", 1),
                                            ("masksr_s_waveform", 1), ("masksr_s_dac", 2),
                                            ("masksr2_s_stft16k", 1), ("masksr2_s_l9_k500_span5", 1)])
def test_variants_train_with_the_same_command(name, lm_blocks, tmp_path, corpora, capsys):
    noise, rirs = _pools(corpora)
    out = tmp_path / name
    rc = main(["train", name, "--speech", *_speech(corpora, 2), "--noise", *noise, "--rirs", *rirs,
               "--out", str(out), "--steps", "2", "--batch", "2",
               "--config", *TINY, f"lm_blocks={lm_blocks}"])
    assert rc == 0
    assert "masked-token accuracy" in capsys.readouterr().out
    cfg, model, ckpt = _load(out)
    base = get_config(name)
    assert ckpt["step"] == 2 and cfg.name == name
    assert (cfg.codebook_modelling, cfg.input_feature, cfg.kd_target, cfg.span) == \
        (base.codebook_modelling, base.input_feature, base.kd_target, base.span)
    logs = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in logs] == [1, 2] and all(x["ce"] > 0 for x in logs)
    assert (logs[0]["kd"] > 0) == (base.kd_target != "none")


def _overfit(tmp_path: Path, corpora, **changes):
    from systems.masksr.trainer import train
    cfg = override(get_config("masksr2_tiny"), {**OVERFIT, **changes})
    noise, rirs = _pools(corpora)
    speech = _speech(corpora, 4)
    logs = train(cfg, speech, noise, rirs, tmp_path)
    cfg, model, _ = _load(tmp_path)
    torch.manual_seed(0)
    metrics = evaluate(model, overfit_maker(cfg, corpora, speech, tmp_path / "cache"), cfg, batches=3)
    print(changes, "->", metrics, "final CE", logs[-1].ce)
    return logs, metrics


@pytest.mark.slow
@pytest.mark.parametrize("changes,masked,sampled", [
    # thresholds ~0.05 under the values measured on 2 CPU cores (logit ranking score, 0.25 s
    # segments and windows = 22 frames): SoundStorm 0.959 masked / 0.401 sampler at 500 steps.
    # The sampler accuracy of these 4-utterance overfits swings with the data's exact bytes: seeds
    # 0 / 1 / 2 gave 0.39 / 0.26 / 0.25 (SoundStorm), 0.56 / 0.53 / 0.51 (span 3), 0.37 / 0.11 /
    # 0.31 (UniAudio), and seed 0 with the noise excerpts moved by under one sample (issue 25's
    # kept noise files) 0.28-0.32 / 0.48 / 0.11-0.29; so the sampler thresholds sit under those
    # minima (chance is 1/1024) and the masked (teacher-forced) accuracy carries the overfit check.
    ({"codebook_modelling": "soundstorm", "steps": 500}, 0.9, 0.2),
    # span masking hides whole runs (harder): 0.769 masked / 0.536 sampler at 300 steps
    # (0.564 sampler with the log_prob score)
    ({"codebook_modelling": "parallel", "kd_target": "l9_k500", "span": 3, "steps": 300}, 0.72, 0.4),
    # the multi-scale UniAudio: 0.999 masked (teacher-forced) / 0.413 sampler (ancestral sampling
    # at w = 1 over 9 x 22 steps) at 200 steps
    ({"codebook_modelling": "uniaudio", "kd_target": "none"}, 0.95, 0.08),
], ids=["soundstorm", "parallel_span3", "uniaudio"])
def test_strategies_overfit_four_utterances(changes, masked, sampled, tmp_path, corpora):
    logs, metrics = _overfit(tmp_path, corpora, **changes)
    assert logs[-1].ce < logs[0].ce / 3
    assert metrics["masked_accuracy"] >= masked
    assert metrics["sampler_accuracy"] >= sampled


@pytest.mark.slow
@pytest.mark.parametrize("changes,ce_drop,masked", [
    ({"input_feature": "waveform", "input_norm": "none", "kd_target": "stft16k"}, 3.0, 0.8),
    # no speech encoder: learns slower (measured CE 3.63 -> 1.24, masked accuracy 0.65)
    ({"input_feature": "dac", "encoder_blocks": 0, "kd_target": "stft44k"}, 2.5, 0.6),
], ids=["waveform_stft16k", "dac_input_stft44k"])
def test_input_features_and_spectral_kd_overfit_four_utterances(changes, ce_drop, masked, tmp_path, corpora):
    logs, metrics = _overfit(tmp_path, corpora, **changes)
    assert logs[-1].ce < logs[0].ce / ce_drop
    assert logs[-1].kd < logs[0].kd                      # the spectral regression is learnt too
    assert metrics["masked_accuracy"] >= masked
