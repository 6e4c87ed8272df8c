"""A test-set build as an identity: its fingerprint (the sha256 of its CHECKSUMS) and the check, at
run start, that the files on disk are the build's bytes.

Each item's file is looked up in CHECKSUMS; a file whose size, mtime and inode are what this run's
store recorded when it last matched (`set_files`) is taken as checked (the fast path), any other is
hashed in full (always with `run --verify`). A file that does not match is its item's error, naming
the file: never a silent score. The restore and score jobs hash the bytes they decode against the
same sums (benchmark.run.jobs.read_verified), so a change after this check is caught there.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.core.audio import sha256_input
from benchmark.core.errors import AudioError, UnsafePathError
from benchmark.core.hashing import FileStamp, stamp_file

CHECKSUMS = "CHECKSUMS"
CHANGED = "changed:"      # store keys of items whose file changed: never found as finished work


def changed_message(path: str | Path, got: str, want: str) -> str:
    return (f"{path}: sha256 {got[:12]}... differs from the set's CHECKSUMS ({want[:12]}...): the "
            "file changed after the set was built (edited, swapped or a rebuild under way). Rebuild "
            "the set (python -m benchmark testsets build NAME) or put the file back, then re-run: "
            "this item is redone")


@dataclass
class SetCheck:
    build: str                                   # the fingerprint
    shas: dict[str, tuple[str, str | None]]      # item id -> (degraded sha256, target sha256)
    problems: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)      # item ids whose files differ from the sums
    stats: dict[str, FileStamp] = field(default_factory=dict)   # rel path -> checked stamp (to record)
    hashed: int = 0                              # files hashed in full (not the fast path)


def parse_checksums(data: bytes) -> dict[str, str]:
    """`<sha256>  <relative path>` lines -> {path: sha256}."""
    out = {}
    for line in data.decode("utf-8", errors="replace").splitlines():
        sha, _, rel = line.strip().partition("  ")
        if sha and rel:
            out[rel] = sha
    return out


def check_set(folder: Path, items: list, known: dict[str, FileStamp], verify: bool, bar=None) -> SetCheck:
    """The build's fingerprint and every item's (degraded, target) sha256 as the build recorded them,
    with the items whose files differ. A set without CHECKSUMS (made by hand, not by a builder) is
    hashed in full and identified by its manifest."""
    sums_path = folder / CHECKSUMS
    if sums_path.exists():
        data = sums_path.read_bytes()                  # read once: fingerprint and sums alike
        build, sums = hashlib.sha256(data).hexdigest(), parse_checksums(data)
    else:
        build, sums = "manifest:" + sha256_input(folder / "manifest.jsonl"), None
    out = SetCheck(build, {})
    for it in items:
        pair, probs = [], []
        for which in ("degraded", "target"):
            rel = getattr(it, which)
            if rel is None:
                pair.append(None)
                probs.append(None)
                continue
            sha, prob, changed = _check_file(folder, it, which, sums, known, verify, out)
            pair.append(sha)
            probs.append(prob)
            if changed:
                out.changed.add(it.id)
        out.shas[it.id] = (pair[0], pair[1])
        if probs[0] or probs[1]:
            out.problems[it.id] = (probs[0], probs[1])
        if bar is not None:
            bar.update(1)
    return out


def _check_file(folder: Path, it, which: str, sums: dict[str, str] | None, known: dict[str, FileStamp],
                verify: bool, out: SetCheck) -> tuple[str, str | None, bool]:
    """(sha256 the item is keyed by, its problem or None, whether it is a changed file)."""
    rel = getattr(it, which)
    try:
        path = it.file(folder, which)
    except UnsafePathError as exc:
        return _problem_key(rel, str(exc)), str(exc), False
    want = None if sums is None else sums.get(rel)
    if sums is not None and want is None:
        msg = f"{path}: not listed in the set's CHECKSUMS (a file the build did not write)"
        return _problem_key(rel, msg), msg, False
    seen = known.get(rel)
    if verify or want is None or (seen is not None and seen.sha256 != want):
        seen = None                     # hash it in full
    try:
        stamp = stamp_file(path, seen, sha256_input)
    except (AudioError, FileNotFoundError) as exc:
        return _problem_key(rel, str(exc)), str(exc), False
    if stamp is seen:                   # unchanged since it last matched the sums
        out.stats[rel] = seen
        return want, None, False
    out.hashed += 1
    if want is None:                    # no CHECKSUMS: the file's own hash
        return stamp.sha256, None, False
    if stamp.sha256 != want:
        return want, changed_message(path, stamp.sha256, want), True
    out.stats[rel] = stamp
    return want, None, False


def _problem_key(rel: str, problem: str) -> str:
    return "error:" + hashlib.sha256(f"{rel!r}|{problem}".encode()).hexdigest()
