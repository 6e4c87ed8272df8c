"""Safe file-system operations shared by the runner, the store and the reports: atomic writes with
the process umask, the classification of OS errors into "this item" and "this machine"
(`TransientIOError`), file names unique per id, and paths confined to a root folder.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from benchmark.core.errors import TransientIOError, UnsafePathError

# errno values that say something about the machine (disk, quota, device, limits), not about the
# file being processed: never cached as an item's error.
TRANSIENT_ERRNOS = frozenset(getattr(errno, n) for n in (
    "ENOSPC", "EFBIG", "EDQUOT", "EIO", "EROFS", "ENOMEM", "EMFILE", "ENFILE", "EAGAIN",
    "ETIMEDOUT", "ESTALE", "ENOLCK", "EINTR") if hasattr(errno, n))

MEDIA_MARKER = ".benchmark-generated"      # a folder we may replace carries this file
_SAFE = re.compile(r"[^A-Za-z0-9_.=-]+")


def errno_name(exc: OSError) -> str:
    """'ENOSPC (No space left on device)' for an OSError; the exception text when it has no errno."""
    if exc.errno is None:
        return str(exc) or type(exc).__name__
    return f"{errno.errorcode.get(exc.errno, str(exc.errno))} ({os.strerror(exc.errno)})"


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in TRANSIENT_ERRNOS


def transient_error(exc: OSError, action: str, path: str | os.PathLike) -> TransientIOError:
    return TransientIOError(
        f"{errno_name(exc)} while {action} {path}: the machine, not this item, failed (full disk, "
        "file-size limit, quota or device error). Nothing was recorded as an item error and "
        "finished work is kept; fix the cause and re-run the same command to continue.")


def safe_name(text: str) -> str:
    """`text` as one file-name part: every run of characters outside `A-Z a-z 0-9 _ . = -`
    becomes one `_` (the one sanitiser of system, set and metric names in paths)."""
    return _SAFE.sub("_", text)


def unique_stem(text: str, max_chars: int = 48) -> str:
    """A file-name stem for an id: its readable part (unsafe characters replaced, bounded) plus
    the first 12 hex digits of sha256(id), so "x y" and "x_y" never share a file."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    readable = safe_name(text)[:max_chars].strip("._") or "item"
    return f"{readable}-{digest}"


def temp_path(path: Path) -> Path:
    """A hidden temp name beside `path` (same folder: the final rename is atomic)."""
    return path.with_name(f".{path.name[:64]}.{os.getpid()}.{secrets.token_hex(4)}.part")


@contextmanager
def atomic_target(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a new, empty temp file beside `path` (mode 0666 minus the process umask: mkstemp
    would force 0600) for the caller to fill; when the block ends normally it is renamed over
    `path` in one step, so readers see the old file or the new one, never a half-written one.
    On any failure the temp file is removed and the old file is unchanged; OSErrors with a
    transient errno (ENOSPC, EFBIG, EIO...) come back as TransientIOError naming the errno."""
    path = Path(path)
    tmp = temp_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        yield tmp
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        if is_transient(exc):
            raise transient_error(exc, "writing", path) from exc
        raise


def atomic_write(path: str | os.PathLike, data: bytes | memoryview | str, *, encoding: str = "utf-8") -> Path:
    """Write `data` to `path` atomically (`atomic_target`)."""
    payload = data.encode(encoding) if isinstance(data, str) else memoryview(data).cast("B")
    with atomic_target(path) as tmp:
        fd = os.open(tmp, os.O_WRONLY)
        try:
            view = memoryview(payload)
            while len(view):
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
    return Path(path)


def write_csv(path: str | os.PathLike, fields: list[str], rows: Iterable[Mapping]) -> Path:
    """The one CSV writer (reports' scores.csv, `score --out`, `runtime --out`, the P.808 export):
    a header of `fields`, then one row per mapping in that order (other keys ignored, None as an
    empty cell), replacing `path` atomically (`atomic_write`)."""
    with io.StringIO(newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
        return atomic_write(path, f.getvalue())


class StagedDir:
    """A replacement for the generated folder `parent/name` (a report's plots/ or listen/), built
    beside it and swapped in only once everything that refers to it is written: a report that
    fails half-way (full disk) leaves the previous folder, and the files pointing into it, whole.

    `path` is a fresh, empty hidden folder (with MEDIA_MARKER) to fill; `commit()` removes the old
    folder, which must be one the benchmark wrote (MEDIA_MARKER), and renames the new one into its
    place; `discard()` removes the new one. As a context manager: commit on success, else discard.
    Anything at `parent/name` that the benchmark did not write is refused (UnsafePathError) before
    anything is made or deleted."""

    def __init__(self, parent: Path, name: str):
        self.target = parent / name
        if self.target.is_symlink() or (self.target.exists() and not _generated(self.target)):
            raise UnsafePathError(f"{self.target} exists and was not written by the benchmark (no "
                                  f"{MEDIA_MARKER} file); nothing was deleted. Move it away or write "
                                  "the report to another folder (--out)")
        self.path = parent / f".{name}.new-{secrets.token_hex(4)}"
        self.path.mkdir(parents=True)
        (self.path / MEDIA_MARKER).write_text("generated by the benchmark; replaced on every report\n")

    def commit(self) -> Path:
        if self.target.exists():
            old = self.target.with_name(f".{self.target.name}.old-{secrets.token_hex(4)}")
            os.replace(self.target, old)
            os.replace(self.path, self.target)
            shutil.rmtree(old)
        else:
            os.replace(self.path, self.target)
        return self.target

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> StagedDir:
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()


def _generated(folder: Path) -> bool:
    """Written by the benchmark: the marker, or (reports from before the marker) nothing but the
    media it writes (.png/.flac files in sub-folders)."""
    if (folder / MEDIA_MARKER).is_file():
        return True
    if not folder.is_dir():
        return False
    return all(p.is_dir() and not p.is_symlink() or p.suffix in (".png", ".flac") and p.is_file()
               for p in folder.rglob("*"))


def confine(root: str | os.PathLike, rel: object, what: str = "path", *,
            symlinks_inside: bool = True) -> Path:
    """`root/rel`, resolved, when it stays inside `root` (symlinks followed); else UnsafePathError.

    Refused: non-strings, empty strings, NUL bytes, absolute paths, any '..' component, and a
    path whose resolved location (after symlinks) is outside the resolved root. A symlink loop is
    not resolved here: it is left for the reader, which names ELOOP. symlinks_inside=False skips
    the symlink check (corpora roots are often assembled from symlinks to other disks)."""
    if not isinstance(rel, str) or not rel.strip():
        raise UnsafePathError(f"{what} {rel!r}: expected a non-empty relative path")
    if "\0" in rel:
        raise UnsafePathError(f"{what} {rel!r}: contains a NUL byte")
    p = Path(rel)
    if p.is_absolute() or rel.startswith(("/", "\\")):
        raise UnsafePathError(f"{what} '{rel}': absolute paths are refused; expected a path "
                              f"relative to {root}")
    if ".." in p.parts:
        raise UnsafePathError(f"{what} '{rel}': '..' components are refused; expected a path "
                              f"inside {root}")
    base = Path(os.path.realpath(root))
    full = Path(os.path.realpath(base / p))
    if symlinks_inside and full != base and base not in full.parents:
        raise UnsafePathError(f"{what} '{rel}' resolves to {full}, outside {base} (a symlink "
                              "leaving the folder); refused")
    return base / p
