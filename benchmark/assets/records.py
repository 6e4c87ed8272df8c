"""The asset record type and the registry every catalogue entry is added to (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmark.core.paths import cache_dir


@dataclass(frozen=True)
class Asset:
    name: str
    urls: tuple[str, ...]           # tried in order after the cache and the mirror
    sha256: str                     # of the downloaded file (the archive, for corpora); a prefix
                                    # of >= 16 hex digits where the publisher gives only that
                                    # (torch.hub file names); "" = unpinned (none published): the
                                    # file is used with a loud warning naming its own sha256
    size: int                       # bytes of the downloaded file (0 = not published)
    licence: str
    path: str                       # relative to the cache dir: where the file is stored
    used_by: str                    # the feature that needs it ("system gtcrn", "metric nisqa")
    kind: str = "weights"           # "weights" or "corpus"
    description: str = ""
    unpack: bool = False            # archives: also extract next to the file (<path>.d/)
    homepage: str = ""
    md5: str = ""                   # where the publisher gives only an md5 (Zenodo records): checked
                                    # as well; with neither hash, a published `size` is checked

    def cached_path(self, root: Path | None = None) -> Path:
        return (root or cache_dir()) / self.path


ASSETS: dict[str, Asset] = {}


def register_asset(asset: Asset) -> Asset:
    if asset.name in ASSETS and ASSETS[asset.name] != asset:
        raise ValueError(f"asset '{asset.name}' registered twice with different records")
    ASSETS[asset.name] = asset
    return asset


def sha256_matches(got: str, asset: Asset) -> bool:
    """Full digest, or the publisher's prefix (>= 16 hex digits); an unpinned record ("") accepts
    any file, and `fetch` then warns with the file's own sha256."""
    want = asset.sha256
    return got == want or (len(want) >= 16 and got.startswith(want)) or not want


def integrity_problem(asset: Asset, path: Path) -> str:
    """What is wrong with a downloaded file beyond its sha256 ('' when nothing): the publisher's
    md5 where one is recorded, and the published size for records with no hash at all."""
    import hashlib

    size = path.stat().st_size
    if asset.size and size != asset.size and not (asset.sha256 and len(asset.sha256) == 64):
        return f"size {size} bytes, published {asset.size}"
    if asset.md5:
        h = hashlib.md5(usedforsecurity=False)
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
        if h.hexdigest() != asset.md5:
            return f"md5 {h.hexdigest()}, published {asset.md5}"
    return ""
