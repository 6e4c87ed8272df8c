"""The two-stage build shared by every builder: the manifest (all parameters) is written first,
then a process pool renders each item from its manifest record alone; then CHECKSUMS and
info.json. Also `verify_set`, which re-hashes a built set against its CHECKSUMS."""

from __future__ import annotations

import json
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.core.audio import sha256_file
from benchmark.core.errors import BenchmarkError
from benchmark.core.progress import progress
from testsets.base import TESTSETS, BuildOptions, TestSetBuilder
from testsets.manifest import ManifestItem, read_manifest, write_manifest

CHECKSUMS = "CHECKSUMS"
INFO = "info.json"
MANIFEST = "manifest.jsonl"


def derive_rng_seed(seed: int, index: int) -> list[int]:
    """The per-item seed material: (set seed, item index); order- and worker-independent."""
    return [int(seed), int(index)]


def render_and_hash(name: str, corpora: str, set_dir: str, item: ManifestItem) -> dict[str, str]:
    """Worker entry point: render one item with builder `name`; return {relpath: sha256}."""
    builder = TESTSETS.get(name)()
    builder.render_item(Path(corpora), Path(set_dir), item)
    rels = [item.degraded] + ([item.target] if item.target else [])
    return {rel: sha256_file(Path(set_dir) / rel) for rel in rels}


@dataclass
class BuildResult:
    folder: Path
    items: int
    seconds_audio: float
    notes: list[str] = field(default_factory=list)


def build_set(builder: TestSetBuilder, opts: BuildOptions, items: list[ManifestItem], seed: int,
              notes: list[str] | None = None) -> BuildResult:
    name = builder.info.name
    if not items:
        raise BenchmarkError(f"test set '{name}': nothing to build (0 items)")
    ids = [it.id for it in items]
    if len(set(ids)) != len(ids):
        raise BenchmarkError(f"test set '{name}': duplicate item ids in the plan")
    final = Path(opts.out) / name
    tmp = Path(opts.out) / f".{name}.building"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write_manifest(tmp / MANIFEST, items)          # stage 1: every parameter, before any audio
    checksums: dict[str, str] = {}
    workers = max(1, int(opts.workers))
    bar = progress(desc=f"render {name}", total=len(items), unit="item")
    if workers == 1:
        for it in items:
            checksums.update(render_and_hash(name, str(opts.corpora), str(tmp), it))
            bar.update(1)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(render_and_hash, name, str(opts.corpora), str(tmp), it)
                       for it in items]
            for fut in as_completed(futures):
                checksums.update(fut.result())
                bar.update(1)
    bar.close()
    (tmp / CHECKSUMS).write_text("".join(f"{checksums[k]}  {k}\n" for k in sorted(checksums)))
    info = {"builder": name, "version": builder.info.version, "seed": seed, "items": len(items),
            "rate": builder.info.rate, "paper": builder.info.paper, "notes": notes or []}
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


def warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)
