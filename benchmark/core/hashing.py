"""A file's sha256, hashed again only when the file changed: the hash is kept with the stat
signature (size, mtime, inode) it was taken at, and reused while the file still has that signature.

Where the stamp is kept is the caller's: in memory for this process (`sha256_memo`: model files and
checkpoints), beside the file (the asset cache's `.verified` stamps), or in a run's store (a test
set's files, `set_files`). A file rewritten in place gets a new mtime, a file replaced by another
(`mv`, `cp -p`) a new inode: either is hashed in full again, never served an old hash.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Hasher = Callable[[Path], str]


def file_signature(path: str | os.PathLike) -> tuple[int, int, int] | None:
    """(size, mtime in ns, inode) of the file at `path` (links followed), None if it cannot be
    stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino


@dataclass(frozen=True)
class FileStamp:
    """A file's sha256 and the signature the file had when it was hashed."""
    size: int
    mtime_ns: int
    inode: int
    sha256: str

    def matches(self, path: str | os.PathLike) -> bool:
        """Whether the file at `path` still has the signature this hash was taken at."""
        return file_signature(path) == (self.size, self.mtime_ns, self.inode)


def _sha256_file(path: Path) -> str:
    # numpy/soundfile are imported only when a file is hashed
    from benchmark.core.audio import sha256_file
    return sha256_file(path)


def stamp_file(path: str | os.PathLike, known: FileStamp | None = None,
               hasher: Hasher | None = None) -> FileStamp:
    """`known` while the file still has its signature, else the file hashed now by `hasher` (its
    errors propagate; default: plain sha256 of the bytes). The signature is taken before hashing,
    so a file that changes while it is hashed does not match its stamp next time."""
    path = Path(path)
    sig = file_signature(path)
    if known is not None and sig is not None and sig == (known.size, known.mtime_ns, known.inode):
        return known
    sha = (hasher or _sha256_file)(path)
    if sig is None:                  # appeared between stat and hash: stat it now
        sig = file_signature(path)
        if sig is None:
            raise FileNotFoundError(f"{path}: the file went away while it was hashed")
    return FileStamp(*sig, sha)


_MEMO: dict[str, FileStamp] = {}
_MEMO_LOCK = threading.Lock()


def sha256_memo(path: str | os.PathLike) -> str:
    """sha256 of a file, hashed once per process while its size, mtime and inode stay the same
    (model files and checkpoints, whose hashes name them in versions and cache keys: a 4.7 GB
    checkpoint takes seconds to hash)."""
    key = str(Path(path).resolve())
    with _MEMO_LOCK:
        known = _MEMO.get(key)
    found = stamp_file(key, known)
    if found is not known:
        with _MEMO_LOCK:
            _MEMO[key] = found
    return found.sha256
