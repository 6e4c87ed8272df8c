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
    """Wrap an iterable (or return a manual bar when `iterable` is None)."""
    return tqdm(iterable, desc=desc, total=total, unit=unit, file=sys.stderr, dynamic_ncols=True,
                disable=not progress_enabled(), leave=False, **kwargs)
