"""Test-set manifests: one typed JSON record per item in `<set>/manifest.jsonl`, plus
`<set>/CHECKSUMS` (sha256 of every rendered file) and `<set>/info.json` (builder, version, seed).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.core.errors import BenchmarkError
from benchmark.core.files import atomic_write, confine, safe_name

# How the runner turns an item id into a file name (benchmark.core.files.safe_name, on the whole id,
# "/" included): every run of other characters becomes one "_".


class DuplicateItemIdError(BenchmarkError):
    """Two items whose ids are equal, or equal once sanitised into file names."""


def sanitised_id(item_id: str) -> str:
    return safe_name(item_id)


def check_unique_ids(ids: list[str], where: str) -> None:
    """Refuse ids that repeat, or that sanitise to one file name ("x y" and "x_y", "a/b" and "a_b",
    or two non-ASCII ids of the same shape): their outputs would share a file and swap scores."""
    seen: dict[str, str] = {}
    for item_id in ids:
        key = sanitised_id(item_id)
        if key in seen:
            same = seen[key] == item_id
            raise DuplicateItemIdError(
                f"{where}: item id {item_id!r} " + ("appears twice" if same else
                f"and {seen[key]!r} both become the file name {key!r}") +
                "; item ids must stay distinct after sanitising (characters outside "
                "A-Z a-z 0-9 _ . = - become '_', '/' included)")
        seen[key] = item_id


@dataclass
class ManifestItem:
    id: str
    degraded: str                   # path relative to the set folder
    target: str | None              # path relative to the set folder (None: no clean reference)
    rate: int                       # degraded audio rate
    target_rate: int | None
    duration: float                 # seconds
    subset: str = ""                # e.g. "2kHz" for sr, "no_reverb" for dns2020
    transcript: str | None = None
    speaker: str | None = None
    seed: int | None = None
    params: dict[str, Any] = field(default_factory=dict)   # every distortion parameter drawn
    sources: dict[str, Any] = field(default_factory=dict)  # source files used (relative to corpora)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    def file(self, folder: Path, which: str = "degraded") -> Path:
        """The item's degraded/target file inside the set folder; UnsafePathError for `..`,
        absolute paths and symlinks leaving the folder (the runner records it as the item's error)."""
        return confine(folder, getattr(self, which), f"{which} path")

    def source(self, corpora: Path, key: str) -> Path:
        """A source file of the item under the corpora root: `..` and absolute paths refused like
        in `file`; symlinks are followed (corpora are often symlinks to other disks)."""
        return confine(corpora, self.sources.get(key), f"source '{key}'", symlinks_inside=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ManifestItem:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def write_manifest(path: Path, items: list[ManifestItem]) -> None:
    atomic_write(path, "".join(item.to_json() + "\n" for item in items))


def read_manifest(path: Path) -> list[ManifestItem]:
    if not path.exists():
        raise BenchmarkError(f"{path}: no manifest. Build the test set first: "
                             f"python -m benchmark testsets build {path.parent.name}")
    items = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise TypeError(f"expected a JSON object, found {type(record).__name__}")
            items.append(ManifestItem.from_dict(record))
        except (ValueError, TypeError) as exc:
            raise BenchmarkError(f"{path}:{n}: malformed manifest line ({exc})") from exc
    check_unique_ids([it.id for it in items], str(path))
    return items
