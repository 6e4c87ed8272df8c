"""Every missing prerequisite of a run in one message before any work or download: unbuilt test
sets (with --fetch where their corpora are missing too), asset files (with the fetch command) and
a system's own prerequisites (a trained checkpoint, with the train command)."""

from __future__ import annotations

import pytest
import runner_support as rs

from benchmark.cli import main
from benchmark.core import paths
from systems.base import SYSTEMS, SystemInfo


class NeedsCheckpoint(rs.HalfGain):
    info = SystemInfo(name="t_ckpt", version="1", rate=16000, description="needs a checkpoint",
                      backend="numpy")

    @classmethod
    def prerequisites(cls, config):
        ckpt = config.get("checkpoint", "checkpoints/t_ckpt/checkpoint.pt")
        return [f"no trained checkpoint at {ckpt}; train one: python -m benchmark train t_ckpt "
                "--out checkpoints/t_ckpt"]


@pytest.fixture
def plugins(monkeypatch, tmp_path):
    rs.register()
    SYSTEMS.register(NeedsCheckpoint)
    yield
    SYSTEMS.unregister("t_ckpt")
    rs.unregister()


def test_everything_missing_is_listed_at_once(isolated_env, corpora, plugins, monkeypatch,
                                              tmp_path, capsys):
    rs.make_vb_set(corpora, paths.testsets_dir())
    monkeypatch.setenv("BENCHMARK_CORPORA", str(tmp_path / "no_corpora"))
    rc = main(["run", "--systems", "gtcrn", "t_ckpt", "--testsets", "vb_pairs", "sr", "all_gsr",
               "--metrics", "t_rms", "--name", "pre", "--profile", "offline"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and err.count("error:") == 1
    assert "2 test set(s) not built" in err
    for name in ("sr", "all_gsr"):
        assert f"test set '{name}' is not built" in err
        assert f"python -m benchmark testsets build {name} --fetch" in err   # corpora missing too
    assert "1 asset(s) needed by this run are missing" in err
    assert "python -m benchmark assets fetch gtcrn_onnx" in err
    assert "t_ckpt: no trained checkpoint at checkpoints/t_ckpt/checkpoint.pt" in err
    assert "python -m benchmark train t_ckpt" in err
    assert not (paths.runs_dir() / "pre").exists()            # stopped before any work


def test_a_ready_run_passes_the_preflight(isolated_env, corpora, plugins, capsys):
    rs.make_vb_set(corpora, paths.testsets_dir())
    assert main(["run", "--systems", "unprocessed", "--testsets", "vb_pairs", "--metrics", "t_rms",
                 "--name", "ok", "--profile", "offline"]) == 0
