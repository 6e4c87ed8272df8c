"""systems/masksr/plugin.py: the registered MaskSR-family systems restore from trained checkpoints
(`checkpoints/<name>/`), and 001's Table 2 protocol (`python -m benchmark runtime`) runs for all
three codebook strategies (MaskSR-S, SoundStorm, UniAudio) through them."""

from __future__ import annotations

import csv
import dataclasses

import numpy as np
import pytest
import torch

import benchmark.assets
import systems.masksr.plugin as plugin
from benchmark.cli import main
from systems import SYSTEMS
from systems.masksr.checkpoint import CHECKPOINT, save_checkpoint
from systems.masksr.config import get_config, override
from systems.masksr.model import MaskSRModel

# the registered architecture shrunk for 2 CPU cores; name, strategy, window (3 s = 259 frames),
# iterations and guidance stay the registered ones
SMALL = {"d_model": 32, "encoder_blocks": 1, "lm_blocks": 2, "heads": 2, "codec": "dac_random_small"}


pytestmark = pytest.mark.usefixtures("one_torch_thread")   # conftest.py


def _checkpoint(root, name: str, **changes):
    cfg = override(get_config(name), {**SMALL, **changes})
    torch.manual_seed(0)
    model = MaskSRModel(cfg)
    save_checkpoint(root / name / CHECKPOINT, cfg, model, None, step=7)
    return cfg


@pytest.fixture
def checkpoints(isolated_env, monkeypatch):
    root = isolated_env / "checkpoints"
    monkeypatch.setattr(plugin, "CHECKPOINT_ROOT", root)
    # the registered systems declare the pretrained DAC asset; these checkpoints use the seeded
    # small DAC (codec=dac_random_small), which needs no asset
    monkeypatch.setattr(benchmark.assets, "require_local", lambda name: None)
    return root


def test_table_2_protocol_runs_for_the_three_codebook_strategies(checkpoints, isolated_env, monkeypatch):
    from systems.masksr.layers import TransformerStack
    from systems.masksr.lm import MaskedLM
    names = ("masksr_s", "soundstorm_s", "uniaudio_s")
    for name in names:
        _checkpoint(checkpoints, name, window_seconds=0.5)         # 44-frame windows on CPU
    calls = {"lm": 0, "step": 0}
    lm_forward, step = MaskedLM.forward, TransformerStack.step

    def count(key, fn):
        def wrapped(*a, **k):
            calls[key] += 1
            return fn(*a, **k)
        return wrapped
    monkeypatch.setattr(MaskedLM, "forward", count("lm", lm_forward))
    monkeypatch.setattr(TransformerStack, "step", count("step", step))
    out = isolated_env / "table2.csv"
    per_system = {}
    for name in names:                     # one command per system to count its LM passes
        before = dict(calls)
        assert main(["runtime", "--systems", name, "--lengths", "1", "--repeats", "2",
                     "--out", str(out)]) == 0
        per_system[name] = {k: calls[k] - before[k] for k in calls}
        rows = list(csv.DictReader(open(out)))
        assert [r["system"] for r in rows] == [name]
        assert float(rows[0]["mean_s"]) > 0 and int(rows[0]["repeats"]) == 2
        assert rows[0]["device"].startswith("cpu")
    # 3 restores each (1 warm-up + 2 timed); 1 s = 2 windows of 44 frames decoded as one batch:
    # MaskSR 40 LM passes, SoundStorm 40 + 8 = 48 (001 Sec. 3.2), UniAudio 44 global + 9 x 44 local
    # cached steps per restore (the 3 s window's 259 + 2331 are in test_masksr_sizes.py)
    assert per_system == {"masksr_s": {"lm": 3 * 40, "step": 0},
                          "soundstorm_s": {"lm": 3 * 48, "step": 0},
                          "uniaudio_s": {"lm": 0, "step": 3 * (44 + 9 * 44)}}


def test_a_system_restores_from_its_checkpoint_with_the_model_on_its_device(checkpoints):
    cfg = _checkpoint(checkpoints, "masksr_s", window_seconds=0.25)
    system = SYSTEMS.get("masksr_s")(device="cpu")
    system.load()
    assert system.step == 7 and not system.model.training and system.cfg == cfg
    x = (0.1 * np.random.default_rng(0).standard_normal(20000)).astype(np.float32)
    from systems.base import RestoreItem
    out = system.restore([RestoreItem("a", x, None)])[0]
    assert out.shape == x.shape and np.isfinite(out).all()
    assert torch.is_grad_enabled()           # inference mode was scoped to the call


def test_a_missing_checkpoint_is_a_prerequisite_naming_the_train_command(checkpoints):
    w0 = SYSTEMS.get("masksr2_s_none_w0")
    [line] = w0.prerequisites({})
    assert "no trained checkpoint" in line and "python -m benchmark train masksr2_s_none " in line
    _checkpoint(checkpoints, "masksr2_s_none")
    assert w0.prerequisites({}) == [] and SYSTEMS.get("masksr2_s_none").prerequisites({}) == []
    assert len(w0.prerequisites({"checkpoint": str(checkpoints / "nowhere")})) == 1


def test_002_masksr_s_w0_decodes_the_w1_checkpoint_without_guidance(checkpoints, monkeypatch):
    _checkpoint(checkpoints, "masksr2_s_none", window_seconds=0.25)
    w0, w1 = SYSTEMS.get("masksr2_s_none_w0")(), SYSTEMS.get("masksr2_s_none")()
    assert (w0.info.paper_row, w1.info.paper_row) == ("MaskSR-S (w = 0)", "MaskSR-S (w = 1)")
    seen = []
    import systems.masksr.sampler as sampler
    real = sampler.restore_batch
    monkeypatch.setattr(sampler, "restore_batch", lambda *a, **k: seen.append(k["guidance"]) or real(*a, **k))
    from systems.base import RestoreItem
    item = RestoreItem("a", np.zeros(12000, np.float32), None)
    for s in (w0, w1):
        s.load()
        assert s.cfg.name == "masksr2_s_none" and s.cfg.input_norm == "batchnorm"
        s.restore([item])
    assert seen == [0.0, None]               # None: the checkpoint's own w = 1
    # a checkpoint of another configuration is refused
    other = dataclasses.replace(get_config("masksr2_s_none"), name="masksr2_s_l9_k500")
    save_checkpoint(checkpoints / "masksr2_s_none" / CHECKPOINT, override(other, SMALL),
                    MaskSRModel(override(other, SMALL)), None, step=1)
    with pytest.raises(Exception, match="holds a 'masksr2_s_l9_k500' model, not 'masksr2_s_none'"):
        w0.load()


def test_the_plugin_and_the_sweep_restore_with_the_ema_weights_when_there_are_some(checkpoints):
    from systems.masksr.checkpoint import load_checkpoint, load_model, write_checkpoint
    _checkpoint(checkpoints, "masksr_s", window_seconds=0.25)
    path = checkpoints / "masksr_s" / CHECKPOINT
    system = SYSTEMS.get("masksr_s")()
    system.load()
    assert system.weights == "model" and system.info.version.startswith("2+model@")
    blob = load_checkpoint(path)
    blob["ema"] = {k: v.float() + 0.5 for k, v in blob["model"].items() if v.is_floating_point()}
    write_checkpoint(path, blob)
    system = SYSTEMS.get("masksr_s")()
    system.load()
    assert system.weights == "ema" and system.info.version.startswith("2+ema@")
    assert SYSTEMS.get("masksr_s").info.version == "2"                   # the class is untouched
    assert torch.equal(system.model.lm.head_weight, blob["ema"]["lm.head_weight"])
    # train sweep-guidance loads through the same function, so it sees the same weights
    swept = load_model(path)
    assert swept.weights == "ema" and torch.equal(swept.model.lm.head_weight, system.model.lm.head_weight)
    assert torch.equal(load_model(path, weights="model").model.lm.head_weight, blob["model"]["lm.head_weight"])


def test_the_cache_key_names_the_weights_the_checkpoint_will_load(checkpoints, tmp_path):
    """The runner keys and stores outputs with `keyed_info` (before loading): its version is the
    one the loaded instance reports, so "2+ema" and "2+model" outputs never share a cache key."""
    from systems.base import system_key
    from systems.masksr.checkpoint import load_checkpoint, weights_in_file, write_checkpoint
    _checkpoint(checkpoints, "masksr_s", window_seconds=0.25)
    path = checkpoints / "masksr_s" / CHECKPOINT
    cls = SYSTEMS.get("masksr_s")
    keyed = {}
    for which in ("model", "ema"):
        if which == "ema":
            blob = load_checkpoint(path)
            blob["ema"] = {k: v.float() + 0.5 for k, v in blob["model"].items() if v.is_floating_point()}
            write_checkpoint(path, blob)
        info = cls.keyed_info({})
        from systems.masksr.checkpoint import checkpoint_fingerprint
        assert info.version == f"2+{which}@{checkpoint_fingerprint(path)[:12]}"
        assert cls.keyed_info({"checkpoint": str(path.parent)}) == info
        system = cls()
        system.load()
        assert system.weights == which and system.info == info        # told before = after loading
        keyed[which] = system_key(info, {})
        assert system.cache_key() == keyed[which]
    assert keyed["ema"] != keyed["model"] != system_key(cls.info, {})
    # the same weights kind from a retrained (changed) file at the same path: a new key, never the
    # old checkpoint's cached outputs
    blob = load_checkpoint(path)
    blob["ema"] = {k: v + 0.25 for k, v in blob["ema"].items()}
    write_checkpoint(path, blob)
    assert cls.keyed_info({}).version.startswith("2+ema@")
    assert system_key(cls.keyed_info({}), {}) != keyed["ema"]
    # a file in torch's legacy (non-zip) format cannot be memory-mapped: read whole, same answer
    legacy = tmp_path / "legacy.pt"
    torch.save(load_checkpoint(path), legacy, _use_new_zipfile_serialization=False)
    assert weights_in_file(legacy) == "ema" and weights_in_file(legacy, "model") == "model"
    # no checkpoint: the class info (the preflight names the train command)
    assert cls.keyed_info({"checkpoint": str(tmp_path / "none")}) is cls.info


def test_precision_is_plumbed_from_the_command_line_to_the_sampler(checkpoints, monkeypatch):
    import argparse

    import systems.masksr.sampler as sampler
    from benchmark.commands.run import _specs
    from systems.base import RestoreItem
    specs = _specs(argparse.Namespace(systems=["masksr_s", "gtcrn"], checkpoint=[], precision="bf16"))
    assert [(s.name, s.config) for s in specs] == [("masksr_s", {"precision": "bf16"}), ("gtcrn", {})]
    _checkpoint(checkpoints, "masksr_s", window_seconds=0.25)
    seen = []
    real = sampler.precision_context
    monkeypatch.setattr(sampler, "precision_context", lambda p, d: seen.append(p) or real(p, d))
    system = SYSTEMS.get("masksr_s")(config=specs[0].config)
    system.load()
    [out] = system.restore([RestoreItem("a", np.zeros(3000, np.float32) + 0.1, None)])
    assert seen == ["bf16"] and out.shape == (3000,) and np.isfinite(out).all()
    with pytest.raises(Exception, match="unknown precision 'fp8'"):
        SYSTEMS.get("masksr_s")(config={"precision": "fp8"}).load()
