"""Helpers shared by metric modules: per-item error capture, reference pairing, versions."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from benchmark.core.hashing import sha256_memo
from metrics.base import ItemScore, Metric, MetricItem

# A processed signal may be a few codec frames longer/shorter than its reference; more than this
# (in seconds) means the pair is wrong and the item is reported as an error.
MAX_LENGTH_MISMATCH_S = 0.1


class ItemError(Exception):
    """Raised inside a per-item scoring function: becomes that item's error string."""


def pkg_version(dist: str) -> str:
    try:
        return f"{dist} {version(dist)}"
    except PackageNotFoundError:
        return f"{dist} (not installed)"


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a model file (hashed once per process while its size, mtime and inode stay the
    same: benchmark.core.hashing)."""
    return sha256_memo(path)


def folder_sha256(folder: str | os.PathLike) -> str:
    """One sha256 for a model folder: of the sorted lines '<relative path> <file sha256>'."""
    root = Path(folder)
    lines = [f"{p.relative_to(root).as_posix()} {file_sha256(p)}\n"
             for p in sorted(root.rglob("*")) if p.is_file()]
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def resampler_version(rate: int) -> str:
    """How a metric's input reaches its rate: the harness's one resampler (soxr, VHQ), named in
    every backend_version so a version string says which resampler fed the model."""
    from benchmark.core.audio import RESAMPLE_QUALITY
    return f"resampler {pkg_version('soxr')} {RESAMPLE_QUALITY} to {rate} Hz"


def safe(fn: Callable[[MetricItem], ItemScore], item: MetricItem) -> ItemScore:
    """Run `fn(item)`; any exception becomes a recorded per-item error (never a dead run)."""
    try:
        out = fn(item)
    except ItemError as exc:
        return ItemScore(error=str(exc))
    except Exception as exc:  # a broken item must not kill a run; the message is kept
        return ItemScore(error=f"{type(exc).__name__}: {exc}")
    bad = [k for k, v in out.values.items() if not np.isfinite(v)]
    if bad and out.error is None:
        return ItemScore(error=f"non-finite value for {', '.join(bad)}", aux=out.aux)
    return out


def degraded(metric: Metric, item: MetricItem, min_seconds: float = 0.0) -> np.ndarray:
    x = metric.at_rate(np.asarray(item.audio, dtype=np.float32), item.rate)
    if x.size < max(1, int(min_seconds * metric.info.rate)):
        raise ItemError(f"audio is {x.size / metric.info.rate:.3f} s long; "
                        f"{metric.info.name} needs at least {min_seconds:g} s")
    return x


def reference(metric: Metric, item: MetricItem, min_seconds: float = 0.0) -> np.ndarray:
    """The reference at the metric's rate, uncropped (for metrics that need no alignment)."""
    if item.reference is None:
        raise ItemError(f"{metric.info.name} needs a reference signal and none was given")
    r = metric.at_rate(np.asarray(item.reference, dtype=np.float32), item.reference_rate or item.rate)
    if r.size < max(1, int(min_seconds * metric.info.rate)):
        raise ItemError(f"reference is {r.size / metric.info.rate:.3f} s long; "
                        f"{metric.info.name} needs at least {min_seconds:g} s")
    return r


def pair(metric: Metric, item: MetricItem, min_seconds: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(degraded, reference) at the metric's rate, cropped to the shorter of the two."""
    if item.reference is None:
        raise ItemError(f"{metric.info.name} needs a reference signal and none was given")
    x = degraded(metric, item, min_seconds)
    r = metric.at_rate(np.asarray(item.reference, dtype=np.float32), item.reference_rate or item.rate)
    diff = abs(x.size - r.size) / metric.info.rate
    if diff > MAX_LENGTH_MISMATCH_S:
        raise ItemError(f"processed and reference lengths differ by {diff:.3f} s "
                        f"({x.size} vs {r.size} samples at {metric.info.rate} Hz); "
                        f"more than {MAX_LENGTH_MISMATCH_S} s means they are not a pair")
    n = min(x.size, r.size)
    return x[:n], r[:n]


@dataclass(frozen=True)
class Scored:
    """An item's values and the rate they were computed at (for a backend that scores at the
    file's own rate: the rate recorded in the item's aux and named in its result rows)."""
    values: dict[str, float]
    rate: int


def score_each(metric: Metric, items: list[MetricItem],
               fn: Callable[[MetricItem], dict[str, float] | Scored]) -> list[ItemScore]:
    def one(it: MetricItem) -> ItemScore:
        out = fn(it)
        if isinstance(out, Scored):
            return ItemScore(values={k: float(v) for k, v in out.values.items()},
                             aux={"rate": int(out.rate)})
        return ItemScore(values={k: float(v) for k, v in out.items()})
    return [safe(one, it) for it in items]


# VoiceFixer's time-domain metrics (003: voicefixer_main evaluation_proc/metrics.py at 0c206f7
# calls `speechmetrics.load(['sisdr', 'stoi', 'pesq', 'bsseval'], np.inf)` on the two files):
# aliutkus/speechmetrics `speechmetrics/__init__.py` (HEAD ae661ec) reads each file as float64,
# resamples it with `resampy.resample` (kaiser_best) only where a metric has a fixed rate (PESQ:
# 16 kHz), and zero-pads the shorter signal to the longer one.
SPEECHMETRICS = "speechmetrics@ae661ec (resampy kaiser_best where a fixed rate, zero-pad to the longer)"


def speechmetrics_pair(metric: Metric, item: MetricItem, rate: int | None,
                       min_seconds: float = 0.0) -> tuple[np.ndarray, np.ndarray, int]:
    """(processed, reference, rate) as speechmetrics prepares them: float64, each resampled with
    resampy kaiser_best to `rate` when given (else kept at its own rate), zero-padded to the longer."""
    if item.reference is None:
        raise ItemError(f"{metric.info.name} needs a reference signal and none was given")
    sigs = []
    out_rate = None
    for x, r in ((item.audio, item.rate), (item.reference, item.reference_rate or item.rate)):
        x = np.asarray(x, dtype=np.float64)
        if rate is not None and r != rate:
            import resampy
            x, r = resampy.resample(x, r, rate), rate
        if out_rate is not None and r != out_rate:
            raise ItemError(f"processed ({out_rate} Hz) and reference ({r} Hz) rates differ; "
                            f"{metric.info.name} ({metric.backend}) scores at the files' own rate")
        out_rate = r
        sigs.append(x)
    x, ref = sigs
    diff = abs(x.size - ref.size) / out_rate
    if diff > MAX_LENGTH_MISMATCH_S:
        raise ItemError(f"processed and reference lengths differ by {diff:.3f} s; more than "
                        f"{MAX_LENGTH_MISMATCH_S} s means they are not a pair")
    if min(x.size, ref.size) < max(1, int(min_seconds * out_rate)):
        raise ItemError(f"audio is {min(x.size, ref.size) / out_rate:.3f} s long; "
                        f"{metric.info.name} needs at least {min_seconds:g} s")
    n = max(x.size, ref.size)
    return np.pad(x, (0, n - x.size)), np.pad(ref, (0, n - ref.size)), out_rate
