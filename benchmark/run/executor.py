"""Executors run the runner's jobs: tasks go in, results stream out as each task finishes.

The runner only sees `Executor.stream(fn, tasks)`; `fn` is a module-level function and each task
a picklable dataclass, so a distributed executor (e.g. Ray: `ray.remote(fn)` + `ray.wait`) is one
new class here, with no change to the runner. `LocalExecutor` runs in this process (workers=1,
models stay loaded between tasks) or in a process pool (workers>1, each worker process keeps its
own loaded models between tasks).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Finished(Generic[T, R]):
    """One finished task: its result, or the exception that escaped `fn` (then `result` is None)."""
    task: T
    result: R | None
    error: BaseException | None = None


class Executor:
    """Interface. Implementations must yield one `Finished` per task, in completion order."""

    name = "abstract"
    workers = 1

    def stream(self, fn: Callable[[T], R], tasks: Iterable[T]) -> Iterator[Finished[T, R]]:
        raise NotImplementedError

    def close(self) -> None:
        """Release workers (called once by the runner when the run ends)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _init_worker(threads: int) -> None:
    # Several workers on few cores: one intra-op thread each avoids oversubscription.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("BENCHMARK_NO_PROGRESS", "1")
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        pass


class LocalExecutor(Executor):
    name = "local"

    def __init__(self, workers: int = 1, max_in_flight: int | None = None):
        self.workers = max(1, int(workers))
        self.max_in_flight = max_in_flight or 2 * self.workers
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            threads = max(1, (os.cpu_count() or 1) // self.workers)
            # spawn: forking a process that already holds torch/onnxruntime threads is unsafe.
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_init_worker, initargs=(threads,))
        return self._pool

    def stream(self, fn: Callable[[T], R], tasks: Iterable[T]) -> Iterator[Finished[T, R]]:
        if self.workers == 1:
            for task in tasks:
                try:
                    result = fn(task)
                except Exception as exc:  # the runner decides whether this stops the run
                    yield Finished(task, None, exc)
                    continue
                yield Finished(task, result)
            return
        pool = self._get_pool()
        pending: dict[Future, T] = {}
        it = iter(tasks)
        exhausted = False
        while pending or not exhausted:
            while not exhausted and len(pending) < self.max_in_flight:
                try:
                    task = next(it)
                except StopIteration:
                    exhausted = True
                    break
                pending[pool.submit(fn, task)] = task
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                task = pending.pop(fut)
                exc = fut.exception()
                yield Finished(task, None if exc else fut.result(), exc)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


EXECUTORS: dict[str, Callable[..., Executor]] = {"local": LocalExecutor}


def make_executor(kind: str = "local", workers: int = 1) -> Executor:
    """Executors by name; a distributed one registers its factory in EXECUTORS."""
    from benchmark.core.errors import BenchmarkError
    try:
        factory = EXECUTORS[kind]
    except KeyError:
        raise BenchmarkError(f"unknown executor '{kind}'; choose from {', '.join(EXECUTORS)}") from None
    return factory(workers=workers)
