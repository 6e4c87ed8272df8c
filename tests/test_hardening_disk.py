"""Full disks on real audio: a 1 MB tmpfs (ENOSPC; skipped only where mounting is not allowed) and
`ulimit -f` (EFBIG, everywhere). The user sees the errno by name, nothing is cached as an item
error, the store stays intact and the previous report files stay as they were."""

from __future__ import annotations

import sqlite3
import subprocess
import textwrap
import uuid

import numpy as np
import pytest
import runner_support as rs
from hardening_support import PY, ROOT, cli, vb

from benchmark.core import paths
from benchmark.core.audio import read_audio, write_audio
from benchmark.core.errors import TransientIOError
from benchmark.run.store import OutputRow, ScoreRow, Store


@pytest.fixture
def tmpfs(tmp_path):
    """A 1 MiB tmpfs under tmp_path (root only; skipped where mount is refused)."""
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()}); the ulimit -f tests cover EFBIG")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=True)


def _fill(mnt, leave: int = 0) -> None:
    """Fill the tmpfs until at most `leave` bytes are free."""
    with open(mnt / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    if leave:
        with open(mnt / "filler", "r+b") as f:
            f.truncate(max(0, (mnt / "filler").stat().st_size - leave))


def test_write_audio_on_a_full_tmpfs_names_enospc(tmpfs, corpora):
    short, rate = read_audio(vb(corpora, "clean", "p287_002.wav"))     # 3.26 s: 208 kB as float
    long, _ = read_audio(vb(corpora, "clean", "p287_003.wav"))         # 7.23 s: 463 kB
    write_audio(tmpfs / "a.wav", short, rate)
    write_audio(tmpfs / "b.wav", long, rate)
    with pytest.raises(TransientIOError) as exc:
        write_audio(tmpfs / "c.wav", long, rate)                      # 3 x ~0.67 MB > 1 MiB
    assert str(exc.value).startswith(f"ENOSPC (No space left on device) while writing {tmpfs / 'c.wav'}")
    assert sorted(p.name for p in tmpfs.iterdir()) == ["a.wav", "b.wav"]     # no temp file left
    np.testing.assert_array_equal(read_audio(tmpfs / "a.wav")[0], short)


def test_write_audio_over_ulimit_names_efbig(tmp_path, corpora):
    code = textwrap.dedent(f"""
        from benchmark.core.audio import read_audio, write_audio
        from benchmark.core.errors import TransientIOError
        x, r = read_audio({str(vb(corpora, "clean", "p287_003.wav"))!r})
        try:
            write_audio({str(tmp_path / "o.wav")!r}, x, r)
        except TransientIOError as exc:
            print(exc)
    """)
    r = subprocess.run(["bash", "-c", f'ulimit -f 64; exec "{PY}" -c "$0"', code], cwd=ROOT,
                       capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr                                 # not killed by SIGXFSZ
    assert r.stdout.startswith(f"EFBIG (File too large) while writing {tmp_path / 'o.wav'}"), r.stdout
    assert list(tmp_path.iterdir()) == []


def test_efbig_during_a_run_stops_it_and_caches_no_item_error(isolated_env, corpora, plugins):
    rs.make_vb_set(corpora, paths.testsets_dir(), n=6)               # outputs 125 kB .. 463 kB
    args = ["run", "--systems", "t_half", "--metrics", "t_rms", "--name", "fb", "--profile", "offline"]
    full = cli(args, prefix="ulimit -f 256;")                          # files over 256 kB fail
    assert full.returncode == 2
    assert "error: EFBIG (File too large) while writing" in full.stderr
    assert "Nothing was recorded as an item error" in full.stderr and "Traceback" not in full.stderr
    con = sqlite3.connect(paths.runs_dir() / "fb" / "store.sqlite")
    assert con.execute("SELECT COUNT(*) FROM outputs WHERE error IS NOT NULL").fetchone()[0] == 0
    assert con.execute("SELECT status FROM invocations").fetchall() == [("failed",)]
    done = con.execute("SELECT COUNT(*) FROM outputs").fetchone()[0]
    assert done < 6
    again = cli(args)                                                  # space is back: the rest runs
    assert again.returncode == 0, again.stderr
    assert f"{6 - done} outputs restored ({done} cached)" in again.stdout
    assert "0 new item errors" in again.stdout
    assert con.execute("SELECT COUNT(*) FROM outputs WHERE error IS NULL").fetchone()[0] == 6


def _rows(n: int, size: int) -> list[ScoreRow]:
    return [ScoreRow("m", uuid.uuid4().hex, "", "t", "b", "1", 16000, "c", 1.0, None,
                     {"blob": "x" * size}) for _ in range(n)]


def test_sqlite_full_disk_is_one_message_and_the_store_stays_intact(tmpfs):
    store = Store(tmpfs / "store.sqlite")
    inv = store.begin_invocation(["t"], {}, {})
    store.put_output(OutputRow("k", "in", "s", "p", "sha", 16000, 1.0, 1.0, "cpu", None), [], inv)
    _fill(tmpfs, leave=16 << 10)
    with pytest.raises(TransientIOError) as exc:
        for _ in range(50):
            store.put_scores(_rows(20, 4000), inv)
    text = str(exc.value)
    assert text.startswith(f"store {tmpfs / 'store.sqlite'}: SQLITE_FULL (database or disk is full). "
                           "The last transaction was rolled back"), text
    kept = store.count("scores")
    store.close()
    (tmpfs / "filler").unlink()
    reopened = Store(tmpfs / "store.sqlite")
    assert reopened.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert reopened.output("k", "in").sha256 == "sha" and reopened.count("scores") == kept
    reopened.put_scores(_rows(1, 10), inv)
    assert reopened.count("scores") == kept + 1
    reopened.close()


def test_sqlite_write_over_ulimit_is_one_message(tmp_path):
    code = textwrap.dedent(f"""
        import uuid
        from benchmark.core.errors import TransientIOError
        from benchmark.run.store import ScoreRow, Store
        s = Store(__import__("pathlib").Path({str(tmp_path / "store.sqlite")!r}))
        inv = s.begin_invocation(["t"], {{}}, {{}})
        try:
            for _ in range(100):
                s.put_scores([ScoreRow("m", uuid.uuid4().hex, "", "t", "b", "1", 16000, "c", 1.0, None,
                                       {{"blob": "x" * 4000}}) for _ in range(20)], inv)
        except TransientIOError as exc:
            print(s.count("scores"), exc)
    """)
    r = subprocess.run(["bash", "-c", f'ulimit -f 512; exec "{PY}" -c "$0"', code], cwd=ROOT,
                       capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    kept, _, text = r.stdout.partition(" ")
    assert "SQLITE_IOERR" in text and "the store is intact" in text, r.stdout
    con = sqlite3.connect(tmp_path / "store.sqlite")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT COUNT(*) FROM scores").fetchone()[0] == int(kept) > 0


def test_report_on_a_full_disk_leaves_whole_files_only(isolated_env, corpora, plugins):
    rs.make_vb_set(corpora, paths.testsets_dir(), n=3)
    ok = cli(["run", "--systems", "t_half", "--metrics", "t_rms", "--name", "rep", "--profile", "offline"])
    assert ok.returncode == 0, ok.stderr
    out = paths.reports_dir() / "rep"
    names = ("report.md", "scores.csv", "summary.json", "index.html")
    complete = {n: (out / n).read_bytes() for n in names}     # what a finished report writes
    media = {p.relative_to(out): p.read_bytes() for d in ("listen", "plots") for p in (out / d).rglob("*")
             if p.is_file()}
    assert len(media) > 4
    for n in names:
        (out / n).write_bytes(b"previous\n")
    # 40 kB per file: the store (and its 32 kB -shm) still opens, the media do not fit
    r = cli(["report", "rep", "--html"], prefix="ulimit -f 40;")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("error: EFBIG (File too large) while writing"), r.stderr
    assert "finished work is kept" in r.stderr
    for n in names:                                            # the old file or the whole new one
        assert (out / n).read_bytes() in (b"previous\n", complete[n]), n
    assert (out / "index.html").read_bytes() == b"previous\n"
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]
    # the previous page's media and plots are whole (the new ones were staged and discarded)
    assert {p.relative_to(out): p.read_bytes() for d in ("listen", "plots") for p in (out / d).rglob("*")
            if p.is_file()} == media
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".lock"], list(out.iterdir())
    again = cli(["report", "rep", "--html"])
    assert again.returncode == 0, again.stderr
    assert {n: (out / n).read_bytes() for n in names} == complete
