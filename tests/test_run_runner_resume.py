"""A run killed with SIGKILL mid-way and re-run finishes with every row exactly once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import runner_support as rs

from benchmark.core import paths

SCRIPT = Path(rs.__file__)
ARGS = ["run", "--systems", "t_half", "unprocessed", "--metrics", "t_rms", "t_snr",
        "--profile", "offline", "--name", "killed"]


def _count(db: Path, sql: str) -> int:
    con = sqlite3.connect(db, timeout=30)
    try:
        return int(con.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:   # tables not created yet
        return 0
    finally:
        con.close()


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_completes_exactly_once(isolated_env, corpora, tmp_path):
    rs.make_vb_set(corpora, paths.testsets_dir())
    rs.make_vctk_set(corpora, paths.testsets_dir())
    db = paths.runs_dir() / "killed" / "store.sqlite"
    env = {**os.environ, "RUNNER_TEST_DELAY": "0.4", rs.CALLS_ENV: str(tmp_path / "calls.log")}
    proc = subprocess.Popen([sys.executable, str(SCRIPT), *ARGS], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if db.exists() and _count(db, "SELECT COUNT(*) FROM outputs") >= 4:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _count(db, "SELECT COUNT(*) FROM outputs")
    assert 4 <= before < 18          # killed mid-way: some, not all, outputs were committed

    env["RUNNER_TEST_DELAY"] = "0"
    r = subprocess.run([sys.executable, str(SCRIPT), *ARGS], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert _count(db, "SELECT COUNT(*) FROM outputs") == 18
    assert _count(db, "SELECT COUNT(*) FROM item_outputs") == 18
    assert _count(db, "SELECT COUNT(*) FROM (SELECT system, testset, item_id FROM item_outputs "
                      "GROUP BY system, testset, item_id HAVING COUNT(*) > 1)") == 0
    # every output scored once per metric column (t_rms 1, t_snr 1) and timed once (outputs.seconds)
    n_out = _count(db, "SELECT COUNT(DISTINCT sha256) FROM outputs WHERE error IS NULL")
    assert _count(db, "SELECT COUNT(*) FROM scores WHERE metric='t_rms'") == n_out
    assert _count(db, "SELECT COUNT(*) FROM scores WHERE metric='t_snr'") == n_out
    assert _count(db, "SELECT COUNT(*) FROM outputs WHERE error IS NULL AND seconds >= 0 "
                      "AND audio_seconds > 0") == n_out
    assert _count(db, "SELECT COUNT(*) FROM scores WHERE value IS NULL") == 0
    # the re-run restored only what the killed run had not committed
    restored = _count(db, "SELECT restored FROM invocations ORDER BY id DESC LIMIT 1")
    assert restored == 18 - before
    # no stray partial files were left as outputs
    outputs = list((paths.runs_dir() / "killed" / "outputs").rglob("*.wav"))
    assert len(outputs) == 18
    # and a third run is a no-op
    r = subprocess.run([sys.executable, str(SCRIPT), *ARGS], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "0 outputs restored (18 cached), 0 items scored" in r.stdout
