"""The runner's units of work, as picklable dataclasses plus the module-level functions that do
them (`restore_job`, `score_job`). They run in any executor's worker; models stay loaded per
process between jobs. `python -m benchmark run` and `python -m benchmark score` score through the
same `score_jobs` / `score_job`. Per-item failures come back as error strings; only failures that concern
the whole job (a system or metric that cannot load) raise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmark.core.audio import (
    DEFAULT_MAX_ITEM_SECONDS,
    ITEM_MIX_CHANNELS,
    check_waveform,
    read_audio,
    read_item,
    resample,
    sha256_file,
    write_audio,
)
from benchmark.core.batching import CountMismatch, batch_then_single
from benchmark.core.errors import AudioError, TransientIOError
from benchmark.core.files import is_transient, transient_error
from benchmark.run.timing import synchronize


@dataclass
class RestoreInput:
    testset: str
    item_id: str
    degraded: str                 # absolute path
    target: str | None            # absolute path (oracle systems only)
    input_sha256: str
    out_path: str                 # where the output goes (atomic write)
    problem: str | None = None    # refused before any work (unsafe path, unreadable): the item's error


@dataclass
class RestoreJob:
    system: str
    config: dict[str, Any]
    device: str
    system_key: str
    items: list[RestoreInput]
    max_item_seconds: float | None = DEFAULT_MAX_ITEM_SECONDS


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


@dataclass
class ScoreInput:
    key: tuple[str, str]                 # (output sha256, reference key): where the result goes
    audio: str
    reference: str | None = None
    transcript: str | None = None
    problem: str | None = None           # e.g. the reference path was refused: the item's error
    seconds: float = 0.0                 # the audio's duration (scheduling: longest first)


@dataclass
class ScoreJob:
    metric: str
    backend: str
    device: str
    items: list[ScoreInput]
    max_item_seconds: float | None = DEFAULT_MAX_ITEM_SECONDS
    mix_channels: bool = ITEM_MIX_CHANNELS   # the one item policy of `run` and `score` (audio.py)


@dataclass
class ScoreOutcome:
    key: tuple[str, str]
    values: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    aux: dict[str, Any] = field(default_factory=dict)


SCORE_BATCH = 16                      # items per score job

_SYSTEMS: dict[tuple, Any] = {}
_METRICS: dict[tuple, Any] = {}


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, AudioError | CountMismatch) else f"{type(exc).__name__}: {exc}"


def _item_error(exc: BaseException, where: str) -> str:
    """The error string stored for one item, or a raise when the machine failed (ENOSPC, EFBIG,
    EIO...): those stop the job and are never cached as the item's error."""
    if isinstance(exc, TransientIOError):
        raise exc
    if is_transient(exc):
        raise transient_error(exc, "processing", where) from exc
    return _describe(exc)


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
            oc.error = it.problem
            continue
        try:   # reading, the header limits and resampling are all this item's business
            x, sr = read_item(it.degraded, job.max_item_seconds)
            target = None
            if system.info.needs_target and it.target:
                t, tsr = read_item(it.target, job.max_item_seconds)
                target = resample(t, tsr, rate)
            audio = resample(x, sr, rate)
        except Exception as exc:
            oc.error = _item_error(exc, it.degraded)
            continue
        oc.audio_seconds = x.size / sr
        ready.append((it, RestoreItem(it.item_id, audio, target), sr, x.size))
    if not ready:
        return list(outcomes.values())
    # a failing batch is retried one item at a time: the failing item(s) fail alone
    results = batch_then_single(lambda b: _call_restore(system, b), [r[1] for r in ready], "system")
    for (it, _, sr, n), res in zip(ready, results, strict=True):
        oc = outcomes[it.item_id + "\0" + it.testset]
        if isinstance(res, Exception):
            oc.seconds, oc.error = 0.0, _describe(res)
            continue
        y, oc.seconds = res
        try:
            y = check_waveform(np.asarray(y, dtype=np.float32), rate, where=f"output of {job.system}")
            y = resample(y, rate, sr)
            y = y[:n] if y.size >= n else np.pad(y, (0, n - y.size))  # same length as the input
            write_audio(it.out_path, y, sr)
            digest = sha256_file(it.out_path)
        except Exception as exc:
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
    metric = loaded_metric(job.metric, job.backend, job.device)
    outcomes = [ScoreOutcome(it.key) for it in job.items]
    batch: list[tuple[int, MetricItem]] = []
    for i, it in enumerate(job.items):
        if it.problem is not None:
            outcomes[i].error = it.problem
            continue
        try:
            x, sr = read_audio(it.audio, mix_channels=job.mix_channels, max_seconds=job.max_item_seconds)
            ref, ref_sr = (read_audio(it.reference, mix_channels=job.mix_channels,
                                      max_seconds=job.max_item_seconds) if it.reference
                           else (None, None))
        except Exception as exc:
            outcomes[i].error = _item_error(exc, it.audio)
            continue
        silent = silence_error(metric, x, ref)
        if silent is not None:
            outcomes[i].error = silent
            continue
        batch.append((i, MetricItem(f"{it.key[0][:12]}", x, sr, ref, ref_sr, it.transcript)))
    if not batch:
        return outcomes

    scores = batch_then_single(metric.score, [b[1] for b in batch], "metric")
    for (i, _), s in zip(batch, scores, strict=True):
        if isinstance(s, Exception):
            outcomes[i].error = _describe(s)
        else:
            outcomes[i].values = {k: float(v) for k, v in s.values.items()}
            outcomes[i].error = s.error
            outcomes[i].aux = dict(s.aux)
    return outcomes
