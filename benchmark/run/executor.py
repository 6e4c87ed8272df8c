"""Executors run the runner's jobs: tasks go in, results stream out as each task finishes.

The runner only sees `Executor.stream(fn, tasks)`; `fn` is a module-level function and each task
a picklable dataclass, so a distributed executor (e.g. Ray: `ray.remote(fn)` + `ray.wait`) is one
new class here, with no change to the runner. `LocalExecutor` runs in this process (workers=1,
models stay loaded between tasks) or in a process pool (workers>1, each worker process keeps its
own loaded models between tasks).
"""

from __future__ import annotations

import inspect
import itertools
import multiprocessing
import os
import queue as queue_mod
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from benchmark.run import processes

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


_STARTED: Any = None       # in a pool worker: the queue it reports each job's start on


def _started_call(fn: Callable, task: Any, token: int) -> Any:
    """Run `fn(task)` in a worker after telling the parent that job `token` starts now: its time
    limit counts from here, not from the pool's hand-over (a fresh worker spends seconds starting)."""
    if _STARTED is not None:
        _STARTED.put(token)
    return fn(task)


def _init_worker(threads: int, parent_pid: int | None = None, started: Any = None) -> None:
    global _STARTED
    _STARTED = started
    if parent_pid is not None:      # never outlive the run (kill -9, SIGTERM): processes.py
        processes.die_with_parent(parent_pid)
    processes.ignore_sigint()       # Ctrl-C is the parent's to handle
    # Several workers on few cores: one intra-op thread each avoids oversubscription.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("BENCHMARK_NO_PROGRESS", "1")
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        pass


_DONE = object()


def _next_task(queue: list, it: Iterator) -> Any:
    """The next job: a re-run waiting in `queue` first, else the next new one; `_DONE` at the end."""
    return queue.pop(0) if queue else next(it, _DONE)


def job_limit(task: Any, item_timeout: float | None) -> float | None:
    """A job's time limit: the per-item limit times its items (one item when it has no `items`)."""
    if item_timeout is None:
        return None
    return item_timeout * max(1, len(getattr(task, "items", ()) or ()))


def _expired(task: T, limit: float) -> tuple[list[T], Finished | None]:
    """What a job that ran past its limit becomes: its items as single-item jobs to run again
    (so one hung item does not take its batch down), or, for one item, its timed-out result
    (`task.timed_out(seconds)`: the items' errors), or a TimeoutError for tasks without one."""
    split = getattr(task, "split", None)
    if split is not None and len(task.items) > 1:
        return split(), None
    timed_out = getattr(task, "timed_out", None)
    if timed_out is not None:
        return [], Finished(task, timed_out(limit))
    return [], Finished(task, None, TimeoutError(f"no result within {limit:g} s"))


class LocalExecutor(Executor):
    """In this process (workers=1) or a pool of spawned processes. A job that runs past its limit
    (`item_timeout` seconds per item) is stopped: in process by SIGALRM, in a pool by killing the
    workers (the others' jobs are handed to fresh workers again)."""

    name = "local"

    def __init__(self, workers: int = 1, max_in_flight: int | None = None,
                 item_timeout: float | None = processes.DEFAULT_ITEM_TIMEOUT):
        self.workers = max(1, int(workers))
        self.max_in_flight = max_in_flight or 2 * self.workers
        self.item_timeout = item_timeout
        self._pool: ProcessPoolExecutor | None = None
        self._started: Any = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            threads = max(1, (os.cpu_count() or 1) // self.workers)
            # spawn: forking a process that already holds torch/onnxruntime threads is unsafe.
            ctx = multiprocessing.get_context("spawn")
            # a new queue with each pool: a worker killed while writing may leave a queue's lock held
            self._started = ctx.Queue() if self.item_timeout is not None else None
            self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker,
                                             initargs=(threads, os.getpid(), self._started))
        return self._pool

    def _kill_pool(self) -> None:
        """Kill the workers now (a hung job, Ctrl-C, an error): never wait for a plugin call."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        procs = list((getattr(pool, "_processes", None) or {}).values())   # CPython's pool internals
        processes.kill_all(procs)
        pool.shutdown(wait=False, cancel_futures=True)
        if self._started is not None:
            self._started.close()
            self._started.cancel_join_thread()
            self._started = None

    def stream(self, fn: Callable[[T], R], tasks: Iterable[T]) -> Iterator[Finished[T, R]]:
        if self.workers == 1:
            yield from self._stream_here(fn, tasks)
            return
        try:
            yield from self._stream_pool(fn, tasks)
        except BaseException:          # Ctrl-C, SIGTERM, the runner stopping: no orphan keeps working
            self._kill_pool()
            raise

    def _stream_here(self, fn, tasks):
        queue: list = []
        it = iter(tasks)
        while True:
            task = _next_task(queue, it)
            if task is _DONE:
                return
            limit = job_limit(task, self.item_timeout)
            try:
                with processes.alarm(limit):
                    result = fn(task)
            except processes.ItemTimeout:
                again, fin = _expired(task, limit)
                queue[:0] = again
                if fin is not None:
                    yield fin
                continue
            except Exception as exc:  # the runner decides whether this stops the run
                yield Finished(task, None, exc)
                continue
            yield Finished(task, result)

    def _stream_pool(self, fn, tasks):
        pending: dict[Future, T] = {}
        started: dict[Future, float] = {}
        token_of: dict[int, Future] = {}
        queue: list = []              # jobs to hand out before the next new one (re-runs)
        it = iter(tasks)
        exhausted = False
        tokens = itertools.count()
        while pending or queue or not exhausted:
            pool = self._get_pool()
            while len(pending) < self.max_in_flight and (queue or not exhausted):
                task = _next_task(queue, it)
                if task is _DONE:
                    exhausted = True
                    break
                token = next(tokens)
                fut = pool.submit(_started_call, fn, task, token)
                pending[fut] = task
                token_of[token] = fut
            if not pending:
                break
            done, _ = wait(pending, timeout=None if self.item_timeout is None else 1.0,
                           return_when=FIRST_COMPLETED)
            for fut in done:
                task = pending.pop(fut)
                started.pop(fut, None)
                exc = fut.exception()
                yield Finished(task, None if exc else fut.result(), exc)
            if self.item_timeout is None:
                continue
            now = time.monotonic()
            while True:               # the clock starts when a worker starts the job
                try:
                    fut = token_of.pop(self._started.get_nowait(), None)
                except (queue_mod.Empty, OSError, ValueError):
                    break
                if fut in pending:
                    started[fut] = now
            late = [f for f, t0 in started.items()
                    if now - t0 > job_limit(pending[f], self.item_timeout)]
            if not late:
                continue
            # a worker cannot be interrupted: kill the pool, hand the other jobs to a new one
            self._kill_pool()
            for fut in late:
                task = pending.pop(fut)
                again, fin = _expired(task, job_limit(task, self.item_timeout))
                queue += again
                if fin is not None:
                    yield fin
            queue[:0] = list(pending.values())
            pending.clear()
            started.clear()
            token_of.clear()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._started is not None:
            self._started.close()
            self._started = None


EXECUTORS: dict[str, Callable[..., Executor]] = {"local": LocalExecutor}


def make_executor(kind: str = "local", workers: int = 1,
                  item_timeout: float | None = processes.DEFAULT_ITEM_TIMEOUT) -> Executor:
    """Executors by name; a distributed one registers its factory in EXECUTORS. `item_timeout`
    goes to factories that take it (the local one; Ray has its own task lifetimes)."""
    from benchmark.core.errors import BenchmarkError
    try:
        factory = EXECUTORS[kind]
    except KeyError:
        raise BenchmarkError(f"unknown executor '{kind}'; choose from {', '.join(EXECUTORS)}") from None
    if "item_timeout" in inspect.signature(factory).parameters:
        return factory(workers=workers, item_timeout=item_timeout)
    return factory(workers=workers)
