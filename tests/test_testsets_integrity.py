"""Builds never destroy and sets know their sources (issue 27 item 2, issue 28 item 5), through
the real CLI as a user would meet each case."""

from __future__ import annotations

import shutil
import threading

import pytest
from filelock import FileLock

from benchmark.cli import main
from benchmark.core.audio import sha256_file
from testsets.engine import MARKER, SOURCES, STAGING_MARKER, read_checksums
from testsets.manifest import read_manifest


def _build(corpora, out, *extra, name="libri_noisy"):
    return main(["--corpora", str(corpora), "testsets", "build", name, "--items", "2",
                 "--out", str(out), "--workers", "1", *extra])


@pytest.fixture
def own_corpora(corpora, tmp_path):
    """A corpora folder whose LibriSpeech files are copies (a test may swap them)."""
    root = tmp_path / "corpora"
    root.mkdir()
    shutil.copytree(corpora / "LibriSpeech", root / "LibriSpeech")
    (root / "VoiceBank-DEMAND").symlink_to(corpora / "VoiceBank-DEMAND", target_is_directory=True)
    return root


def test_a_folder_the_harness_did_not_write_is_never_deleted(corpora, tmp_path, capsys):
    out = tmp_path / "out"
    (out / "libri_noisy").mkdir(parents=True)
    thesis = out / "libri_noisy" / "thesis.tex"
    thesis.write_text("\\chapter{years of work}")
    assert _build(corpora, out) == 2
    err = capsys.readouterr().err
    assert "was not written by the benchmark" in err and "Traceback" not in err
    assert thesis.read_text() == "\\chapter{years of work}"
    assert not (out / ".libri_noisy.building").exists()


def test_rebuild_replaces_only_a_complete_set_and_cleans_a_killed_builds_staging(corpora, tmp_path,
                                                                                capsys):
    out = tmp_path / "out"
    assert _build(corpora, out, "--seed", "1") == 0
    folder = out / "libri_noisy"
    assert (folder / MARKER).is_file() and (folder / SOURCES).is_file()
    first = read_checksums(folder)
    # a killed build left its staging folder with a manifest in it: never listed as a set
    stale = out / ".libri_noisy.building" / "set"
    stale.mkdir(parents=True)
    shutil.copy(folder / "manifest.jsonl", stale / "manifest.jsonl")
    (stale.parent / STAGING_MARKER).write_text("12345\n")
    assert sorted(p.parent.name for p in out.glob("*/manifest.jsonl")) == ["libri_noisy"]
    capsys.readouterr()
    assert main(["--corpora", str(corpora), "testsets", "verify", "--out", str(out)]) == 0
    assert capsys.readouterr().out.count("libri_noisy: ok") == 1
    assert _build(corpora, out, "--seed", "2") == 0
    assert not (out / ".libri_noisy.building").exists()
    second = read_checksums(folder)
    assert second != first and len(read_manifest(folder / "manifest.jsonl")) == 2
    assert set(second) == {p.relative_to(folder).as_posix() for p in folder.rglob("*.wav")}


def test_a_concurrent_build_of_the_same_set_exits_with_a_message(corpora, tmp_path, capsys):
    out = tmp_path / "out"
    assert _build(corpora, out) == 0
    before = read_checksums(out / "libri_noisy")
    held = threading.Event()
    release = threading.Event()

    def hold():                       # another process's build holds the set's lock
        with FileLock(str(out / ".libri_noisy.lock")):
            held.set()
            release.wait(30)

    t = threading.Thread(target=hold)
    t.start()
    held.wait(30)
    try:
        rc = _build(corpora, out, "--seed", "9")
    finally:
        release.set()
        t.join()
    err = capsys.readouterr().err
    assert rc == 2 and "another build of test set 'libri_noisy'" in err and "Traceback" not in err
    assert read_checksums(out / "libri_noisy") == before


def test_a_symlinked_set_folder_is_a_clear_message_and_leaves_nothing_behind(corpora, tmp_path,
                                                                             capsys):
    out = tmp_path / "out"
    real = tmp_path / "elsewhere"
    real.mkdir()
    out.mkdir()
    (out / "libri_noisy").symlink_to(real, target_is_directory=True)
    assert _build(corpora, out) == 2
    err = capsys.readouterr().err
    assert "is a symbolic link" in err and "Traceback" not in err
    assert (out / "libri_noisy").is_symlink() and real.is_dir()
    assert not (out / ".libri_noisy.building").exists()


def test_verify_names_a_swapped_or_missing_corpus_source(own_corpora, tmp_path, capsys):
    out = tmp_path / "out"
    assert _build(own_corpora, out) == 0
    folder = out / "libri_noisy"
    items = read_manifest(folder / "manifest.jsonl")
    sums = dict(line.split("  ", 1)[::-1] for line in (folder / SOURCES).read_text().splitlines())
    used = {v for it in items for v in it.sources.values() if isinstance(v, str) and v}
    assert set(sums) == used                      # every source an item reads, and nothing else
    for rel, sha in sums.items():
        assert sha256_file(own_corpora / rel) == sha
    capsys.readouterr()
    assert main(["--corpora", str(own_corpora), "testsets", "verify", "libri_noisy",
                 "--out", str(out)]) == 0
    # another utterance of the corpus copied over the one an item used: same kind of file
    victim = items[0].sources["speech"]
    other = next(p for p in (own_corpora / "LibriSpeech").rglob("*.flac")
                 if p.relative_to(own_corpora).as_posix() not in used)
    shutil.copyfile(other, own_corpora / victim)
    missing = items[1].sources["speech"]
    (own_corpora / missing).unlink()
    assert main(["--corpora", str(own_corpora), "testsets", "verify", "libri_noisy",
                 "--out", str(out)]) == 1
    text = capsys.readouterr().out
    assert "libri_noisy: MISMATCH" in text and "1 changed, 1 missing" in text
    assert f"source changed: {own_corpora / victim} (used by {items[0].id})" in text
    assert f"source missing: {own_corpora / missing} (used by {items[1].id})" in text
