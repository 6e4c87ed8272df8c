"""Safe archive extraction: every member lands inside the destination, or nothing does.

`extract(archive, dest, member_prefix=..., strip=...)` unpacks a tar (any compression) or zip
archive into a temporary folder beside `dest` and moves the finished tree into place, so an
interrupted or refused extraction leaves no partial corpus and no temporary folder behind.
Refused, with one `AssetError` naming the archive and the member: absolute member names, `..`
components, links (symbolic or hard) that point outside the destination, device files and FIFOs.
A truncated or corrupt archive is one `AssetError` too (never a traceback from tarfile/zipfile).
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from benchmark.core.errors import AssetError


def _normalised(name: str) -> PurePosixPath:
    return PurePosixPath(name.replace("\\", "/"))


def _check_name(archive: Path, name: str) -> PurePosixPath:
    p = _normalised(name)
    if p.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise AssetError(f"{archive}: refused: member '{name}' has an absolute path")
    if ".." in p.parts:
        raise AssetError(f"{archive}: refused: member '{name}' reaches outside the destination "
                         "('..' in its path)")
    return p


def _select(p: PurePosixPath, prefix: PurePosixPath | None) -> PurePosixPath | None:
    """The member's path relative to `prefix`, or None when it lies outside it."""
    if prefix is None or str(prefix) in ("", "."):
        return p
    try:
        rel = p.relative_to(prefix)
    except ValueError:
        return None
    return rel if str(rel) not in ("", ".") else None


# Leading bytes of the formats we unpack: a file that starts like one of them but does not open
# is a damaged download (e.g. a zip cut short has no central directory), not another format.
_MAGIC = {b"PK\x03\x04": "zip", b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz"}


def _unknown_format(archive: Path) -> AssetError:
    try:
        with open(archive, "rb") as f:
            head = f.read(6)
    except OSError as exc:
        return AssetError(f"{archive}: cannot read it ({exc})")
    kind = next((k for m, k in _MAGIC.items() if head.startswith(m)), None)
    if kind is not None:
        return AssetError(f"{archive}: corrupt or truncated archive (starts like a {kind} file but "
                          "does not open as one); delete it and fetch it again")
    return AssetError(f"{archive}: not a tar or zip archive")


def _tar_members(archive: Path, tf: tarfile.TarFile, prefix, dest_tmp: Path
                 ) -> Iterator[tuple[tarfile.TarInfo, PurePosixPath]]:
    for m in tf:
        p = _check_name(archive, m.name)
        rel = _select(p, prefix)
        if rel is None:
            continue
        if m.ischr() or m.isblk() or m.isfifo() or m.isdev():
            raise AssetError(f"{archive}: refused: member '{m.name}' is a device or FIFO")
        if m.issym() or m.islnk():
            target = _normalised(m.linkname)
            base = rel.parent if m.issym() else PurePosixPath()
            resolved = os.path.normpath(str(base / target)) if not target.is_absolute() else "/"
            if target.is_absolute() or resolved.startswith(".."):
                raise AssetError(f"{archive}: refused: link '{m.name}' -> '{m.linkname}' points "
                                 "outside the destination")
        yield m, rel


def extract(archive: Path, dest: Path, *, member_prefix: str = "") -> Path:
    """Extract the members of `archive` under `member_prefix` (stripped) into `dest`.

    `dest` may already exist (several archives fill one corpus folder): members are merged into
    it, but only after the whole archive extracted cleanly into a temporary folder."""
    archive, dest = Path(archive), Path(dest)
    prefix = _normalised(member_prefix.strip("/")) if member_prefix.strip("/") else None
    dest = Path(os.path.normpath(dest))
    dest.parent.mkdir(parents=True, exist_ok=True)
    # the temporary folder lies inside `dest` when it exists (nothing is written beside it)
    tmp = (dest / f".unpack-{os.getpid()}" if dest.is_dir()
           else dest.parent / f".{dest.name}.unpack-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        count = _extract_into(archive, tmp, prefix)
        if count == 0:
            where = f" under '{member_prefix}'" if prefix else ""
            raise AssetError(f"{archive}: no members{where}; is this the right archive?")
        _merge(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _extract_into(archive: Path, tmp: Path, prefix) -> int:
    count = 0
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    p = _check_name(archive, info.filename)
                    rel = _select(p, prefix)
                    if rel is None:
                        continue
                    mode = info.external_attr >> 16
                    if stat.S_ISLNK(mode):
                        raise AssetError(f"{archive}: refused: member '{info.filename}' is a "
                                         "symbolic link")
                    out = tmp / rel
                    if info.is_dir():
                        out.mkdir(parents=True, exist_ok=True)
                        continue
                    out.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                    count += 1
            return count
        if tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                for m, rel in _tar_members(archive, tf, prefix, tmp):
                    out = tmp / rel
                    if m.isdir():
                        out.mkdir(parents=True, exist_ok=True)
                        continue
                    out.parent.mkdir(parents=True, exist_ok=True)
                    if m.issym() or m.islnk():
                        continue  # checked above to stay inside; corpora need no links
                    src = tf.extractfile(m)
                    if src is None:
                        continue
                    with src, open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                    count += 1
            return count
    except AssetError:
        raise
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
        raise AssetError(f"{archive}: corrupt or truncated archive ({type(exc).__name__}: "
                         f"{exc}); delete it and fetch it again") from None
    except OSError as exc:
        if exc.errno is not None and exc.errno in (28, 27):   # ENOSPC, EFBIG
            raise AssetError(f"{archive}: cannot unpack: {os.strerror(exc.errno)} "
                             f"({exc.filename or tmp})") from None
        raise AssetError(f"{archive}: corrupt or truncated archive ({exc})") from None
    raise _unknown_format(archive)


def _merge(src: Path, dest: Path) -> None:
    """Move the tree `src` into `dest` (rename when `dest` does not exist yet)."""
    if not dest.exists():
        os.replace(src, dest)
        src.mkdir()          # so the caller's cleanup has something to remove
        return
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        out = dest / rel
        if path.is_dir():
            out.mkdir(parents=True, exist_ok=True)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, out)
