"""The one progress helper: tqdm bars on stderr, silenced with BENCHMARK_NO_PROGRESS=1."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress_enabled() -> bool:
    return os.environ.get("BENCHMARK_NO_PROGRESS", "") not in ("1", "true", "yes")


def progress(iterable: Iterable[T] | None = None, *, desc: str = "", total: int | None = None,
             unit: str = "it", **kwargs) -> Iterator[T] | tqdm:
    """Wrap an iterable (or return a manual bar when `iterable` is None).

    The rate and ETA are averages since the bar started (smoothing 0), not a moving average of
    the last updates: work that finishes in batches (16 items arriving at once after 30 s)
    would otherwise show a rate, and an ETA, that swings by the batch size."""
    kwargs.setdefault("smoothing", 0)
    return tqdm(iterable, desc=desc, total=total, unit=unit, file=sys.stderr, dynamic_ncols=True,
                disable=not progress_enabled(), leave=False, **kwargs)


def stage_summary(what: str, done: int, cached: int, seconds: float, errors: int = 0) -> None:
    """One line per finished stage on stderr (also when bars are off): items, cached, time, rate."""
    rate = f", {done / seconds:.2f} items/s" if done and seconds > 0 else ""
    err = f", {errors} item errors" if errors else ""
    # tqdm.write: printed above any bar still running (stages of the scoring stream overlap)
    tqdm.write(f"{what}: {done} items in {seconds:.1f} s{rate} ({cached} cached){err}", file=sys.stderr)
