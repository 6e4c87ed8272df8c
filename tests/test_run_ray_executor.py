"""The Ray executor on a local 2-CPU Ray cluster (loopback): the same store and report as the local
executor; a Ray worker killed with SIGKILL mid-run (restoration and scoring): the run completes
with every row exactly once and the same values."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import time
from pathlib import Path

import pytest
import ray  # the `ray` extra; `make install` installs it
import runner_support as rs

from benchmark.cli import main
from benchmark.core import paths
from benchmark.run.jobs import restore_job, score_job
from benchmark.run.ray_executor import RayExecutor, wants_gpu
from benchmark.run.runner import RunConfig, Runner
from benchmark.run.store import Store
from systems.base import SystemSpec

pytestmark = pytest.mark.slow

ARGS = ["run", "--systems", "unprocessed", "nsnet2", "--metrics", "si_snr", "lsd", "--profile", "offline"]


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster with 2 CPU workers on 127.0.0.1 (shared by this module's tests)."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def sets(isolated_env, corpora):
    root = paths.testsets_dir()
    return rs.make_vb_set(corpora, root), rs.make_vctk_set(corpora, root)


def rows(run: str) -> dict:
    con = sqlite3.connect(Store.existing(run).path)
    out = {
        **rs.item_rows(con),
        "n": {t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
              for t in ("outputs", "item_outputs", "scores")},
        "counters": con.execute("SELECT restored, scored FROM invocations ORDER BY id").fetchall(),
    }
    con.close()
    return out


def same_values(a: dict, b: dict) -> None:
    assert a["outputs"] == b["outputs"]                   # same items, bit-identical output files
    assert a["scores"].keys() == b["scores"].keys()
    for k, v in a["scores"].items():                      # 1 vs 2 BLAS threads: last-digit noise
        assert b["scores"][k] == pytest.approx(v, rel=1e-9, abs=1e-9), k


def test_ray_run_equals_local_run(cluster, sets, capsys):
    assert main(ARGS + ["--name", "local"]) == 0
    assert main(ARGS + ["--name", "onray", "--executor", "ray", "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "run 'onray': 18 outputs restored (0 cached), 36 items scored (0 cached)" in out
    a, b = rows("local"), rows("onray")
    assert len(a["outputs"]) == 18 and len(a["scores"]) == 36 and a["n"] == b["n"]
    same_values(a, b)
    # measured on the real pairs: the input's SI-SNR is the pair's SNR (from the manifest, computed
    # from the audio when the set was made); NSNet2 helps the noisiest pair and costs on the cleanest
    manifest = {it.item_id: it.manifest for it in Store.existing("onray").items("vb_pairs")}
    si = {(s, i): v for (s, t, i, m, c), v in b["scores"].items() if m == "si_snr" and t == "vb_pairs"}
    for item, man in manifest.items():
        assert si[("unprocessed", item)] == pytest.approx(man["params"]["noise"]["snr_db"], abs=0.3)
    snr = {i: m["params"]["noise"]["snr_db"] for i, m in manifest.items() if m["params"]["noise"]["snr_db"] > 0}
    noisy, clean = min(snr, key=snr.get), max(snr, key=snr.get)
    assert si[("nsnet2", noisy)] - si[("unprocessed", noisy)] > 1
    assert si[("nsnet2", clean)] - si[("unprocessed", clean)] < -1

    def tables(run):   # the report up to the provenance (executor, argv) is the same, but for
        # the wall times the runner measured around each system call
        text = (paths.reports_dir() / run / "report.md").read_text().replace(f"`{run}`", "`RUN`") \
            .split("## Provenance")[0]
        return re.sub(r"## Runtime per item \(measured by the runner\).*?(?=\n## )", "", text, flags=re.S)
    assert tables("local") == tables("onray")
    prov = (paths.reports_dir() / "onray" / "report.md").read_text().split("## Provenance")[1]
    assert "executor `ray` with 2 worker(s)" in prov
    # a second Ray invocation does no work at all (same cache as the local executor)
    assert main(ARGS + ["--name", "onray", "--executor", "ray", "--workers", "2"]) == 0
    assert "0 outputs restored (18 cached), 0 items scored (36 cached)" in capsys.readouterr().out


class KillingExecutor(RayExecutor):
    """Kills one of the pool's Ray worker processes (SIGKILL) as soon as the first job of a
    restore and of a score stream has come back, while the others are still in flight."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.killed: list[int] = []

    def stream(self, fn, tasks):
        kill = fn in (restore_job, score_job)
        for fin in super().stream(fn, tasks):
            if kill:
                kill = False
                victim = self.pids[-1]
                os.kill(victim, signal.SIGKILL)
                self.killed.append(victim)
            yield fin


def test_worker_killed_mid_run_completes_exactly_once(cluster, sets):
    def cfg(name):
        return RunConfig(name, [SystemSpec("nsnet2")], metrics=["lsd"], profile="offline",
                         executor="ray", workers=2)
    ex = KillingExecutor(workers=2)
    summary = Runner(cfg("killed"), ex).run(argv=["test"])
    assert len(ex.killed) == 2                              # once while restoring, once scoring
    for pid in ex.killed:                                  # really dead (gone, or a zombie)
        status = Path(f"/proc/{pid}/status")
        deadline = time.monotonic() + 30                   # a loaded machine delivers late
        while status.exists() and "\nState:\tZ" not in status.read_text() \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not status.exists() or "\nState:\tZ" in status.read_text()
    assert summary.restored == 9 and summary.scored == 9 and summary.item_errors == 0
    got = rows("killed")
    assert got["n"] == {"outputs": 9, "item_outputs": 9, "scores": 9}   # every row exactly once
    assert got["counters"] == [(9, 9)]                     # and counted once
    assert len(list((paths.runs_dir() / "killed" / "outputs").rglob("*.wav"))) == 9
    # the same values as a run without failures (local executor)
    Runner(RunConfig("ref", [SystemSpec("nsnet2")], metrics=["lsd"], profile="offline")).run()
    same_values(rows("ref"), got)


def test_gpu_placement_rules():
    from benchmark.run.jobs import RestoreJob, ScoreJob
    assert wants_gpu(RestoreJob("nsnet2", {}, "cuda", "k", []))
    assert not wants_gpu(RestoreJob("nsnet2", {}, "cpu", "k", []))
    assert wants_gpu(ScoreJob("nisqa", "nisqa_v2", "cuda", []))      # torch model: GPU actor
    assert not wants_gpu(ScoreJob("pesq", "pesq", "cuda", []))     # CPU-only backend: CPU actor
    assert not wants_gpu(ScoreJob("nisqa", "nisqa_v2", "cpu", []))


def test_cuda_without_gpus_is_one_clear_error(cluster, sets):
    from benchmark.core.errors import BenchmarkError
    from benchmark.run.jobs import RestoreJob
    ex = RayExecutor(workers=2)
    with pytest.raises(BenchmarkError, match="the Ray cluster has no GPUs"):
        list(ex.stream(restore_job, [RestoreJob("nsnet2", {}, "cuda", "k", [])]))
