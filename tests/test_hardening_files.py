"""Damaged and unwritable files, through the real CLI on real VoiceBank-DEMAND pairs: a truncated
or garbage store.sqlite, a read-only run folder, non-UTF-8 manifests, file names and transcripts
each end in one message (no traceback) and change nothing."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3

import runner_support as rs
from hardening_support import cli

from benchmark.cli import main
from benchmark.core import paths

ARGS = ["run", "--systems", "t_half", "--metrics", "t_rms", "--name", "f", "--profile", "offline"]


def _store():
    return paths.runs_dir() / "f" / "store.sqlite"


def test_a_damaged_store_is_one_message_and_is_left_as_it_is(isolated_env, corpora, plugins, capsys):
    rs.make_vb_set(corpora, paths.testsets_dir(), n=2)
    assert main(ARGS) == 0
    db = _store()
    good = db.read_bytes()
    for side in db.parent.glob("store.sqlite-*"):
        side.unlink()
    damaged = {"truncated": good[: len(good) // 2],
               "garbage": bytes(range(256)) * (len(good) // 256),
               "a zeroed page": good[:8192] + bytes(4096) + good[12288:]}
    for what, bad in damaged.items():
        db.write_bytes(bad)
        capsys.readouterr()
        for args in (ARGS, ["report", "f"]):
            assert main(args) == 2, what
            err = capsys.readouterr().err
            assert err.startswith(f"error: run store {db} is damaged (SQLite: "), (what, err)
            assert f"Move it away to start the run afresh (mv {db} {db}.damaged" in err
            assert db.read_bytes() == bad, what               # nothing was changed
    db.rename(db.with_name("store.sqlite.damaged"))
    assert main(ARGS) == 0                                  # the advice works


def test_a_read_only_run_folder_is_one_message(isolated_env, corpora, plugins):
    rs.make_vb_set(corpora, paths.testsets_dir(), n=2)
    assert main(ARGS) == 0
    folder = _store().parent
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    os.chmod(folder, 0o555)
    try:
        r = cli(ARGS, drop_caps=True)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert r.stderr.startswith(f"error: run store {_store()} cannot be written (SQLite: "), r.stderr
        assert "Make them writable (chmod u+w)" in r.stderr
    finally:
        os.chmod(folder, 0o755)
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    # a read-only outputs folder stops the run: no item is stored as failed for it
    out = folder / "outputs"
    os.chmod(out, 0o555)
    try:
        r = cli(["run", "--systems", "unprocessed", "--metrics", "t_rms", "--name", "f",
                 "--profile", "offline"], drop_caps=True)
    finally:
        os.chmod(out, 0o755)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith(f"error: cannot write {out}/unprocessed-") and \
        "EACCES (Permission denied): the run folder is read-only. Nothing was recorded" in r.stderr
    con = sqlite3.connect(_store())
    assert con.execute("SELECT COUNT(*) FROM outputs WHERE error IS NOT NULL").fetchone()[0] == 0
    assert main(["run", "--systems", "unprocessed", "--metrics", "t_rms", "--name", "f",
                 "--profile", "offline"]) == 0
    # a read-only report folder: one message, the report left as it was
    reports = paths.reports_dir() / "f"
    md = (reports / "report.md").read_bytes()
    os.chmod(reports, 0o555)
    try:
        r = cli(["report", "f"], drop_caps=True)
    finally:
        os.chmod(reports, 0o755)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith(f"error: cannot write {reports}/") and \
        "EACCES (Permission denied): the folder is read-only." in r.stderr, r.stderr
    assert (reports / "report.md").read_bytes() == md


def test_non_utf8_manifests_and_names_are_one_message(isolated_env, corpora, plugins, capsys):
    folder = rs.make_vb_set(corpora, paths.testsets_dir(), n=2)
    manifest = folder / "manifest.jsonl"
    good = manifest.read_bytes()
    # a Latin-1 transcript in the manifest
    manifest.write_bytes(good.replace(b'"transcript": "', b'"transcript": "caf\xe9 ', 1))
    assert main(ARGS) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {manifest}:1: not UTF-8 text (byte 0xe9 at column "), err
    # a file name that is not UTF-8 (written by a builder as a "\udcff" escape)
    lines = good.decode().splitlines()
    first = json.loads(lines[0])
    os.rename(folder / first["degraded"], os.fsencode(folder / "degraded") + b"/x\xff.wav")
    first["degraded"] = "degraded/x\udcff.wav"
    manifest.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    assert main(ARGS) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {manifest}:1: malformed manifest line (text that is not valid "
                          "Unicode ('\\udcff', e.g. a file name or transcript in another encoding)"), err
    # the run's own store may exist (it is opened first, to check the set's files against the
    # stats it recorded), but nothing was restored or recorded for any item
    if _store().exists():
        con = sqlite3.connect(_store())
        assert con.execute("SELECT COUNT(*) FROM item_outputs").fetchone()[0] == 0
        assert con.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 0
        con.close()


def test_non_utf8_transcripts_for_score_are_one_message(tmp_path, corpora, capsys):
    deg = tmp_path / "deg"
    deg.mkdir()
    shutil.copy(corpora / "VoiceBank-DEMAND" / "noisy_testset_wav" / "p287_001.wav", deg / "a.wav")
    texts = tmp_path / "texts.txt"
    texts.write_bytes(b"a.wav ok\na.wav caf\xe9 au lait\n")
    assert main(["score", "--metrics", "wer", "--degraded", str(deg), "--transcripts", str(texts)]) == 2
    assert capsys.readouterr().err == (f"error: {texts}:2: not UTF-8 text (byte 0xe9); re-save the "
                                       "transcripts as UTF-8 (e.g. iconv -f latin1 -t utf-8)\n")
