"""Asset registry: every external weight file or corpus archive is one typed `Asset` record.

`fetch` looks in the cache, then in BENCHMARK_ASSET_MIRROR (a local folder or file:// URL laid
out like the cache), then at the asset's URLs; downloads resume from a `.part` file, show a
progress bar and are verified by sha256 before they are moved into place. Nothing falls back
silently: a missing asset raises one AssetError naming the asset, its URL and where to put it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from filelock import FileLock

from benchmark.assets.catalog import all_assets, get_asset  # noqa: F401
from benchmark.assets.records import (  # noqa: F401
    ASSETS,
    Asset,
    integrity_problem,
    register_asset,
    sha256_matches,
)
from benchmark.assets.unpack import extract
from benchmark.core.errors import AssetError
from benchmark.core.files import atomic_write
from benchmark.core.hashing import FileStamp, stamp_file
from benchmark.core.paths import cache_dir
from benchmark.core.progress import progress

CHUNK = 1 << 20


_WARNED: set[str] = set()


def _warn_unpinned(asset: Asset, path: Path) -> None:
    if asset.sha256 or asset.md5 or asset.name in _WARNED:
        return
    _WARNED.add(asset.name)
    print(f"warning: asset '{asset.name}' has no published sha256 to verify against; using {path} "
          f"(sha256 {local_sha256(asset.name, path)}). Results record this hash.", file=sys.stderr)


def local_sha256(name: str, path: Path | None = None) -> str:
    """The sha256 of the asset's local file: its verification stamp's while the file's size,
    mtime and inode still match the stamp, else a fresh hash (a replaced file never keeps an old
    hash)."""
    path = path or get_asset(name).cached_path()
    return stamp_file(path, _read_stamp(path), sha256_of).sha256


def asset_fingerprints(names: tuple[str, ...] | list[str], *, unpinned_only: bool = False,
                       root: Path | None = None) -> dict[str, str]:
    """sha256 of each named asset's local file (cache, else mirror; never the internet), or
    "missing". Cache keys take the unpinned ones (`unpinned_only`): their record pins nothing, so
    the file's own hash is what identifies the weights; provenance takes them all."""
    out: dict[str, str] = {}
    for name in names:
        asset = get_asset(name)
        if unpinned_only and asset.sha256:
            continue
        try:
            fetch(name, root=root, offline=True)
        except AssetError:
            out[name] = "missing"
            continue
        file = asset.cached_path(root)
        out[name] = local_sha256(name, file) if file.is_file() else asset.sha256
    return out


def sha256_of(path: Path, desc: str = "") -> str:
    h = hashlib.sha256()
    total = path.stat().st_size
    with open(path, "rb") as f, progress(desc=desc or f"sha256 {path.name}", total=total,
                                         unit="B", unit_scale=True) as bar:
        while block := f.read(CHUNK):
            h.update(block)
            bar.update(len(block))
    return h.hexdigest()


# --- verification stamps: a full re-hash on every load would cost seconds for large weights ----

def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _read_stamp(path: Path) -> FileStamp | None:
    """The file's stamp (benchmark.core.hashing.FileStamp as JSON), None if there is none or it is
    unreadable (a stamp written before stamps recorded the inode is hashed again, once)."""
    try:
        stamp = FileStamp(**json.loads(_stamp_path(path).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    ints = (stamp.size, stamp.mtime_ns, stamp.inode)
    return stamp if isinstance(stamp.sha256, str) and all(type(v) is int for v in ints) else None


def _verify_stamp(path: Path, desc: str) -> FileStamp:
    """The file hashed in full now, with the signature it had."""
    return stamp_file(path, None, lambda p: sha256_of(p, desc=desc))


def _write_stamp(path: Path, stamp: FileStamp) -> None:
    # a new temp file (O_EXCL) renamed over the stamp: replaces a symlinked stamp, never writes
    # through it
    atomic_write(_stamp_path(path), json.dumps(asdict(stamp), sort_keys=True))


# --- the cache's own files are never links out of it ------------------------------------------

def _unlink_link(path: Path) -> None:
    """A symlink at one of the cache's working names (`.part`, a stamp, an unpacked `.d`) is
    removed (the link only, never what it points to): the harness writes real files only."""
    if path.is_symlink():
        path.unlink()


def _check_cache_file(asset: Asset, target: Path, root: Path | None) -> None:
    """A cache file that is a symlink resolving outside the cache is refused, never read or
    replaced through: a file elsewhere is used through BENCHMARK_ASSET_MIRROR."""
    if not target.is_symlink():
        return
    cache = (root or cache_dir()).resolve()
    real = target.resolve()
    if real != cache and cache not in real.parents:
        raise AssetError(f"asset '{asset.name}': the cache file {target} is a symlink to {real}, "
                         f"outside the cache {cache}; nothing was read or written through it. Remove "
                         "the link (to use a copy kept elsewhere, set BENCHMARK_ASSET_MIRROR to its "
                         "folder)")


def _stamp_ok(path: Path, sha: str) -> bool:
    stamp = _read_stamp(path)
    return stamp is not None and stamp.sha256.startswith(sha) and stamp.matches(path)


def _missing_message(asset: Asset, target: Path, tried: list[str]) -> str:
    urls = " or ".join(asset.urls) if asset.urls else "(no public URL)"
    lines = [
        f"asset '{asset.name}' ({asset.used_by}) is not available.",
        f"  download it from: {urls}",
        f"  and place it at:  {target}",
        f"  (or set BENCHMARK_ASSET_MIRROR to a folder containing {asset.path})",
        f"  expected sha256 {asset.sha256}, {asset.size} bytes; licence: {asset.licence}",
    ]
    if tried:
        lines.append("  tried: " + "; ".join(tried))
    return "\n".join(lines)


def mirror_candidates(asset: Asset) -> list[str]:
    """URLs inside BENCHMARK_ASSET_MIRROR where this asset may lie (by cache path, then file name)."""
    mirror = os.environ.get("BENCHMARK_ASSET_MIRROR", "").strip()
    if not mirror:
        return []
    if "://" not in mirror:
        mirror = Path(mirror).expanduser().resolve().as_uri()
    mirror = mirror.rstrip("/")
    rel = asset.path
    names = [rel, Path(rel).name]
    return [f"{mirror}/{urllib.parse.quote(n)}" for n in dict.fromkeys(names)]


def offline_mode() -> bool:
    """BENCHMARK_OFFLINE=1 (or true, yes): nothing is downloaded; assets and corpora come from
    the cache or the mirror, and what is missing ends in one message (the one reading of it)."""
    return os.environ.get("BENCHMARK_OFFLINE", "") in ("1", "true", "yes")


def _download(url: str, part: Path, asset: Asset) -> None:
    """Download `url` into `part`, resuming from its current size; `part` is opened without
    following a symlink (O_NOFOLLOW), so the download never lands in a link's target."""
    _unlink_link(part)
    offset = part.stat().st_size if part.exists() else 0
    if asset.size and offset > asset.size:
        part.unlink()
        offset = 0
    req = urllib.request.Request(url, headers={"User-Agent": "speech-restoration-benchmark"})
    if offset and not url.startswith("file:"):
        req.add_header("Range", f"bytes={offset}-")
    with urllib.request.urlopen(req, timeout=60) as resp:
        status = getattr(resp, "status", None)
        if url.startswith("file:"):
            skip = offset  # file:// has no Range: read past what we already have
            while skip > 0 and (block := resp.read(min(CHUNK, skip))):
                skip -= len(block)
        elif offset and status != 206:
            offset = 0  # server ignored Range: start over
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_APPEND if offset else os.O_TRUNC)
        with os.fdopen(os.open(part, flags, 0o666), "ab" if offset else "wb") as f, progress(desc=f"fetch {asset.name}", total=asset.size or None,
                                             initial=offset, unit="B", unit_scale=True) as bar:
            while block := resp.read(CHUNK):
                f.write(block)
                bar.update(len(block))


def fetch(name: str, *, root: Path | None = None, offline: bool | None = None,
          unpack: bool = True) -> Path:
    """Return the verified local path of asset `name`, downloading it if needed (`unpack=False`:
    the archive itself, even for records that unpack next to the file).

    A file already verified (its stamp matches) and unpacked is returned without writing. Anything
    that writes in the cache (a stamp, a download, an unpacked folder) holds the asset's lock
    (`<file>.lock`, an OS file lock): two processes fetching the same asset at once (two runs, test
    workers, Ray workers) do not write the same `.part` file; the second finds the first's result."""
    asset = get_asset(name)
    target = asset.cached_path(root)
    _check_cache_file(asset, target, root)
    if (target.exists() and _stamp_ok(target, asset.sha256)
            and not (unpack and asset.unpack and not (Path(str(target) + ".d") / ".complete").exists())):
        _warn_unpinned(asset, target)
        return _maybe_unpack(asset, target) if unpack else target
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = target.with_name(target.name + ".lock")
    _unlink_link(lock)               # never opened through a link out of the cache
    with FileLock(str(lock)):
        _check_cache_file(asset, target, root)
        return _fetch_locked(asset, target, offline, unpack)


def _fetch_locked(asset: Asset, target: Path, offline: bool | None, unpack: bool) -> Path:
    if target.exists():
        if _stamp_ok(target, asset.sha256):
            _warn_unpinned(asset, target)
            return _maybe_unpack(asset, target) if unpack else target
        stamp = _verify_stamp(target, f"verify {asset.name}")
        got = stamp.sha256
        if sha256_matches(got, asset):
            _write_stamp(target, stamp)
            _warn_unpinned(asset, target)
            return _maybe_unpack(asset, target) if unpack else target
        raise AssetError(
            f"asset '{asset.name}' at {target} is corrupted or truncated: sha256 {got} "
            f"({target.stat().st_size} bytes), expected {asset.sha256} ({asset.size} bytes). "
            f"Delete it and run: python -m benchmark assets fetch {asset.name}")
    if offline is None:
        offline = offline_mode()
    sources = mirror_candidates(asset) + ([] if offline else list(asset.urls))
    tried: list[str] = []
    part = target.with_name(target.name + ".part")
    for url in sources:
        try:
            _download(url, part, asset)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", None) or exc
            tried.append(f"{url} ({reason})")
            continue
        stamp = _verify_stamp(part, f"verify {asset.name}")       # a rename keeps the signature
        got = stamp.sha256
        if not sha256_matches(got, asset):
            size = part.stat().st_size
            part.unlink()
            tried.append(f"{url} (sha256 mismatch: got {got}, {size} bytes)")
            continue
        if problem := integrity_problem(asset, part):
            part.unlink()
            tried.append(f"{url} (refused: {problem})")
            continue
        os.replace(part, target)
        _write_stamp(target, stamp)
        _warn_unpinned(asset, target)
        return _maybe_unpack(asset, target) if unpack else target
    raise AssetError(_missing_message(asset, target, tried))


def _maybe_unpack(asset: Asset, archive: Path) -> Path:
    if not asset.unpack:
        return archive
    out = Path(str(archive) + ".d")
    _unlink_link(out)
    if (out / ".complete").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    extract(archive, out)          # safe: members confined to `out`, atomic, one error if corrupt
    (out / ".complete").write_text(asset.sha256)
    return out


def require_local(name: str, *, root: Path | None = None) -> Path:
    """The asset's path if it is in the cache or the mirror; never downloads from the internet."""
    return fetch(name, root=root, offline=True)


@dataclass
class VerifyResult:
    name: str
    status: str          # "ok", "missing", "corrupted"
    path: Path
    detail: str = ""
    extra: dict = field(default_factory=dict)


def verify(names: list[str] | None = None, *, root: Path | None = None) -> list[VerifyResult]:
    """Fully re-hash every cached asset (or the named ones)."""
    results = []
    for asset in (get_asset(n) for n in names) if names else all_assets():
        target = asset.cached_path(root)
        if not target.exists():
            results.append(VerifyResult(asset.name, "missing", target))
            continue
        stamp = _verify_stamp(target, f"verify {asset.name}")
        got = stamp.sha256
        if not asset.sha256 and asset.md5:
            problem = integrity_problem(asset, target)
            results.append(VerifyResult(asset.name, "corrupted" if problem else "ok", target,
                                        problem or "md5 as published"))
        elif not asset.sha256:
            _write_stamp(target, stamp)
            results.append(VerifyResult(asset.name, "unpinned", target,
                                        f"sha256 {got}: no published hash to compare with"))
        elif sha256_matches(got, asset):
            _write_stamp(target, stamp)
            results.append(VerifyResult(asset.name, "ok", target))
        else:
            _stamp_path(target).unlink(missing_ok=True)
            results.append(VerifyResult(
                asset.name, "corrupted", target,
                f"sha256 {got} ({target.stat().st_size} bytes), expected {asset.sha256} ({asset.size} bytes)"))
    return results
