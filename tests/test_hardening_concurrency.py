"""Concurrent and killed invocations on real audio: a second `run` of a name in progress exits with
a message (the work is done once), two reports of one folder never race, and a kill -9 shows as
'interrupted' in the report and in the store."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time

import runner_support as rs
from hardening_support import PY, ROOT, SUPPORT
from report_support import table_rows

from benchmark.cli import main
from benchmark.core import paths
from benchmark.run.lock import report_lock, run_active

ARGS = ["run", "--systems", "t_half", "--metrics", "t_rms", "--name", "cc", "--profile", "offline"]


def _start(delay: float) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), RUNNER_TEST_DELAY=str(delay))
    return subprocess.Popen([PY, str(SUPPORT), *ARGS], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(cond, proc, timeout=120.0) -> None:
    t0 = time.monotonic()
    while not cond():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout, "timed out"
        time.sleep(0.05)


def _outputs() -> int:
    db = paths.runs_dir() / "cc" / "store.sqlite"
    if not db.exists():
        return 0
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT COUNT(*) FROM outputs").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def test_second_run_of_a_name_in_progress_exits_with_a_message(isolated_env, corpora, plugins, capsys):
    rs.make_vb_set(corpora, paths.testsets_dir(), n=6)
    first = _start(delay=0.4)                       # 0.4 s per item: ~2.4 s of restoring
    _wait_for(lambda: run_active("cc"), first)
    assert main(ARGS) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: run 'cc' is in use by another invocation (lock ") and "nothing was done" in err
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert "6 outputs restored (0 cached)" in out
    restored = [line for line in plugins.read_text().splitlines() if line.startswith("restore")]
    assert sum(int(line.split()[-1]) for line in restored) == 6          # the work was done once
    con = sqlite3.connect(paths.runs_dir() / "cc" / "store.sqlite")
    assert con.execute("SELECT status FROM invocations").fetchall() == [("finished",)]
    assert not run_active("cc")


def test_killed_run_is_shown_as_interrupted(isolated_env, corpora, plugins, capsys):
    rs.make_vb_set(corpora, paths.testsets_dir(), n=6)
    victim = _start(delay=1.0)
    _wait_for(lambda: _outputs() >= 4, victim)      # the first batch of 4 is stored
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert not run_active("cc")                     # the kernel released the lock with the process
    assert main(["report", "cc"]) == 0
    md = (paths.reports_dir() / "cc" / "report.md").read_text()
    assert table_rows(md, "#")[1]["1"]["status"] == "interrupted"     # invocation 1
    con = sqlite3.connect(paths.runs_dir() / "cc" / "store.sqlite")
    assert con.execute("SELECT status FROM invocations").fetchall() == [("running",)]
    assert main(ARGS) == 0                          # the next run marks it and does the rest
    assert "2 outputs restored (4 cached)" in capsys.readouterr().out
    assert con.execute("SELECT status FROM invocations ORDER BY id").fetchall() == [
        ("interrupted",), ("finished",)]


def test_two_reports_of_one_folder_never_race(isolated_env, corpora, plugins, capsys):
    rs.make_vb_set(corpora, paths.testsets_dir(), n=2)
    assert main(ARGS) == 0
    capsys.readouterr()
    out = paths.reports_dir() / "cc"
    with report_lock(out):                          # another report is writing this folder
        assert main(["report", "cc", "--html"]) == 2
        err = capsys.readouterr().err
        assert f"error: report folder {out} is in use by another invocation" in err
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([PY, str(SUPPORT), "report", "cc", "--html"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert all(rc in (0, 2) for rc, _ in results) and any(rc == 0 for rc, _ in results), results
    assert all("Traceback" not in e for _, e in results), results
    assert all("is in use by another invocation" in e for rc, e in results if rc == 2)
    assert main(["report", "cc", "--html"]) == 0
    assert (out / "index.html").read_text().rstrip().endswith("</html>")
