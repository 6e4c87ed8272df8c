"""The Ray executor: the runner's jobs on a Ray cluster (local, multi-node or inside Slurm).

Same interface as `LocalExecutor` (`stream(fn, tasks)` yields one `Finished` per task in completion
order), so the runner, its store, caching, resume and the report are unchanged. Each `stream` call
(one system, or one metric backend) runs on a pool of actors: long-lived Ray worker processes that
keep the loaded system/metric between jobs (`benchmark.run.jobs` caches models per process). A pool
is started once per executor and resource kind and reused by the next stream, whose first step
drops the previous model in every actor, so an actor holds one loaded system or metric backend at
a time. Jobs are already batched by the runner (a system's `max_batch` items per restore job, 16
items per score job). Pools are sized from the cluster:

- restore jobs with `--device cuda`: one actor per GPU of the cluster (`num_gpus=1` each);
- score jobs with `--device cuda`: GPU actors only for metrics whose `MetricInfo.devices` has
  "cuda", CPU actors for the others;
- otherwise `workers` CPU actors (`num_cpus=1` each), at most the cluster's CPU count.

Only the driver (the `python -m benchmark run` process) writes the store, one transaction per
finished item, exactly as with the local executor. A worker that dies (killed, OOM, node lost) is
restarted by Ray and its in-flight jobs are retried (`max_restarts` / `max_task_retries`); a job
that still cannot finish ends the run with one clear error, and re-running resumes from the store.
Outputs and test sets are passed as paths: on several nodes they must be on a shared file system
mounted at the same path (see the README).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from benchmark.core.deps import require
from benchmark.core.errors import BenchmarkError
from benchmark.run.executor import EXECUTORS, Executor, Finished, R, T
from benchmark.run.jobs import RestoreJob, ScoreJob

MAX_RETRIES = 3           # restarts of a dead actor, and retries of the jobs it was running
IN_FLIGHT_PER_ACTOR = 2   # one running + one queued keeps every actor busy
PATH_VARS = ("BENCHMARK_DATA", "BENCHMARK_CACHE", "BENCHMARK_REPORTS", "BENCHMARK_CORPORA")

_ACTOR_CLASS: Any = None


def _ray():
    return require("ray", "ray", "--executor ray")


def worker_env() -> dict[str, str]:
    """The driver's BENCHMARK_* settings for the workers, with paths made absolute."""
    env = {k: v for k, v in os.environ.items() if k.startswith("BENCHMARK_")}
    for var in PATH_VARS:
        if env.get(var):
            env[var] = str(Path(env[var]).expanduser().absolute())
    env["BENCHMARK_NO_PROGRESS"] = "1"
    return env


def _actor_class():
    """The actor, defined on first use so that importing this module does not import Ray."""
    global _ACTOR_CLASS
    if _ACTOR_CLASS is None:
        ray = _ray()

        class BenchmarkWorker:
            def __init__(self, cwd: str, threads: int):
                # The runner's paths may be relative to the driver's folder (default ./data).
                if os.path.isdir(cwd):
                    os.chdir(cwd)
                from benchmark.run.executor import _init_worker
                _init_worker(threads)

            def where(self) -> tuple[int, str]:
                return os.getpid(), ray.get_runtime_context().get_node_id()

            def release(self) -> tuple[int, str]:
                """Drop the models of the previous stream (one loaded model per actor)."""
                import gc

                from benchmark.run import jobs
                jobs._SYSTEMS.clear()
                jobs._METRICS.clear()
                gc.collect()
                try:
                    import torch
                    if torch.cuda.is_available():
                        torch.cuda.empty_cache()
                except ImportError:
                    pass
                return self.where()

            def run(self, fn: Callable, task: Any) -> tuple[bool, Any]:
                # Job failures travel back as values: Ray only retries when the worker dies.
                try:
                    return True, fn(task)
                except Exception as exc:
                    try:
                        import pickle
                        pickle.dumps(exc)
                        return False, exc
                    except Exception:
                        return False, RuntimeError(f"{type(exc).__name__}: {exc}")

        _ACTOR_CLASS = ray.remote(max_restarts=MAX_RETRIES, max_task_retries=MAX_RETRIES)(BenchmarkWorker)
    return _ACTOR_CLASS


def wants_gpu(task: RestoreJob | ScoreJob) -> bool:
    """GPU actor for a cuda job, except score jobs of metrics that cannot use CUDA
    (`MetricInfo.devices`)."""
    if not task.device.startswith("cuda"):
        return False
    if isinstance(task, ScoreJob):
        from metrics import METRICS
        return METRICS.get(task.metric).info.device_for(task.device) != "cpu"
    return True


def _describe(task: RestoreJob | ScoreJob) -> str:
    what = task.system if isinstance(task, RestoreJob) else task.metric
    return f"{type(task).__name__} '{what}' ({len(task.items)} item(s))"


class RayExecutor(Executor):
    """`workers`: CPU actors per pool; `address`: a running cluster (None: $RAY_ADDRESS, else a
    new local cluster on this machine with `num_cpus` CPUs)."""

    name = "ray"

    def __init__(self, workers: int = 1, address: str | None = None, num_cpus: int | None = None):
        self.workers = max(1, int(workers))
        self.address = address
        self.num_cpus = num_cpus
        self._started_ray = False
        self._pools: dict[bool, list[Any]] = {}   # GPU? -> actors
        self.pids: list[int] = []          # worker processes of the current pool (tests, bench)
        self.nodes: set[str] = set()       # nodes the pools ran on

    # --- cluster -----------------------------------------------------------------------------------
    def connect(self):
        ray = _ray()
        if ray.is_initialized():
            return ray
        address = self.address or os.environ.get("RAY_ADDRESS") or None
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "configure_logging": False}
        if address is None:
            kwargs["num_cpus"] = self.num_cpus or os.cpu_count() or 1
        try:
            ray.init(address=address, **kwargs)
        except ConnectionError as exc:
            raise BenchmarkError(f"cannot connect to the Ray cluster at '{address}': {exc}. Start one "
                                 "with `ray start --head` (see the README) or leave out "
                                 "--ray-address to start a local one") from None
        self._started_ray = True
        return ray

    def _pool_spec(self, ray, gpu: bool) -> tuple[int, dict[str, Any]]:
        res = ray.cluster_resources()
        if gpu:
            gpus = int(res.get("GPU", 0))
            if gpus < 1:
                raise BenchmarkError("--device cuda: the Ray cluster has no GPUs (see `ray status`); "
                                     "add GPU nodes or run with --device cpu")
            return gpus, {"num_gpus": 1, "num_cpus": 1}
        return max(1, min(self.workers, int(res.get("CPU", 1)))), {"num_cpus": 1}

    def _pool(self, ray, gpu: bool) -> list[Any]:
        actors = self._pools.get(gpu)
        if actors is None:
            n, resources = self._pool_spec(ray, gpu)
            cls = _actor_class()
            opts = {**resources, "runtime_env": {"env_vars": worker_env()}}
            actors = self._pools[gpu] = [cls.options(**opts).remote(os.getcwd(), 1) for _ in range(n)]
        try:
            where = ray.get([a.release.remote() for a in actors])   # also waits until all are up
        except ray.exceptions.RayError as exc:
            self._kill(gpu)
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BenchmarkError(f"Ray workers could not start: {first_line}. Every node needs this "
                                 "repository installed in the same environment at the same path "
                                 "(see the README)") from None
        self.pids = [w[0] for w in where]
        self.nodes.update(w[1] for w in where)
        return actors

    # --- the interface -----------------------------------------------------------------------------
    def stream(self, fn: Callable[[T], R], tasks: Iterable[T]) -> Iterator[Finished[T, R]]:
        it = iter(tasks)
        first = next(it, None)
        if first is None:
            return
        ray = self.connect()
        from ray.exceptions import RayError
        gpu = wants_gpu(first)
        actors = self._pool(ray, gpu)
        load = [0] * len(actors)
        pending: dict[Any, tuple[T, int]] = {}
        queue: list[T] = [first]

        def fill() -> None:
            while True:
                idx = min(range(len(actors)), key=load.__getitem__)
                if load[idx] >= IN_FLIGHT_PER_ACTOR:
                    return
                task = queue.pop() if queue else next(it, None)
                if task is None:
                    return
                pending[actors[idx].run.remote(fn, task)] = (task, idx)
                load[idx] += 1

        try:
            fill()
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    task, idx = pending.pop(ref)
                    load[idx] -= 1
                    try:
                        ok, value = ray.get(ref)
                    except RayError as exc:   # the worker died more often than Ray retries
                        yield Finished(task, None, BenchmarkError(
                            f"Ray worker failed {MAX_RETRIES + 1} times on {_describe(task)}: "
                            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}. "
                            "Finished items are stored; re-run the same command to continue."))
                        continue
                    yield Finished(task, value if ok else None, None if ok else value)
                fill()
        finally:
            if pending:   # the runner stopped early: in-flight jobs die with their actors
                self._kill(gpu)

    def _kill(self, gpu: bool) -> None:
        for a in self._pools.pop(gpu, []):
            _ray().kill(a, no_restart=True)

    def close(self) -> None:
        for gpu in list(self._pools):
            self._kill(gpu)
        if self._started_ray:
            _ray().shutdown()
            self._started_ray = False


def _factory(workers: int = 1) -> RayExecutor:
    return RayExecutor(workers=workers)


EXECUTORS.setdefault("ray", _factory)
