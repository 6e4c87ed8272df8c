"""Process lifetime with the real CLI in a subprocess (tests/integrity_support.py: a system whose
call never returns): pool workers die with their parent (kill -9, SIGTERM), SIGINT and SIGTERM
stop a run within seconds with the invocation marked interrupted, and a hung call becomes an
item error after --item-timeout."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time

import integrity_support as isup
import pytest
import runner_support as rs
from hardening_support import PY, ROOT

from benchmark.core import paths
from benchmark.run.lock import run_active

SUPPORT = ROOT / "tests" / "integrity_support.py"


@pytest.fixture
def plugins(monkeypatch, tmp_path):
    isup.register()
    yield
    isup.unregister()


def _start(args: list[str], pids, **env) -> subprocess.Popen:
    full = dict(os.environ, PYTHONPATH=str(ROOT), BENCHMARK_NO_PROGRESS="1",
                **{isup.PIDS_ENV: str(pids)}, **env)
    return subprocess.Popen([PY, str(SUPPORT), *args], env=full, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _hung_workers(proc, pids, n: int = 2, timeout: float = 120.0) -> list[int]:
    t0 = time.monotonic()
    while True:
        found = sorted({int(x) for x in pids.read_text().split()}) if pids.exists() else []
        if len(found) >= n:
            return found
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout, "the workers never started"
        time.sleep(0.1)


def _gone_within(pids: list[int], seconds: float) -> float:
    t0 = time.monotonic()
    while any(_alive(p) for p in pids):
        assert time.monotonic() - t0 < seconds, [p for p in pids if _alive(p)]
        time.sleep(0.05)
    return time.monotonic() - t0


ARGS = ["run", "--systems", "t_hang", "--metrics", "t_rms", "--name", "p", "--profile", "offline",
        "--workers", "2"]


def test_kill_9_of_the_parent_takes_its_workers_along(isolated_env, corpora, plugins, tmp_path):
    rs.make_vb_set(corpora, paths.testsets_dir(), n=4)
    pids = tmp_path / "pids"
    proc = _start(ARGS, pids)
    workers = _hung_workers(proc, pids)
    assert all(_alive(p) for p in workers) and proc.pid not in workers
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _gone_within(workers, 10.0)             # PR_SET_PDEATHSIG: at once; the watchdog: within 1 s
    assert not run_active("p")              # nothing holds the run's lock


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_stop_a_hung_run_within_seconds(isolated_env, corpora, plugins, tmp_path, sig):
    rs.make_vb_set(corpora, paths.testsets_dir(), n=4)
    pids = tmp_path / "pids"
    proc = _start(ARGS, pids)
    workers = _hung_workers(proc, pids)
    t0 = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 10.0                 # waited forever on the hung call before
    assert proc.returncode == 130, err
    assert err.endswith("interrupted: finished work is kept; re-run the same command to continue.\n"), err
    _gone_within(workers, 5.0)
    con = sqlite3.connect(paths.runs_dir() / "p" / "store.sqlite")
    assert con.execute("SELECT status FROM invocations").fetchall() == [("interrupted",)]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_hung_call_is_an_item_error_after_the_item_timeout(isolated_env, corpora, plugins, tmp_path,
                                                            workers):
    """Items whose id ends in 1 hang (vb_pairs_001 of 4): it alone becomes an item error after
    --item-timeout (its batch is re-run item by item); the others are restored and scored."""
    rs.make_vb_set(corpora, paths.testsets_dir(), n=4)
    args = [*ARGS[:-1], workers, "--item-timeout", "3"]
    proc = _start(args, tmp_path / "pids", INTEGRITY_HANG_SUFFIX="1")
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    assert "3 outputs restored (0 cached), 3 items scored (0 cached), 1 new item errors" in out
    con = sqlite3.connect(paths.runs_dir() / "p" / "store.sqlite")
    rows = dict(con.execute("SELECT io.item_id, o.error FROM item_outputs io JOIN outputs o ON "
                            "o.system_key=io.system_key AND o.input_sha256=io.input_sha256"))
    assert rows == {"vb_pairs_000": None, "vb_pairs_002": None, "vb_pairs_003": None,
                    "vb_pairs_001": "system 't_hang' did not return within 3 s (--item-timeout); the "
                                    "call was stopped. --retry-errors tries it again"}
    assert con.execute("SELECT status FROM invocations").fetchall() == [("finished",)]


HANGS_WHILE_STOPPING = """
import sys, time
from benchmark.run.processes import sigterm_as_interrupt
with sigterm_as_interrupt(grace=float(sys.argv[1])):
    try:
        print("ready", flush=True)
        time.sleep(60)
    except KeyboardInterrupt:
        time.sleep(60)             # a clean-up that never finishes (e.g. a deadlocked library)
"""


@pytest.mark.parametrize("second", [False, True])
def test_stopping_is_bounded_even_when_clean_up_hangs(tmp_path, second):
    """The backstop behind 'stops within seconds': `grace` seconds after the first signal (or at
    once on a second one) the process leaves with 130, saying why and dumping its threads' stacks."""
    script = tmp_path / "hang.py"
    script.write_text(HANGS_WHILE_STOPPING)
    grace = 30.0 if second else 1.0
    proc = subprocess.Popen([PY, str(script), str(grace)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.stdout.readline() == "ready\n"
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    if second:
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 10.0 and proc.returncode == 130, err
    reason = "second SIGTERM" if second else "stopping took over 1 s"
    assert f"interrupted: {reason}; exiting now. Finished work is kept" in err, err
    assert "Thread 0x" in err or "Current thread" in err          # the stacks, for a bug report
