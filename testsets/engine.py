"""The two-stage build shared by every builder: the manifest (all parameters) is written first,
then a process pool renders each item from its manifest record alone; then CHECKSUMS and
info.json. Also `verify_set`, which re-hashes a built set against its CHECKSUMS."""

from __future__ import annotations

import json
import platform
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from benchmark.core.audio import sha256_file
from benchmark.core.errors import BenchmarkError
from benchmark.core.progress import progress
from testsets.base import TESTSETS, BuildOptions, BuildResult, TestSetBuilder  # noqa: F401
from testsets.manifest import ManifestItem, check_unique_ids, read_manifest, write_manifest

CHECKSUMS = "CHECKSUMS"
INFO = "info.json"
MANIFEST = "manifest.jsonl"
MEASURED = "measured.jsonl"          # per item: what the rendering measured (SNRs, peaks, shifts)
LIBRARIES = ("numpy", "scipy", "soxr", "soundfile", "pyroomacoustics")

# One random stream per aspect of an item: adding a draw to one aspect never shifts another.
ASPECTS = {"distortion": 1, "speech": 2, "noise": 3, "room": 4, "rir": 5}


def derive_rng_seed(seed: int, index: int, aspect: str = "distortion") -> list[int]:
    """The seed material of one aspect of one item: (set seed, item index, aspect id);
    order- and worker-independent."""
    return [int(seed), int(index), ASPECTS[aspect]]


def item_rng(seed: int, index: int, aspect: str) -> np.random.Generator:
    return np.random.default_rng(derive_rng_seed(seed, index, aspect))


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def render_and_hash(name: str, corpora: str, set_dir: str,
                    item: ManifestItem) -> tuple[dict[str, str], dict | None]:
    """Worker entry point: render one item with builder `name`; return ({relpath: sha256},
    what the rendering measured or None)."""
    builder = TESTSETS.get(name)()
    measured = builder.render_item(Path(corpora), Path(set_dir), item)
    rels = [item.degraded] + ([item.target] if item.target else [])
    return {rel: sha256_file(Path(set_dir) / rel) for rel in rels}, measured


def build_set(builder: TestSetBuilder, opts: BuildOptions, items: list[ManifestItem], seed: int,
              notes: list[str] | None = None) -> BuildResult:
    name = builder.info.name
    if not items:
        raise BenchmarkError(f"test set '{name}': nothing to build (0 items)")
    check_unique_ids([it.id for it in items], f"test set '{name}'")
    final = Path(opts.out) / name
    tmp = Path(opts.out) / f".{name}.building"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write_manifest(tmp / MANIFEST, items)          # stage 1: every parameter, before any audio
    checksums: dict[str, str] = {}
    measured: dict[str, dict] = {}
    workers = max(1, int(opts.workers))
    bar = progress(desc=f"render {name}", total=len(items), unit="item")
    if workers == 1:
        for it in items:
            sums, meas = render_and_hash(name, str(opts.corpora), str(tmp), it)
            checksums.update(sums)
            if meas is not None:
                measured[it.id] = meas
            bar.update(1)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(render_and_hash, name, str(opts.corpora), str(tmp), it): it.id
                       for it in items}
            for fut in as_completed(futures):
                sums, meas = fut.result()
                checksums.update(sums)
                if meas is not None:
                    measured[futures[fut]] = meas
                bar.update(1)
    bar.close()
    (tmp / CHECKSUMS).write_text("".join(f"{checksums[k]}  {k}\n" for k in sorted(checksums)))
    if measured:
        (tmp / MEASURED).write_text("".join(
            json.dumps({"id": it.id, **measured[it.id]}, sort_keys=True) + "\n"
            for it in items if it.id in measured))
    info = {"builder": name, "version": builder.info.version, "seed": seed, "items": len(items),
            "rate": builder.info.rate, "paper": builder.info.paper, "notes": notes or [],
            "source": getattr(opts, "source", "rebuild"), "libraries": library_versions(),
            "constants": {**builder.constants(), "sample_format": builder.sample_format}}
    (tmp / INFO).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    shutil.rmtree(final, ignore_errors=True)
    tmp.replace(final)
    return BuildResult(final, len(items), sum(it.duration for it in items), notes or [])


@dataclass
class VerifyReport:
    name: str
    ok: int
    mismatched: list[str]
    missing: list[str]


def read_checksums(folder: Path) -> dict[str, str]:
    path = folder / CHECKSUMS
    if not path.exists():
        raise BenchmarkError(f"{folder}: no {CHECKSUMS} file; the set was not built completely. "
                             f"Rebuild it: python -m benchmark testsets build {folder.name}")
    out = {}
    for line in path.read_text().splitlines():
        if line.strip():
            sha, rel = line.split("  ", 1)
            out[rel] = sha
    return out


def verify_set(folder: Path) -> VerifyReport:
    sums = read_checksums(folder)
    read_manifest(folder / MANIFEST)     # must parse
    mismatched, missing, ok = [], [], 0
    for rel, sha in progress(sorted(sums.items()), desc=f"verify {folder.name}", unit="file"):
        path = folder / rel
        if not path.exists():
            missing.append(rel)
        elif sha256_file(path) != sha:
            mismatched.append(rel)
        else:
            ok += 1
    return VerifyReport(folder.name, ok, mismatched, missing)


def read_measured(folder: Path) -> dict[str, dict]:
    path = Path(folder) / MEASURED
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {r.pop("id"): r for r in rows}


def warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)


def voicefixer_pcm16(x: np.ndarray) -> np.ndarray:
    """Samples as VoiceFixer's generation code writes them: `save_wave` in voicefixer_main
    tools/file/wav.py (commit 374e0d7) multiplies float audio by 2**15 and casts to np.short
    (truncation toward zero), then soundfile writes 16-bit PCM. Its released test sets (Zenodo
    5528144) are such files. Values at or beyond full scale, which wrap around in that cast, are
    clipped here instead (the recipes renormalise peaks to <= 0.99 first, so none occur)."""
    y = np.asarray(x, dtype=np.float64) * 2 ** 15
    return np.clip(np.trunc(y), -32768, 32767).astype(np.int16)


def encode(builder: TestSetBuilder, x: np.ndarray) -> np.ndarray:
    """The samples a builder writes, in its `sample_format`."""
    return voicefixer_pcm16(x) if builder.sample_format == "pcm16_voicefixer" else x
