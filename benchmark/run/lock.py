"""One lock per run name and one per report folder (`filelock`: an OS file lock, released by the
kernel when the process dies, so a killed invocation never leaves a stale lock).

A second `run` (or `merge`) of a run that is in progress, and a second report written into a
folder that is being written, exit at once with a message instead of doing the same work twice
or racing in the same files. Readers (`report` of a run in progress) need no lock: the store is
SQLite in WAL mode.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from benchmark.core.errors import RunInUseError
from benchmark.run.store import run_folder

LOCK_NAME = ".lock"


def run_lock_path(run: str) -> Path:
    return run_folder(run) / LOCK_NAME


@contextmanager
def hold(path: Path, what: str, hint: str) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RunInUseError(f"{what} is in use by another invocation (lock {path}); {hint}") from None
    try:
        yield
    finally:
        lock.release()


def run_lock(run: str):
    """Held by `run` and `merge` for the whole invocation."""
    return hold(run_lock_path(run), f"run '{run}'",
                "wait for it to finish or use another --name; nothing was done")


def report_lock(folder: Path):
    """Held while a report (report.md, scores.csv, summary.json, plots, listening page) is written."""
    return hold(Path(folder) / LOCK_NAME, f"report folder {folder}",
                "wait for the other report to finish; nothing was written")


def run_active(run: str) -> bool:
    """Whether an invocation holds the run's lock now (its 'running' rows are real)."""
    path = run_lock_path(run)
    if not path.exists():
        return False
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        return True
    lock.release()
    return False
