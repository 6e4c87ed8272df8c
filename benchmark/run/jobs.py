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

from benchmark.core.audio import check_waveform, read_audio, resample, sha256_file, write_audio
from benchmark.core.errors import AudioError


@dataclass
class RestoreInput:
    testset: str
    item_id: str
    degraded: str                 # absolute path
    target: str | None            # absolute path (oracle systems only)
    input_sha256: str
    out_path: str                 # where the output goes (atomic write)


@dataclass
class RestoreJob:
    system: str
    config: dict[str, Any]
    device: str
    system_key: str
    items: list[RestoreInput]


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


@dataclass
class ScoreJob:
    metric: str
    backend: str
    device: str
    items: list[ScoreInput]
    mix_channels: bool = False          # average multi-channel files (files given to `score`)


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
    return str(exc) if isinstance(exc, AudioError) else f"{type(exc).__name__}: {exc}"


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


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch
        torch.cuda.synchronize()


def _call_restore(system, batch) -> tuple[list[np.ndarray] | None, float, str | None]:
    _sync(system.device)
    t0 = time.perf_counter()
    try:
        outs = system.restore(batch)
    except Exception as exc:
        return None, 0.0, _describe(exc)
    _sync(system.device)
    elapsed = time.perf_counter() - t0
    if len(outs) != len(batch):
        return None, elapsed, f"system returned {len(outs)} outputs for {len(batch)} inputs"
    return outs, elapsed, None


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
        try:
            x, sr = read_audio(it.degraded)
            target = None
            if system.info.needs_target and it.target:
                t, tsr = read_audio(it.target)
                target = resample(t, tsr, rate)
        except Exception as exc:
            oc.error = _describe(exc)
            continue
        oc.audio_seconds = x.size / sr
        ready.append((it, RestoreItem(it.item_id, resample(x, sr, rate), target), sr, x.size))
    if not ready:
        return list(outcomes.values())
    outs, elapsed, err = _call_restore(system, [r[1] for r in ready])
    results: list[tuple[np.ndarray | None, float, str | None]]
    if err is None:
        total = sum(r[1].audio.size for r in ready)
        results = [(o, elapsed * r[1].audio.size / total, None) for o, r in zip(outs, ready, strict=True)]
    elif len(ready) > 1:  # isolate the failing item(s): one item at a time
        results = []
        for r in ready:
            o, e, er = _call_restore(system, [r[1]])
            results.append((o[0] if o else None, e, er))
    else:
        results = [(None, elapsed, err)]
    for (it, _, sr, n), (y, seconds, error) in zip(ready, results, strict=True):
        oc = outcomes[it.item_id + "\0" + it.testset]
        oc.seconds = seconds
        if error is not None:
            oc.error = error
            continue
        try:
            y = check_waveform(np.asarray(y, dtype=np.float32), rate, where=f"output of {job.system}")
            y = resample(y, rate, sr)
            y = y[:n] if y.size >= n else np.pad(y, (0, n - y.size))  # same length as the input
            write_audio(it.out_path, y, sr)
        except Exception as exc:
            oc.error = _describe(exc)
            continue
        oc.path, oc.sha256, oc.rate = it.out_path, sha256_file(it.out_path), sr
    return list(outcomes.values())


def score_jobs(metric: str, backend: str, device: str, inputs: list[ScoreInput], *,
               mix_channels: bool = False) -> list[ScoreJob]:
    """The inputs of one metric backend as jobs of SCORE_BATCH items."""
    return [ScoreJob(metric, backend, device, inputs[i:i + SCORE_BATCH], mix_channels)
            for i in range(0, len(inputs), SCORE_BATCH)]


def score_job(job: ScoreJob) -> list[ScoreOutcome]:
    """Read each output (+ reference) and score the readable ones in one metric call."""
    from metrics import MetricItem
    metric = loaded_metric(job.metric, job.backend, job.device)
    outcomes = [ScoreOutcome(it.key) for it in job.items]
    batch: list[tuple[int, MetricItem]] = []
    for i, it in enumerate(job.items):
        try:
            x, sr = read_audio(it.audio, mix_channels=job.mix_channels)
            ref, ref_sr = (read_audio(it.reference, mix_channels=job.mix_channels) if it.reference
                           else (None, None))
        except Exception as exc:
            outcomes[i].error = _describe(exc)
            continue
        batch.append((i, MetricItem(f"{it.key[0][:12]}", x, sr, ref, ref_sr, it.transcript)))
    if not batch:
        return outcomes

    def run(items):
        try:
            scores = metric.score(items)
            if len(scores) != len(items):
                raise RuntimeError(f"metric returned {len(scores)} scores for {len(items)} items")
            return scores, None
        except Exception as exc:
            return None, _describe(exc)

    scores, err = run([b[1] for b in batch])
    if err is not None:
        scores = []
        for _, item in batch:
            s, e = run([item])
            scores.append(s[0] if s else e)
    for (i, _), s in zip(batch, scores, strict=True):
        if isinstance(s, str):
            outcomes[i].error = s
        else:
            outcomes[i].values = {k: float(v) for k, v in s.values.items()}
            outcomes[i].error = s.error
            outcomes[i].aux = dict(s.aux)
    return outcomes
