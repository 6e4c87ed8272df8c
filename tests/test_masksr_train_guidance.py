"""The dev-set guidance sweep (`train sweep-guidance`) on real mini-corpus audio: every w is scored
on the dev split, the best by the selected metric is written into the checkpoint's config (what
the system plugin samples with), and further training keeps it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")   # conftest.py


def test_sweep_records_the_dev_choice_in_the_checkpoint(tmp_path, corpora, capsys):
    from systems.masksr.checkpoint import CHECKPOINT, load_checkpoint
    speech = sorted((corpora / "VCTK-Corpus-0.92" / "wav48_silence_trimmed").rglob("*.flac"))[:3]
    data, ckpt = tmp_path / "data", tmp_path / "ckpt"
    common = ["--config", "segments_per_file=1", "simulated_rirs=1"]
    assert main(["train", "prepare", "masksr2_tiny", "--speech", *map(str, speech), "--out", str(data),
                 "--dev-fraction", "0.34", "--gains", "2", *common[:2]]) == 0
    noise = str(corpora / "noise")
    train = ["train", "masksr2_tiny", "--data", str(data), "--noise", noise, "--out", str(ckpt),
             "--batch", "2", "--workers", "0", "--val-every", "2", "--val-items", "1", *common]
    assert main([*train, "--steps", "2"]) == 0
    capsys.readouterr()
    rc = main(["train", "sweep-guidance", "--checkpoint", str(ckpt), "--data", str(data), "--noise", noise,
               "--w", "0", "1", "3", "--metrics", "lsd", "--select", "lsd:LSD", "--items", "1"])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    blob = load_checkpoint(ckpt / CHECKPOINT)
    sweep = blob["guidance_sweep"]
    lsd = {w: sweep["scores"][w]["lsd:LSD"] for w in ("0.0", "1.0", "3.0")}
    print("dev LSD per w:", lsd)
    assert len(set(lsd.values())) == 3                          # w changes the restoration
    best = min(lsd, key=lsd.get)
    assert sweep["chosen"] == float(best) and blob["config"]["guidance"] == float(best)
    assert sweep["items"] == 1 and sweep["higher_is_better"] is False and sweep["weights"] == "model"
    assert f"chosen w = {float(best):g} by lsd:LSD (min)" in printed
    # training on keeps the dev choice; the validation rows are in the log
    assert main([*train, "--steps", "4"]) == 0
    blob = load_checkpoint(ckpt / CHECKPOINT)
    assert blob["step"] == 4 and blob["config"]["guidance"] == float(best)
    dev_rows = [json.loads(x) for x in (ckpt / "train_log.jsonl").read_text().splitlines() if "dev_ce" in x]
    assert [r["step"] for r in dev_rows] == [2, 4] and all(len(r["dev_accuracy"]) == 9 for r in dev_rows)
    rc = main(["train", "sweep-guidance", "--checkpoint", str(ckpt), "--data", str(data), "--noise", noise,
               "--metrics", "lsd", "--select", "lsd:NOPE", "--items", "1", "--w", "1"])
    assert rc == 2 and "no such column" in capsys.readouterr().err


def test_train_without_a_dev_split_cannot_validate(tmp_path, corpora, capsys):
    speech = sorted((corpora / "VCTK-Corpus-0.92" / "wav48_silence_trimmed").rglob("*.flac"))[:1]
    data = tmp_path / "d"
    assert main(["train", "prepare", "masksr2_tiny", "--speech", str(speech[0]), "--out", str(data),
                 "--gains", "1", "--config", "segments_per_file=1"]) == 0
    rc = main(["train", "masksr2_tiny", "--data", str(data), "--noise", str(corpora / "noise"),
               "--out", str(tmp_path / "o"), "--batch", "1", "--steps", "1", "--val-every", "1",
               "--config", "segments_per_file=1", "simulated_rirs=1"])
    assert rc == 2 and "has no dev split" in capsys.readouterr().err
    rc = main(["train", "masksr2_tiny", "--data", str(tmp_path / "none"), "--noise", str(corpora / "noise"),
               "--out", str(tmp_path / "o")])
    assert rc == 2 and "holds no prepared training data" in capsys.readouterr().err
    rc = main(["train", "masksr_s", "--data", str(data), "--noise", str(corpora / "noise"),
               "--out", str(tmp_path / "o2")])
    assert rc == 2 and "was prepared for codec=dac_random_small" in capsys.readouterr().err
    assert Path(data / "index.json").exists()
