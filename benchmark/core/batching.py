"""Batch, then one at a time: a call over a batch that fails is retried item by item, so one bad
item fails alone and the others keep their results (the runner's restore and score jobs, WER's ASR)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


class CountMismatch(Exception):
    """A batch call returned another number of results than it was given items."""


def batch_then_single(fn: Callable[[list[T]], Sequence[R]], items: list[T],
                      what: str = "call") -> list[R | Exception]:
    """`fn(items)`, checked to return one result per item. When it raises (or miscounts) and there
    are several items, `fn([item])` for each item. Each item gets its result, or the exception of
    its own call (of the batch call, for a batch of one). `what` names the callee in the
    CountMismatch message ("system returned 3 results for 4 items")."""
    def call(batch: list[T]) -> list[R]:
        out = list(fn(batch))
        if len(out) != len(batch):
            raise CountMismatch(f"{what} returned {len(out)} results for {len(batch)} items")
        return out

    try:
        return list(call(items))
    except Exception as exc:
        if len(items) <= 1:
            return [exc] * len(items)
    results: list[R | Exception] = []
    for it in items:
        try:
            results.append(call([it])[0])
        except Exception as exc:
            results.append(exc)
    return results
