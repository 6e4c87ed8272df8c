"""On-disk shards of pre-extracted training segments, in the webdataset layout: each shard is a
plain POSIX tar whose members are grouped by key (`<key>.flac`, `<key>.codes.npy`,
`<key>.kd.npy`, `<key>.json`), written with `webdataset.TarWriter`, so `webdataset.WebDataset`,
`wids` or `tar` read them as they are.

Beside each shard a sidecar `<shard>.json` holds its item count, size, sha256 and, per member, the
byte offset, size and CRC-32 inside the tar. The trainer reads members with `os.pread` at those
offsets (random access without reading the tar sequentially and without mapping it: a rank's
memory stays flat however large the corpus) and checks every member's CRC, so a truncated or
corrupt shard raises one `ShardError` naming the shard file.

A shard exists only once its sidecar does: the tar is written to `<shard>.part`, renamed, then the
sidecar is written (atomically) last; a killed job leaves at most a `.part` file."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.core.errors import BenchmarkError
from benchmark.core.files import atomic_write

FIELDS = ("flac", "codes.npy", "kd.npy", "json")
SIDECAR_SUFFIX = ".json"


class ShardError(BenchmarkError):
    """A shard file that is missing, truncated or corrupt."""


@dataclass
class SegmentRecord:
    """One pre-extracted clean segment: int16 PCM (peak-normalised), codegrams at each gain of the
    grid (G, K, T) int16, KD target (fp16 features or int16 tokens) or None, and its origin."""
    key: str
    pcm: np.ndarray
    codes: np.ndarray
    kd: np.ndarray | None
    meta: dict


def shard_name(split: str, index: int) -> str:
    return f"{split}-{index:06d}.tar"


def _npy(x: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(x), allow_pickle=False)
    return buf.getvalue()


def _flac(pcm: np.ndarray, rate: int) -> bytes:
    import soundfile as sf
    buf = io.BytesIO()
    sf.write(buf, pcm, rate, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def write_shard(path: Path, records: list[SegmentRecord], rate: int, extra: dict) -> dict:
    """Write `records` to the tar `path` (via `.part`) and its sidecar; returns the sidecar."""
    from benchmark.core.deps import require
    wds = require("webdataset", "train", "the shard writer of `train prepare`")
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        writer = wds.TarWriter(f, encoder=False, mtime=0.0)
        for r in records:
            sample = {"__key__": r.key, "flac": _flac(r.pcm, rate), "codes.npy": _npy(r.codes),
                      "json": json.dumps(r.meta, sort_keys=True).encode()}
            if r.kd is not None:
                sample["kd.npy"] = _npy(r.kd)
            writer.write(sample)
        writer.close()
        f.flush()
        os.fsync(f.fileno())
    index: dict[str, dict[str, list[int]]] = {}
    with tarfile.open(tmp, "r") as tar, open(tmp, "rb") as raw:
        for m in tar.getmembers():
            key, _, field = m.name.partition(".")
            raw.seek(m.offset_data)
            crc = zlib.crc32(raw.read(m.size))
            index.setdefault(key, {})[field] = [m.offset_data, m.size, crc]
    keys = [r.key for r in records]
    sidecar = {"shard": path.name, "items": len(records), "bytes": tmp.stat().st_size,
               "sha256": sha256_of(tmp), "keys": keys, "members": [index[k] for k in keys], **extra}
    os.replace(tmp, path)
    side = path.with_name(path.name + SIDECAR_SUFFIX)
    atomic_write(side, json.dumps(sidecar))
    return sidecar


def read_sidecar(path: Path) -> dict | None:
    """The sidecar of shard `path`, or None when the shard is unfinished (no sidecar, or a tar
    whose size differs from the one recorded)."""
    side = path.with_name(path.name + SIDECAR_SUFFIX)
    if not side.exists():
        return None
    try:
        info = json.loads(side.read_text())
    except ValueError:
        return None
    if not path.exists() or path.stat().st_size != info.get("bytes"):
        return None
    return info


class ShardReader:
    """Random access to the items of one shard by position, via pread at the sidecar's offsets."""

    def __init__(self, path: Path, sidecar: dict):
        self.path = Path(path)
        self.info = sidecar
        self._fd: int | None = None
        self._pid = -1

    def __len__(self) -> int:
        return int(self.info["items"])

    def _open(self) -> int:
        if self._fd is None or self._pid != os.getpid():     # a forked worker opens its own fd
            try:
                self._fd = os.open(self.path, os.O_RDONLY)
            except OSError as exc:
                raise ShardError(f"shard {self.path} cannot be opened ({exc.strerror}); "
                                 f"re-run `python -m benchmark train prepare` to rebuild it") from None
            self._pid = os.getpid()
            size = os.fstat(self._fd).st_size
            if size != self.info["bytes"]:
                raise ShardError(f"shard {self.path} is {size} bytes but its index says "
                                 f"{self.info['bytes']}: truncated or overwritten; delete it and its "
                                 f".json and re-run `python -m benchmark train prepare`")
        return self._fd

    def _member(self, i: int, field: str) -> bytes:
        offset, size, crc = self.info["members"][i][field]
        data = os.pread(self._open(), size, offset)
        if len(data) != size or zlib.crc32(data) != crc:
            raise ShardError(f"shard {self.path} is corrupt: member {self.info['keys'][i]}.{field} "
                             f"fails its CRC-32 check; delete the shard and its .json and re-run "
                             f"`python -m benchmark train prepare`")
        return data

    def read(self, i: int) -> SegmentRecord:
        import soundfile as sf
        fields = self.info["members"][i]
        try:
            pcm, _ = sf.read(io.BytesIO(self._member(i, "flac")), dtype="int16")
            codes = np.load(io.BytesIO(self._member(i, "codes.npy")), allow_pickle=False)
            kd = (np.load(io.BytesIO(self._member(i, "kd.npy")), allow_pickle=False)
                  if "kd.npy" in fields else None)
            meta = json.loads(self._member(i, "json"))
        except ShardError:
            raise
        except Exception as exc:
            raise ShardError(f"shard {self.path} is corrupt: item {self.info['keys'][i]} does not "
                             f"decode ({exc})") from None
        return SegmentRecord(self.info["keys"][i], pcm, codes, kd, meta)

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


class ShardSet:
    """The items of a list of shards, addressed by a global position (shard order, then item).
    Holds only each shard's name and item count; a shard's sidecar (member offsets) is read when
    the shard is first used and kept for the `cache` most recently used shards."""

    def __init__(self, root: Path, names: list[str], counts: list[int], cache: int = 8):
        self.root = Path(root)
        self.names = list(names)
        self.counts = np.asarray(counts, dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)
        self._readers: OrderedDict[int, ShardReader] = OrderedDict()
        self._cache = cache

    def __len__(self) -> int:
        return int(self.starts[-1])

    def keep_at_least(self, n: int) -> None:
        """Keep the indexes of at least `n` shards loaded (a sampler's shuffle block)."""
        self._cache = max(self._cache, int(n))

    def check_sizes(self, sizes: list[int | None]) -> None:
        """One stat per shard: a missing or truncated shard fails before training starts."""
        for name, size in zip(self.names, sizes, strict=True):
            path = self.root / name
            if not path.exists():
                raise ShardError(f"shard {path} is missing; re-run `python -m benchmark train prepare`")
            if size is not None and path.stat().st_size != size:
                raise ShardError(f"shard {path} is {path.stat().st_size} bytes but the data index says "
                                 f"{size}: truncated or overwritten; delete it and its .json and re-run "
                                 f"`python -m benchmark train prepare`")

    def locate(self, position: int) -> tuple[int, int]:
        s = int(np.searchsorted(self.starts, position, side="right") - 1)
        return s, int(position - self.starts[s])

    def reader(self, s: int) -> ShardReader:
        r = self._readers.pop(s, None)
        if r is None:
            path = self.root / self.names[s]
            info = read_sidecar(path)
            if info is None:
                raise ShardError(f"shard {path} is missing, unfinished or its size differs from "
                                 f"its index; re-run `python -m benchmark train prepare` to rebuild it")
            if info["items"] != self.counts[s]:
                raise ShardError(f"shard {path} holds {info['items']} items, the data index says "
                                 f"{self.counts[s]}; re-run `python -m benchmark train prepare`")
            r = ShardReader(path, info)
        self._readers[s] = r
        while len(self._readers) > self._cache:
            self._readers.popitem(last=False)[1].close()
        return r

    def read(self, position: int) -> SegmentRecord:
        s, i = self.locate(position)
        return self.reader(s).read(i)
