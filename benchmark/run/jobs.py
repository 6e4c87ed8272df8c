"""The runner's units of work, as picklable dataclasses plus the module-level functions that do
them (`restore_job`, `score_job`). They run in any executor's worker; models stay loaded per
process between jobs. `python -m benchmark run` and `python -m benchmark score` score through the
same `score_jobs` / `score_job`. Per-item failures come back as error strings; only failures that concern
the whole job (a system or metric that cannot load) raise.
"""

from __future__ import annotations

import errno
import hashlib
import io
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from benchmark.core.audio import (
    DEFAULT_MAX_ITEM_SECONDS,
    ITEM_MIX_CHANNELS,
    audio_header,
    check_waveform,
    read_audio,
    resample,
    sha256_file,
    write_audio,
)
from benchmark.core.batching import CountMismatch, batch_then_single
from benchmark.core.errors import AudioError, BenchmarkError, TransientIOError
from benchmark.core.files import is_transient, transient_error
from benchmark.run.builds import changed_message
from benchmark.run.contract import ContractError, check_output, check_values
from benchmark.run.timing import synchronize


def raise_job_error(what: str, error: BaseException) -> None:
    """A whole job failed (the plugin could not load, or raised outside its items): one
    BenchmarkError naming `what` ("system 'x'", "metric 'y' (backend)"); the harness's own errors
    pass through as they are."""
    if isinstance(error, BenchmarkError):
        raise error
    raise BenchmarkError(f"{what} failed to load or run: {type(error).__name__}: {error}") from error


@dataclass
class RestoreInput:
    testset: str
    item_id: str
    degraded: str                 # absolute path
    target: str | None            # absolute path (oracle systems only)
    input_sha256: str
    out_path: str                 # where the output goes (atomic write)
    problem: str | None = None    # refused before any work (unsafe path, unreadable): the item's error
    degraded_sha256: str | None = None   # the bytes restored must be these (None: not checked)
    target_sha256: str | None = None
    changed: bool = False         # the problem is a file that differs from its build's CHECKSUMS


@dataclass
class RestoreJob:
    system: str
    config: dict[str, Any]
    device: str
    system_key: str
    items: list[RestoreInput]
    max_item_seconds: float | None = DEFAULT_MAX_ITEM_SECONDS

    def split(self) -> list[RestoreJob]:
        """One job per item (an executor re-runs a timed-out batch item by item)."""
        return [replace(self, items=[it]) for it in self.items]

    def timed_out(self, seconds: float) -> list[RestoreOutcome]:
        """The items' errors when the system call ran past its limit and was stopped."""
        msg = (f"system '{self.system}' did not return within {seconds:g} s (--item-timeout); the "
               "call was stopped. --retry-errors tries it again")
        return [RestoreOutcome(it.testset, it.item_id, it.input_sha256, device=self.device,
                               error=it.problem or msg) for it in self.items]


@dataclass
class RestoreOutcome:
    testset: str
    item_id: str
    input_sha256: str
    path: str | None = None
    sha256: str | None = None
    rate: int | None = None
    seconds: float | None = None          # wall time of the system call, this item's share
    audio_seconds: float | None = None    # duration of the input
    device: str = "cpu"
    error: str | None = None
    changed: bool = False                 # the error: an input file differs from its build


@dataclass
class ScoreInput:
    key: tuple[str, str]                 # (output sha256, reference key): where the result goes
    audio: str
    reference: str | None = None
    transcript: str | None = None
    problem: str | None = None           # e.g. the reference path was refused: the item's error
    seconds: float = 0.0                 # the audio's duration (scheduling: longest first)
    item: str = ""                       # "set/item id" of (one of) the items it scores: for errors
    audio_sha256: str | None = None      # the bytes scored must be these (None: not checked)
    reference_sha256: str | None = None
    changed: bool = False                # the problem is a file that differs from its build


@dataclass
class ScoreJob:
    metric: str
    backend: str
    device: str
    items: list[ScoreInput]
    max_item_seconds: float | None = DEFAULT_MAX_ITEM_SECONDS
    mix_channels: bool = ITEM_MIX_CHANNELS   # the one item policy of `run` and `score` (audio.py)

    def split(self) -> list[ScoreJob]:
        return [replace(self, items=[it]) for it in self.items]

    def timed_out(self, seconds: float) -> list[ScoreOutcome]:
        msg = (f"metric '{self.metric}' ({self.backend}) did not return within {seconds:g} s "
               "(--item-timeout); the call was stopped")
        return [ScoreOutcome(it.key, error=it.problem or msg) for it in self.items]


@dataclass
class ScoreOutcome:
    key: tuple[str, str]
    values: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    aux: dict[str, Any] = field(default_factory=dict)
    changed: bool = False


class InputChanged(AudioError):
    """A file's bytes are not the ones its build (or the run) recorded: the item's error, never
    cached as its result."""


def read_verified(path: str, sha256: str | None, max_seconds: float | None,
                  mix_channels: bool = ITEM_MIX_CHANNELS) -> tuple[np.ndarray, int]:
    """Read an item's file once: the bytes decoded are the bytes hashed and compared with `sha256`
    (what the set's CHECKSUMS, or the store, say it is); InputChanged naming the file otherwise."""
    if sha256 is None:
        return read_audio(path, mix_channels=mix_channels, max_seconds=max_seconds)
    audio_header(path, max_seconds=max_seconds)     # the limits, before reading the samples
    data = Path(path).read_bytes()
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise InputChanged(changed_message(path, got, sha256))
    try:
        x, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        raise AudioError(f"{path}: cannot read audio ({exc}); expected a WAV or FLAC file") from exc
    if x.shape[1] > 1 and not mix_channels:
        raise AudioError(f"{path}: found {x.shape[1]} channels, expected mono audio (1 channel); "
                         "mix it down first or pass mix_channels=True")
    y = np.ascontiguousarray(x.mean(axis=1) if x.shape[1] > 1 else x[:, 0])
    return check_waveform(y, int(rate), where=str(path)), int(rate)


SCORE_BATCH = 16                      # items per score job

_SYSTEMS: dict[tuple, Any] = {}
_METRICS: dict[tuple, Any] = {}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, AudioError | ContractError | CountMismatch):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _item_error(exc: BaseException, where: str) -> str:
    """The error string stored for one item, or a raise when the machine failed (ENOSPC, EFBIG,
    EIO...): those stop the job and are never cached as the item's error."""
    if isinstance(exc, TransientIOError):
        raise exc
    if is_transient(exc):
        raise transient_error(exc, "processing", where) from exc
    return _describe(exc)


def _unwritable(exc: BaseException, path: str) -> None:
    """A run folder that cannot be written (EACCES, EPERM, EROFS) stops the invocation with one
    message: the folder's fault, never stored as the item's error."""
    cause = exc if isinstance(exc, OSError) else exc.__cause__
    if isinstance(cause, OSError) and cause.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        raise BenchmarkError(f"cannot write {path}: {errno.errorcode[cause.errno]} ({cause.strerror}): "
                             "the run folder is read-only. Nothing was recorded as an item error and "
                             "finished work is kept; make it writable (chmod u+w) and re-run the same "
                             "command to continue") from exc


def silence_error(metric, audio: np.ndarray, reference: np.ndarray | None) -> str | None:
    """An error for a silent (all-zero) output or reference when the metric's definition needs
    signal: LSD/SSIM take logs of zero power, SI-SNR divides by the output's energy, PESQ/STOI/
    DNSMOS/NISQA/speaker similarity rate or embed speech. Metrics defined on silence (WER: an
    empty hypothesis is a measurement) say so in `MetricInfo.defined_for_silence`."""
    if metric.info.defined_for_silence:
        return None
    name = metric.info.name
    if not np.any(audio):
        return f"silent output (every sample is 0): {name} is undefined without signal"
    if reference is not None and not np.any(reference):
        return f"silent reference (every sample is 0): {name} is undefined without signal"
    return None


def loaded_system(name: str, config: dict, device: str):
    from systems import SYSTEMS
    key = (name, repr(sorted(config.items())), device)
    if key not in _SYSTEMS:
        system = SYSTEMS.get(name)(device=device, config=config)
        system.load()
        _SYSTEMS[key] = system
    return _SYSTEMS[key]


def loaded_metric(name: str, backend: str, device: str):
    from metrics import METRICS
    key = (name, backend, device)
    if key not in _METRICS:
        metric = METRICS.get(name)(backend=backend, device=device)
        metric.load()
        _METRICS[key] = metric
    return _METRICS[key]


def _call_restore(system, batch) -> list[tuple[np.ndarray, float]]:
    """One timed system call: each output with its share of the wall time (by input length)."""
    synchronize(system.device)
    t0 = time.perf_counter()
    outs = system.restore(batch)
    synchronize(system.device)
    elapsed = time.perf_counter() - t0
    if not isinstance(outs, list | tuple):
        raise ContractError(f"system '{system.info.name}' returned a {type(outs).__name__}, "
                            "expected a list of one waveform per input")
    total = sum(b.audio.size for b in batch)
    shares = ([elapsed * b.audio.size / total for b in batch] if len(outs) == len(batch)
              else [0.0] * len(outs))                   # a miscount: batch_then_single names it
    return list(zip(outs, shares, strict=True))


def restore_job(job: RestoreJob) -> list[RestoreOutcome]:
    """Read, resample to the system's rate, restore, resample back, write, hash."""
    from systems import RestoreItem
    system = loaded_system(job.system, job.config, job.device)
    rate = system.info.rate
    outcomes: dict[str, RestoreOutcome] = {}
    ready: list[tuple[RestoreInput, RestoreItem, int, int]] = []   # (+ input rate, input length)
    for it in job.items:
        oc = RestoreOutcome(it.testset, it.item_id, it.input_sha256, device=job.device)
        outcomes[it.item_id + "\0" + it.testset] = oc
        if it.problem is not None:
            oc.error, oc.changed = it.problem, it.changed
            continue
        try:   # reading, the header limits and resampling are all this item's business
            x, sr = read_verified(it.degraded, it.degraded_sha256, job.max_item_seconds)
            target = None
            if system.info.needs_target and it.target:
                t, tsr = read_verified(it.target, it.target_sha256, job.max_item_seconds)
                target = resample(t, tsr, rate)
            audio = resample(x, sr, rate)
        except Exception as exc:
            oc.error, oc.changed = _item_error(exc, it.degraded), isinstance(exc, InputChanged)
            continue
        oc.audio_seconds = x.size / sr
        ready.append((it, RestoreItem(it.item_id, audio, target), sr, x.size))
    if not ready:
        return list(outcomes.values())
    # a failing batch is retried one item at a time: the failing item(s) fail alone
    results = batch_then_single(lambda b: _call_restore(system, b), [r[1] for r in ready], "system")
    for (it, item, sr, n), res in zip(ready, results, strict=True):
        oc = outcomes[it.item_id + "\0" + it.testset]
        if isinstance(res, Exception):
            oc.seconds, oc.error = 0.0, _describe(res)
            continue
        y, oc.seconds = res
        try:
            # the contract (float audio of the input's length ± a tolerance), then the rate back
            y = check_output(y, item.audio.size, rate, job.system, f"{it.testset}/{it.item_id}")
            y = resample(y, rate, sr)
            y = y[:n] if y.size >= n else np.pad(y, (0, n - y.size))  # same length as the input
            write_audio(it.out_path, y, sr)
            digest = sha256_file(it.out_path)
        except Exception as exc:
            _unwritable(exc, it.out_path)
            oc.error = _item_error(exc, it.out_path)
            continue
        oc.path, oc.sha256, oc.rate = it.out_path, digest, sr
    return list(outcomes.values())


def score_jobs(metric: str, backend: str, device: str, inputs: list[ScoreInput], *,
               mix_channels: bool = ITEM_MIX_CHANNELS,
               max_item_seconds: float | None = DEFAULT_MAX_ITEM_SECONDS,
               batch: int | None = None) -> list[ScoreJob]:
    """The inputs of one metric backend, in order, as jobs of `batch` items (SCORE_BATCH)."""
    batch = max(1, SCORE_BATCH if batch is None else batch)
    return [ScoreJob(metric, backend, device, inputs[i:i + batch],
                     max_item_seconds=max_item_seconds, mix_channels=mix_channels)
            for i in range(0, len(inputs), batch)]


def score_job(job: ScoreJob) -> list[ScoreOutcome]:
    """Read each output (+ reference) and score the readable ones in one metric call."""
    from metrics import MetricItem
    from metrics.base import ItemScore
    metric = loaded_metric(job.metric, job.backend, job.device)
    outcomes = [ScoreOutcome(it.key) for it in job.items]
    batch: list[tuple[int, MetricItem]] = []
    for i, it in enumerate(job.items):
        if it.problem is not None:
            outcomes[i].error, outcomes[i].changed = it.problem, it.changed
            continue
        try:
            x, sr = read_verified(it.audio, it.audio_sha256, job.max_item_seconds, job.mix_channels)
            ref, ref_sr = (read_verified(it.reference, it.reference_sha256, job.max_item_seconds,
                                         job.mix_channels) if it.reference else (None, None))
        except Exception as exc:
            outcomes[i].error = _item_error(exc, it.audio)
            outcomes[i].changed = isinstance(exc, InputChanged)
            continue
        silent = silence_error(metric, x, ref)
        if silent is not None:
            outcomes[i].error = silent
            continue
        batch.append((i, MetricItem(f"{it.key[0][:12]}", x, sr, ref, ref_sr, it.transcript)))
    if not batch:
        return outcomes

    def score(items):
        scores = metric.score(items)
        if not isinstance(scores, list | tuple):
            raise ContractError(f"metric '{job.metric}' returned a {type(scores).__name__}, "
                                "expected a list of one ItemScore per item")
        return scores

    # a failing batch is retried one item at a time: the failing item(s) fail alone
    scores = batch_then_single(score, [b[1] for b in batch], "metric")
    for (i, _), s in zip(batch, scores, strict=True):
        if isinstance(s, Exception):
            outcomes[i].error = _describe(s)
            continue
        item = job.items[i].item or job.items[i].audio
        try:   # the contract: an ItemScore of finite floats; anything else is this item's error
            if not isinstance(s, ItemScore):
                raise ContractError(f"metric '{job.metric}' returned a {type(s).__name__} for item "
                                    f"'{item}', expected an ItemScore")
            values = check_values(s.values, job.metric, item) if s.error is None else {}
        except ContractError as exc:
            outcomes[i].error = str(exc)
            continue
        outcomes[i].values = values
        outcomes[i].error = None if s.error is None else str(s.error)
        outcomes[i].aux = dict(s.aux or {})
    return outcomes
