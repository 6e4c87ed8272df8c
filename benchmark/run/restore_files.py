"""Restore a user's own recordings (one file or a folder of them) with registered systems, outside
any test set: `python -m benchmark restore` and `benchmark.api.restore`.

The runner's restore jobs do the work (`jobs.restore_job`: the same reading, item limits,
resampling in and out, item errors and batching as `run`), so an output has the input's rate and
length. Outputs go to `OUT/<system>/<the input's relative name>`; each system folder keeps a
ledger (`.benchmark-restore.jsonl`, one JSON line per finished file) keyed like the run store
(system key + input sha256), so a second call restores only what is new or changed.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmark.core.audio import (
    DEFAULT_MAX_ITEM_SECONDS,
    audio_header,
    find_audio,
    sha256_file,
    sha256_input,
)
from benchmark.core.errors import AudioError, BenchmarkError, UnsafePathError
from benchmark.core.files import atomic_target, is_transient, safe_name, transient_error
from benchmark.core.progress import progress, stage_summary
from benchmark.run import preflight
from benchmark.run.executor import Executor, make_executor
from benchmark.run.jobs import RestoreInput, RestoreJob, raise_job_error, restore_job
from benchmark.run.processes import DEFAULT_ITEM_TIMEOUT
from benchmark.run.runner import job_size, longest_first
from systems.base import SYSTEMS, SystemSpec, system_key

LEDGER = ".benchmark-restore.jsonl"


@dataclass(frozen=True)
class RestoredFile:
    """One input file restored by one system (or the reason it was not)."""
    system: str
    name: str                     # the input's name relative to --input (a file: its file name)
    input: str                    # the input path
    output: str | None            # OUT/<system>/<name>; None when the item failed
    rate: int | None              # the output's rate: the input's
    seconds: float | None         # wall time of the system call, this file's share
    audio_seconds: float | None   # duration of the input
    cached: bool                  # restored by an earlier call (same system key and input content)
    error: str | None = None


@dataclass(frozen=True)
class _Input:
    name: str
    path: Path
    sha256: str
    seconds: float                # from the header (scheduling: longest first); 0 when unreadable
    problem: str | None           # unreadable or not a regular file: this file's error


def check_folders(inp: Path, out: Path) -> None:
    """--out and --input must not overlap: outputs written inside the input folder would be read
    as inputs by the next call, and an input inside OUT/<system>/ could be overwritten."""
    a, b = Path(os.path.realpath(inp)), Path(os.path.realpath(out))
    if a == b or a in b.parents or b in a.parents:
        raise BenchmarkError(f"--out {out} and --input {inp} overlap; write the outputs to a "
                             "folder outside the inputs (and not around them)")
    if b.exists() and not b.is_dir():
        raise BenchmarkError(f"--out {out}: exists and is not a folder")


def _inputs(inp: Path, max_item_seconds: float | None) -> list[_Input]:
    out = []
    for name, path in progress(list(find_audio(inp).items()), desc="hash inputs", unit="file"):
        try:
            sha, problem = sha256_input(path), None
        except (UnsafePathError, AudioError) as exc:
            sha, problem = f"error:{name}", str(exc)
        try:
            info = audio_header(path, max_seconds=max_item_seconds)
            seconds = info.frames / info.samplerate
        except (BenchmarkError, OSError):
            seconds = 0.0                  # restore_job reads the header again and names the error
        out.append(_Input(name, path, sha, seconds, problem))
    return out


def _read_ledger(path: Path) -> dict[str, dict]:
    """name -> the latest entry; a line cut short by a kill is ignored."""
    entries: dict[str, dict] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                e = json.loads(line)
                entries[e["name"]] = e
            except (ValueError, KeyError, TypeError):
                continue
    return entries


def _cached(entry: dict | None, key: str, inp: _Input, folder: Path, retry_errors: bool) -> bool:
    if entry is None or entry.get("system_key") != key or entry.get("input_sha256") != inp.sha256:
        return False
    if entry.get("error") is not None:
        return not retry_errors
    out = folder / inp.name
    try:
        return out.is_file() and sha256_file(out) == entry.get("sha256")
    except OSError:
        return False


def _systems(specs: list[SystemSpec], device: str) -> list[tuple[SystemSpec, type, str]]:
    out = []
    for spec in specs:
        cls = SYSTEMS.get(spec.name)
        if device not in cls.info.devices:
            raise BenchmarkError(f"system '{spec.name}' runs on {', '.join(cls.info.devices)}, "
                                 f"not on --device {device}")
        if cls.info.needs_target:
            raise BenchmarkError(f"system '{spec.name}' needs the clean target of each item (an "
                                 "oracle row of the reports); restore has only the inputs")
        out.append((spec, cls, system_key(cls.keyed_info(spec.config), spec.config)))
    return out


def restore_files(systems: list[SystemSpec], inp: str | os.PathLike, out: str | os.PathLike, *,
                  device: str = "cpu", workers: int = 1,
                  max_item_seconds: float | None = DEFAULT_MAX_ITEM_SECONDS,
                  retry_errors: bool = False, item_timeout: float | None = DEFAULT_ITEM_TIMEOUT,
                  executor: Executor | None = None) -> list[RestoredFile]:
    """Restore every .wav/.flac file of `inp` (a file or a folder, searched recursively) with each
    system into `out/<system>/`, same relative names. A system call that runs past `item_timeout`
    seconds per file is stopped and its files are item errors, as in `run`. Per-file failures are `RestoredFile.error`
    (cached like `run` caches them; `retry_errors` redoes them); a system that cannot load, missing
    weights or checkpoints, and a full disk raise BenchmarkError. Finished files are kept."""
    inp, out = Path(inp), Path(out)
    check_folders(inp, out)
    planned = _systems(systems, device)
    pf = preflight.check([], [(f"system {c.info.name}", c.info.assets) for _, c, _ in planned],
                         [(s.name, c, s.config) for s, c, _ in planned])
    if not pf.ok:
        raise preflight.MissingPrerequisites(pf.message())
    inputs = _inputs(inp, max_item_seconds)
    own = executor or make_executor("local", workers, item_timeout)
    results: list[RestoredFile] = []
    try:
        for spec, cls, key in planned:
            results += _restore_system(own, spec, cls, key, inputs, out, device, max_item_seconds,
                                       retry_errors)
    finally:
        if executor is None:
            own.close()
    return results


def _restore_system(executor: Executor, spec: SystemSpec, cls: type, key: str,
                    inputs: list[_Input], out: Path, device: str, max_item_seconds: float | None,
                    retry_errors: bool) -> list[RestoredFile]:
    folder = out / safe_name(spec.name)
    ledger_path = folder / LEDGER
    ledger = _read_ledger(ledger_path)
    results: dict[str, RestoredFile] = {}
    todo: dict[str, RestoreInput] = {}             # input sha256 -> the job input (one per content)
    names: dict[str, list[_Input]] = {}            # input sha256 -> every file with that content
    for it in inputs:
        entry = ledger.get(it.name)
        if _cached(entry, key, it, folder, retry_errors):
            results[it.name] = RestoredFile(spec.name, it.name, str(it.path),
                                            None if entry["error"] else str(folder / it.name),
                                            entry.get("rate"), entry.get("seconds"),
                                            entry.get("audio_seconds"), True, entry["error"])
            continue
        names.setdefault(it.sha256, []).append(it)
        if it.sha256 not in todo:
            todo[it.sha256] = RestoreInput("", it.name, "" if it.problem else str(it.path), None,
                                           it.sha256, str(folder / it.name), problem=it.problem)
    cached = len(results)
    if todo:
        seconds = {it.sha256: it.seconds for it in inputs}
        batch = job_size(len(todo), max(1, cls.info.max_batch), executor.workers)
        order = longest_first(list(todo.values()), lambda x: seconds[x.input_sha256])
        jobs = [RestoreJob(spec.name, spec.config, device, key, order[i:i + batch], max_item_seconds)
                for i in range(0, len(order), batch)]
        folder.mkdir(parents=True, exist_ok=True)
        errors, done = 0, 0
        t0 = time.perf_counter()
        try:
            with progress(desc=f"restore {spec.name}", total=len(inputs), initial=cached,
                          unit="file") as bar, open(ledger_path, "a", encoding="utf-8") as log:
                for fin in executor.stream(restore_job, jobs):
                    if fin.error is not None:
                        raise_job_error(f"system '{spec.name}'", fin.error)
                    for oc in fin.result:
                        group = names[oc.input_sha256]   # same content under several names:
                        for k, it in enumerate(group):   # restored once, copied to the others
                            error = oc.error
                            if error is None and k > 0:
                                error = _copy(oc.path, folder / it.name)
                            rf = RestoredFile(spec.name, it.name, str(it.path),
                                              str(folder / it.name) if error is None else None,
                                              oc.rate, oc.seconds, oc.audio_seconds, False, error)
                            results[it.name] = rf
                            errors += error is not None
                            log.write(json.dumps({**asdict(rf), "system_key": key,
                                                  "input_sha256": it.sha256, "sha256": oc.sha256}) + "\n")
                        done += 1
                        bar.update(len(group))
                    log.flush()                       # a killed call keeps every finished job
        except OSError as exc:                    # the ledger itself: the machine (ENOSPC...)
            if is_transient(exc):
                raise transient_error(exc, "writing", ledger_path) from exc
            raise
        stage_summary(f"restore {spec.name}", done, cached, time.perf_counter() - t0, errors)
    return [results[it.name] for it in inputs]


def _copy(src: str | None, dst: Path) -> str | None:
    """Copy a finished output to a second name (atomically); the item's error when it fails."""
    try:
        with atomic_target(dst) as tmp:
            shutil.copyfile(src, tmp)
    except OSError as exc:
        return f"cannot copy the output to {dst}: {exc}"
    return None
