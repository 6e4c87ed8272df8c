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


# The conditions an item was made under, as typed fields (issue 30: breakdowns and the listening
# page read these, never parameter names). A key present means the factor applies to the set; its
# value None means the stage is off for this item (no noise, full band, no clipping).
CONDITION_TYPES: dict[str, tuple[type, ...]] = {
    "snr_db": (float,),          # additive noise SNR in dB (the set's own definition)
    "cutoff_hz": (float,),       # low-pass cutoff / half the low sampling rate, Hz
    "clip_level": (float,),      # clipping threshold eta (of the peak-normalised signal)
    "reverb": (bool,),           # convolved with an RIR
    "rt60_s": (float,),          # the room's RT60 where the room is known
}


def conditions(**values: Any) -> dict[str, Any]:
    """A checked conditions record: known keys only, each a number/bool of its type or None."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in CONDITION_TYPES:
            raise ValueError(f"unknown condition {key!r}; known: {', '.join(CONDITION_TYPES)}")
        if value is None:
            out[key] = None
        elif CONDITION_TYPES[key] == (bool,):
            out[key] = bool(value)
        else:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"condition {key!r} must be a number or None, got {value!r}")
            out[key] = float(value)
    return out


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
    conditions: dict[str, Any] = field(default_factory=dict)  # typed (`conditions()`); {}: unknown

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
    for n, raw in enumerate(path.read_bytes().splitlines(), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BenchmarkError(f"{path}:{n}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at column "
                                 f"{exc.start + 1}); a manifest is UTF-8 JSON lines: re-save it as "
                                 "UTF-8 or rebuild the set") from None
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise TypeError(f"expected a JSON object, found {type(record).__name__}")
            try:        # "\udcff" escapes: a name or text in another encoding, kept undecoded
                json.dumps(record, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(f"text that is not valid Unicode ({exc.object[exc.start:exc.end]!a}, "
                                 "e.g. a file name or transcript in another encoding): rename the "
                                 "file or re-encode the text as UTF-8") from None
            items.append(ManifestItem.from_dict(record))
        except (ValueError, TypeError) as exc:
            raise BenchmarkError(f"{path}:{n}: malformed manifest line ({exc})") from exc
    check_unique_ids([it.id for it in items], str(path))
    return items
