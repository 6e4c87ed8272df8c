"""The two-stage build shared by every builder: the manifest (all parameters) is written first,
then a process pool renders each item from its manifest record alone; then CHECKSUMS, SOURCES
(sha256 of every corpus file the items read) and info.json. Also `verify_set`, which re-hashes a
built set against its CHECKSUMS and, given the corpora, its sources against SOURCES.

Builds never destroy (issue 27): one lock per set folder (a second build exits with a message);
the set is staged in `<out>/.<name>.building/set/` (one level too deep for the `*/manifest.jsonl`
that lists built sets) and renamed into place only once complete; an existing `<out>/<name>` is
replaced only if it carries the harness's marker (or is an earlier build's complete folder), never
when it is a symlink or a folder the harness did not write."""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from benchmark.core.audio import sha256_file
from benchmark.core.errors import BenchmarkError
from benchmark.core.progress import progress
from testsets.base import TESTSETS, BuildOptions, TestSetBuilder
from testsets.manifest import ManifestItem, check_unique_ids, read_manifest, write_manifest

CHECKSUMS = "CHECKSUMS"
INFO = "info.json"
MANIFEST = "manifest.jsonl"
MEASURED = "measured.jsonl"          # per item: what the rendering measured (SNRs, peaks, shifts)
SOURCES = "SOURCES"                  # sha256 of every corpus file the items read, relative to corpora
MARKER = ".benchmark-testset"        # written into every set folder the harness builds
STAGING_MARKER = ".benchmark-staging"
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


@dataclass
class BuildResult:
    folder: Path
    items: int
    seconds_audio: float
    notes: list[str] = field(default_factory=list)


class SetFolderError(BenchmarkError):
    """The output folder of a set cannot be written without destroying something."""


def is_harness_set(folder: Path, name: str) -> bool:
    """`folder` is a set the harness wrote: its marker, or (builds before the marker) a complete
    build of `name` (info.json naming the builder, a manifest and CHECKSUMS)."""
    if (folder / MARKER).is_file():
        return True
    try:
        info = json.loads((folder / INFO).read_text())
    except (OSError, ValueError):
        return False
    return (isinstance(info, dict) and info.get("builder") == name
            and (folder / MANIFEST).is_file() and (folder / CHECKSUMS).is_file())


def check_set_folder(final: Path, name: str) -> None:
    """Refuse, before any work, an `<out>/<name>` the build could only replace by destroying it."""
    if final.is_symlink():
        raise SetFolderError(
            f"{final} is a symbolic link (to {os.readlink(final)}); a build replaces the set folder "
            f"by renaming and never writes through or deletes a link. Remove the link, or build "
            f"into the folder it points to with --out {Path(os.path.realpath(final)).parent}")
    if final.exists() and not final.is_dir():
        raise SetFolderError(f"{final} exists and is not a folder; not replaced. Move it away or "
                             f"choose another --out")
    if final.is_dir() and any(final.iterdir()) and not is_harness_set(final, name):
        raise SetFolderError(
            f"{final} exists and was not written by the benchmark (no {MARKER} marker, no complete "
            f"'{name}' build); it is left untouched. Move it away or choose another --out")


@contextmanager
def set_lock(out: Path, name: str):
    """One build of a set folder at a time (an OS lock: released when the process dies)."""
    from filelock import FileLock, Timeout
    lock = FileLock(str(out / f".{name}.lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise SetFolderError(f"another build of test set '{name}' into {out} is running (lock "
                             f"{out / f'.{name}.lock'}); wait for it to finish, then build again"
                             ) from None
    try:
        yield
    finally:
        lock.release()


def _clean_staging(staging: Path) -> None:
    """Remove what an earlier, interrupted build of this set left (only the harness's own)."""
    if staging.is_symlink():
        staging.unlink()
    elif staging.is_dir():
        if not ((staging / STAGING_MARKER).exists() or (staging / MANIFEST).exists()):
            raise SetFolderError(f"{staging} exists and was not made by a build; move it away")
        shutil.rmtree(staging)


def hash_sources(corpora: Path, items: list[ManifestItem]) -> dict[str, str]:
    """sha256 of every corpus file the items read ({path relative to corpora: sha256})."""
    rels = sorted({v for it in items for v in it.sources.values() if isinstance(v, str) and v})
    out = {}
    for rel in progress(rels, desc="hash sources", unit="file"):
        path = Path(corpora) / rel
        if path.is_file():
            out[rel] = sha256_file(path)
    return out


def _write_sums(path: Path, sums: dict[str, str]) -> None:
    path.write_text("".join(f"{sums[k]}  {k}\n" for k in sorted(sums)))


def build_set(builder: TestSetBuilder, opts: BuildOptions, items: list[ManifestItem], seed: int,
              notes: list[str] | None = None) -> BuildResult:
    name = builder.info.name
    if not items:
        raise BenchmarkError(f"test set '{name}': nothing to build (0 items)")
    check_unique_ids([it.id for it in items], f"test set '{name}'")
    out = Path(opts.out)
    final = out / name
    check_set_folder(final, name)
    out.mkdir(parents=True, exist_ok=True)
    with set_lock(out, name):
        check_set_folder(final, name)
        staging = out / f".{name}.building"
        _clean_staging(staging)
        staging.mkdir()
        (staging / STAGING_MARKER).write_text(f"{os.getpid()}\n")
        tmp = staging / "set"
        tmp.mkdir()
        result = _render_into(builder, opts, items, seed, notes, tmp)
        (tmp / MARKER).write_text(f"{name}\n")
        if final.is_dir():                    # checked above: the harness's own, or empty
            final.replace(staging / "previous")
        tmp.replace(final)
        shutil.rmtree(staging, ignore_errors=True)
    return BuildResult(final, result.items, result.seconds_audio, result.notes)


def _render_into(builder: TestSetBuilder, opts: BuildOptions, items: list[ManifestItem], seed: int,
                 notes: list[str] | None, tmp: Path) -> BuildResult:
    name = builder.info.name
    write_manifest(tmp / MANIFEST, items)          # stage 1: every parameter, before any audio
    _write_sums(tmp / SOURCES, hash_sources(Path(opts.corpora), items))
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
    _write_sums(tmp / CHECKSUMS, checksums)
    if measured:
        (tmp / MEASURED).write_text("".join(
            json.dumps({"id": it.id, **measured[it.id]}, sort_keys=True) + "\n"
            for it in items if it.id in measured))
    info = {"builder": name, "version": builder.info.version, "seed": seed, "items": len(items),
            "rate": builder.info.rate, "paper": builder.info.paper, "notes": notes or [],
            "source": getattr(opts, "source", "rebuild"), "libraries": library_versions(),
            "constants": {**builder.constants(), "sample_format": builder.sample_format}}
    (tmp / INFO).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return BuildResult(tmp, len(items), sum(it.duration for it in items), notes or [])




@dataclass
class VerifyReport:
    name: str
    ok: int
    mismatched: list[str]
    missing: list[str]
    sources_ok: int = 0
    sources_changed: dict[str, list[str]] = field(default_factory=dict)   # source -> item ids
    sources_missing: dict[str, list[str]] = field(default_factory=dict)
    sources_recorded: bool = True          # False: a set built before SOURCES was written

    @property
    def clean(self) -> bool:
        return not (self.mismatched or self.missing or self.sources_changed or self.sources_missing)


def _read_sums(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line.strip():
            sha, rel = line.split("  ", 1)
            out[rel] = sha
    return out


def read_checksums(folder: Path) -> dict[str, str]:
    path = folder / CHECKSUMS
    if not path.exists():
        raise BenchmarkError(f"{folder}: no {CHECKSUMS} file; the set was not built completely. "
                             f"Rebuild it: python -m benchmark testsets build {folder.name}")
    return _read_sums(path)


def verify_set(folder: Path, corpora: Path | None = None) -> VerifyReport:
    """Re-hash the rendered files against CHECKSUMS and, with `corpora`, every source file the
    items read against SOURCES (a changed or missing source is named with the items using it)."""
    sums = read_checksums(folder)
    items = read_manifest(folder / MANIFEST)     # must parse
    mismatched, missing, ok = [], [], 0
    for rel, sha in progress(sorted(sums.items()), desc=f"verify {folder.name}", unit="file"):
        path = folder / rel
        if not path.exists():
            missing.append(rel)
        elif sha256_file(path) != sha:
            mismatched.append(rel)
        else:
            ok += 1
    rep = VerifyReport(folder.name, ok, mismatched, missing)
    if corpora is None:
        return rep
    if not (folder / SOURCES).exists():
        rep.sources_recorded = False
        return rep
    users: dict[str, list[str]] = {}
    for it in items:
        for v in it.sources.values():
            if isinstance(v, str) and v:
                users.setdefault(v, []).append(it.id)
    for rel, sha in progress(sorted(_read_sums(folder / SOURCES).items()),
                             desc=f"verify {folder.name} sources", unit="file"):
        path = Path(corpora) / rel
        if not path.is_file():
            rep.sources_missing[rel] = users.get(rel, [])
        elif sha256_file(path) != sha:
            rep.sources_changed[rel] = users.get(rel, [])
        else:
            rep.sources_ok += 1
    return rep


def read_measured(folder: Path) -> dict[str, dict]:
    path = Path(folder) / MEASURED
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {r.pop("id"): r for r in rows}


def warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)


def announce(set_name: str, notes: list[str]) -> list[str]:
    """Print each note as a warning (they also go to info.json) and return them."""
    for note in notes:
        warn(f"{set_name}: {note}")
    return notes


def voicefixer_pcm16(x: np.ndarray) -> np.ndarray:
    """Samples as VoiceFixer's generation code writes them: `save_wave` in voicefixer_main
    tools/file/wav.py (commit 374e0d7) multiplies float audio by 2**15 and casts to np.short
    (truncation toward zero), then soundfile writes 16-bit PCM. Its released test sets (Zenodo
    5528144) are such files. A sample at or beyond full scale wraps around in that cast (+1.0
    becomes -32768); here it is clipped to 32767 / -32768 instead. It does happen: a target
    peak-normalised to 1 with gain q = 1.0 (or a declipping target normalised to [-1, 1]) has a
    +1.0 sample, which VoiceFixer's code would have written as -32768."""
    y = np.asarray(x, dtype=np.float64) * 2 ** 15
    return np.clip(np.trunc(y), -32768, 32767).astype(np.int16)


def encode(builder: TestSetBuilder, x: np.ndarray) -> np.ndarray:
    """The samples a builder writes, in its `sample_format`."""
    return voicefixer_pcm16(x) if builder.sample_format == "pcm16_voicefixer" else x
