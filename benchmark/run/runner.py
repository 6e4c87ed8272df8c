"""The runner: restore every item of every selected test set with every system, score the
outputs, store everything, write the report.

Work is planned against the store (outputs by system key + input sha256, scores by metric key +
output sha256 + reference key), handed to an executor as jobs, and each finished item is
committed as it streams back. Re-running does only what is missing; a killed run resumes.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmark.core.audio import DEFAULT_MAX_ITEM_SECONDS, sha256_input
from benchmark.core.errors import AudioError, BenchmarkError, UnsafePathError
from benchmark.core.files import safe_name, unique_stem
from benchmark.core.paths import testsets_dir
from benchmark.core.progress import progress, stage_summary
from benchmark.run import jobs as run_jobs
from benchmark.run import preflight, provenance
from benchmark.run.executor import Executor, make_executor
from benchmark.run.jobs import (
    RestoreInput,
    RestoreJob,
    ScoreInput,
    restore_job,
    score_job,
    score_jobs,
)
from benchmark.run.lock import run_lock
from benchmark.run.store import OutputRow, ScoreRow, Store, reference_key, run_folder
from systems.base import SYSTEMS, SystemSpec, system_key


@dataclass
class RunConfig:
    name: str
    systems: list[SystemSpec]
    testsets: list[str] | None = None        # None: every built set
    metrics: list[str] | None = None         # None: the sets' table metrics
    profile: str = "paper"
    device: str = "cpu"
    workers: int = 1
    limit: int | None = None
    retry_errors: bool = False
    executor: str = "local"
    max_item_seconds: float | None = DEFAULT_MAX_ITEM_SECONDS   # per-item limit (header check)


@dataclass
class RunSummary:
    name: str
    invocation: int
    restored: int = 0
    scored: int = 0
    cached_outputs: int = 0
    cached_scores: int = 0
    item_errors: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


@dataclass
class LoadedSet:
    name: str
    folder: Path
    items: list[Any]                      # ManifestItem
    shas: dict[str, tuple[str, str | None]]   # item id -> (degraded sha256, target sha256)
    # item id -> (degraded problem, target problem): paths refused or files unreadable when hashed
    problems: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)


@dataclass
class MetricPlan:
    name: str
    backend: str
    version: str                          # "" until load_versions, after the asset check
    key: str                              # cache key: name + backend + version
    info: Any                             # MetricInfo
    specs: list[str] = field(default_factory=list)   # the specs it serves ("lsd", "lsd:voicefixer2022")

    @property
    def label(self) -> str:
        """`name:backend`: how the run's config names it (two backends of one metric can run)."""
        return f"{self.name}:{self.backend}"


@dataclass
class _ScoreStage:
    """One metric's share of the scoring stream: its jobs, and what its summary line reports."""
    plan: MetricPlan
    jobs: int
    items: int
    cached: int
    finished: int = 0
    errors: int = 0
    t0: float = field(default_factory=time.perf_counter)   # when its first job was handed out


def default_run_name(cfg: RunConfig) -> str:
    parts = "-".join(s.name for s in cfg.systems)
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", parts)[:80] or "run"


def built_testsets() -> list[str]:
    root = testsets_dir()
    return sorted(p.parent.name for p in root.glob("*/manifest.jsonl"))


def load_testset(name: str, limit: int | None) -> LoadedSet:
    from testsets.manifest import read_manifest
    folder = testsets_dir() / name
    if not (folder / "manifest.jsonl").exists():
        built = built_testsets()
        raise BenchmarkError(f"test set '{name}' is not built: {folder}/manifest.jsonl is missing. "
                             f"Build it: python -m benchmark testsets build {name}"
                             + (f" (built sets: {', '.join(built)})" if built else ""))
    items = read_manifest(folder / "manifest.jsonl")
    if limit is not None:
        items = items[:limit]
    shas, problems = {}, {}
    for it in progress(items, desc=f"hash {name}", unit="item"):
        dsha, dprob = _hash_item_file(folder, it, "degraded")
        tsha, tprob = (None, None) if it.target is None else _hash_item_file(folder, it, "target")
        shas[it.id] = (dsha, tsha)
        if dprob or tprob:
            problems[it.id] = (dprob, tprob)
    return LoadedSet(name, folder, items, shas, problems)


def _hash_item_file(folder: Path, it, which: str) -> tuple[str, str | None]:
    """(sha256, None) for a readable file inside the set folder; else (a stable key, the item's
    error): a refused path (`..`, absolute, a symlink leaving the folder) or an unreadable file is
    one item's error, recorded at restore time, never a stop here. Machine failures (EIO...) raise
    TransientIOError."""
    try:
        return sha256_input(it.file(folder, which)), None
    except (UnsafePathError, AudioError) as exc:
        problem = str(exc)
    rel = getattr(it, which)
    return "error:" + hashlib.sha256(f"{rel!r}|{problem}".encode()).hexdigest(), problem


def default_metrics(testsets: list[str]) -> list[str]:
    """The metrics the papers report on the selected sets (`TestSetInfo.metrics`, as specs with
    the backend each table's published numbers used, e.g. `lsd:voicefixer2021`), in order; sets
    that are not registered builders (e.g. built by a test) add none."""
    from testsets import TESTSETS
    names: list[str] = []
    for t in testsets:
        if t in TESTSETS:
            names += [m for m in TESTSETS.get(t).info.metrics if m not in names]
    return names


def metric_sets(testsets: list[str]) -> dict[str, set[str]]:
    """Metric spec -> the selected sets whose papers' tables show it (`TestSetInfo.metrics`). With
    default metrics, a metric scores only those sets: no table shows WER on `sr`, so it is not
    computed there. Sets that are not registered builders get every default metric."""
    from testsets import TESTSETS
    out: dict[str, set[str]] = {}
    unregistered = [t for t in testsets if t not in TESTSETS]
    for t in testsets:
        if t in TESTSETS:
            for m in TESTSETS.get(t).info.metrics:
                out.setdefault(m, set()).add(t)
    for m in out:
        out[m].update(unregistered)
    return out


def _set_info(ls: LoadedSet) -> tuple[dict, str | None]:
    info_path, sums = ls.folder / "info.json", ls.folder / "CHECKSUMS"
    try:
        info = json.loads(info_path.read_text()) if info_path.exists() else {}
    except ValueError:
        info = {"error": f"{info_path} is not valid JSON"}
    return info, (sha256_input(sums) if sums.exists() else None)


def _metric_key(name: str, backend: str, version: str) -> str:
    return hashlib.sha256(f"{name}|{backend}|{version}".encode()).hexdigest()[:16]


def plan_metrics(names: list[str], profile: str, device: str, explicit: bool) -> tuple[list[MetricPlan], list[str]]:
    """One plan per metric spec (`lsd`, `lsd:voicefixer2021`; see metrics.base.choose_backend),
    from the registry's info alone (no metric is built). The version and key are filled by
    `load_versions` once the assets are known to be there."""
    from metrics import METRICS
    from metrics.base import choose_backend, parse_metric_spec
    plans, notes = [], []
    for text in names:
        spec = parse_metric_spec(text)
        if spec.name not in METRICS:
            if explicit:
                METRICS.get(spec.name)   # raises the registry's clear "unknown metric" error
            notes.append(f"metric '{spec.name}' of the paper tables is not available (not registered); "
                         "its columns are empty")
            continue
        cls = METRICS.get(spec.name)
        backend = choose_backend(cls.info, spec.backend, profile, explicit)
        same = next((p for p in plans if p.name == spec.name and p.backend == backend), None)
        if same is not None:
            same.specs.append(text)
            continue
        plans.append(MetricPlan(spec.name, backend, "", "", cls.info, [text]))
    return plans, notes


def load_versions(plans: list[MetricPlan], device: str) -> None:
    """Load each planned metric (in this process, where the local executor's worker reuses it) and
    take its version after load() through `metrics.base.metric_version`, the one place that decides
    what a version names (model-based backends know their model file's hash only once loaded).
    The version is part of the metric's store key, so a changed backend is rescored."""
    from benchmark.run.jobs import loaded_metric
    from metrics.base import metric_version
    for p in plans:
        p.version = metric_version(loaded_metric(p.name, p.backend, p.info.device_for(device)))
        p.key = _metric_key(p.name, p.backend, p.version)


JOBS_PER_WORKER = 16    # a stage is cut into at least this many jobs per worker when it can be


def job_size(n_items: int, max_batch: int, workers: int) -> int:
    """Items per job: at most `max_batch` (what one call handles well), and small enough that
    each worker gets JOBS_PER_WORKER jobs, so that a stage's last jobs are short and no core
    idles for long at its end (35 WER items on 2 workers: 2 per job, not 16, 16 and 3)."""
    return max(1, min(max_batch, -(-n_items // (JOBS_PER_WORKER * max(1, workers)))))


def longest_first(inputs: list, seconds) -> list:
    """Inputs ordered longest first (stable): the largest jobs start first and the shortest
    fill the end of the stage (longest-processing-time-first scheduling)."""
    return sorted(inputs, key=seconds, reverse=True)


def output_path(run: str, system: str, system_key: str, testset: str, item_id: str) -> Path:
    """Where one item's output goes: names carry a hash of the set name and of the item id
    (`files.unique_stem`), so ids that sanitise alike ("x y", "x_y") never share a file."""
    return (run_folder(run) / "outputs" / f"{safe_name(system)}-{system_key[:8]}" / unique_stem(testset)
            / f"{unique_stem(item_id)}.wav")


class Runner:
    def __init__(self, cfg: RunConfig, executor: Executor | None = None):
        self.cfg = cfg
        self.executor = executor
        self.notes: list[str] = []
        # metric spec -> the sets whose tables show it (default metrics); None: every metric on every set
        self._metric_sets: dict[str, set[str]] | None = None

    # --- planning ----------------------------------------------------------------------------------
    def _systems(self):
        """(spec, class, cache key) per selected system: keys from info and config, no instance."""
        out = []
        for spec in self.cfg.systems:
            cls = SYSTEMS.get(spec.name)
            if self.cfg.device not in cls.info.devices:
                raise BenchmarkError(f"system '{spec.name}' runs on {', '.join(cls.info.devices)}, "
                                     f"not on --device {self.cfg.device}")
            out.append((spec, cls, system_key(cls.info, spec.config)))
        return out

    def load_sets(self, names: list[str]) -> list[LoadedSet]:
        """The items this invocation works on (benchmark.run.shard overrides it to take one slice)."""
        return [load_testset(n, self.cfg.limit) for n in names]

    def run(self, argv: list[str] | None = None) -> RunSummary:
        cfg = self.cfg
        t0 = time.perf_counter()
        systems = self._systems()
        names = cfg.testsets or built_testsets()
        if not names:
            raise BenchmarkError(f"no built test sets under {testsets_dir()}. Build them first: "
                                 "python -m benchmark testsets build all")
        metric_names = cfg.metrics or default_metrics(names)
        # --metrics given: every chosen metric on every set; default: each set's tables' metrics
        self._metric_sets = None if cfg.metrics else metric_sets(names)
        plans, notes = plan_metrics(metric_names, cfg.profile, cfg.device, bool(cfg.metrics))
        self.notes += notes
        # every missing prerequisite (unbuilt sets, assets, checkpoints) in one message, first
        pf = preflight.check(
            names,
            [(f"system {c.info.name}", c.info.assets) for _, c, _ in systems]
            + [(f"metric {p.name} ({p.backend})", tuple(p.info.assets.get(p.backend, ())))
               for p in plans],
            [(spec.name, c, spec.config) for spec, c, _ in systems])
        if not pf.ok:
            raise preflight.MissingPrerequisites(pf.message(cfg.profile))
        load_versions(plans, cfg.device)
        with run_lock(cfg.name):                 # a second run of this name exits with a message
            return self._run_locked(argv, t0, systems, names, plans)

    def _run_locked(self, argv, t0, systems, names, plans) -> RunSummary:
        cfg = self.cfg
        sets = self.load_sets(names)
        store = Store.open(cfg.name)
        try:
            store.mark_interrupted()                 # 'running' rows left by killed invocations
            config = {"systems": [asdict(s) for s in cfg.systems], "testsets": names,
                      "metrics": {p.label: p.key for p in plans}, "profile": cfg.profile,
                      "device": cfg.device, "workers": cfg.workers, "limit": cfg.limit,
                      "executor": cfg.executor}
            used = [n for _, c, _ in systems for n in c.info.assets] + \
                   [n for p in plans for n in p.info.assets.get(p.backend, ())]
            inv = store.begin_invocation(argv or [], config,
                                         provenance.collect(cfg.device, assets=used))
            summary = RunSummary(cfg.name, inv)
            for ls in sets:
                info, sums = _set_info(ls)
                store.put_testset(ls.name, str(ls.folder.resolve()), info, sums,
                                  [(it.id, it.to_json(), *ls.shas[it.id]) for it in ls.items])
            for spec, cls, key in systems:
                store.put_system(spec.name, key, asdict(cls.info), spec.config)
            for p in plans:
                store.put_metric(p.key, p.name, p.backend, p.version, asdict(p.info))
            executor = self.executor or make_executor(cfg.executor, cfg.workers)
            try:
                for spec, cls, key in systems:
                    self._restore(store, inv, summary, executor, spec, cls, key, sets)
                self._score(store, inv, summary, executor, plans, sets)
            except BaseException as exc:
                status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
                try:
                    store.end_invocation(inv, status)
                except BenchmarkError:               # e.g. the disk is still full: keep the first error
                    pass
                raise
            finally:
                if self.executor is None:
                    executor.close()
            store.end_invocation(inv)
        finally:
            store.close()
        summary.seconds = time.perf_counter() - t0
        summary.notes = self.notes
        return summary

    # --- restoration -------------------------------------------------------------------------------
    def _restore(self, store, inv, summary, executor, spec, cls, key, sets) -> None:
        info = cls.info
        done = store.output_keys(key)
        todo: dict[str, RestoreInput] = {}
        links: dict[str, list[tuple[str, str, str]]] = {}
        cached_links, total = [], 0
        seconds: dict[str, float] = {}
        for ls in sets:
            for it in ls.items:
                if info.needs_target and not it.target:
                    continue   # oracle systems have nothing to return without a reference
                total += 1
                dsha, tsha = ls.shas[it.id]
                input_sha = hashlib.sha256(f"{dsha}|{tsha}".encode()).hexdigest() if info.needs_target else dsha
                link = (spec.name, ls.name, it.id)
                if input_sha in done and (done[input_sha] is None or not self.cfg.retry_errors):
                    cached_links.append((*link, key, input_sha))
                    continue
                links.setdefault(input_sha, []).append(link)
                if input_sha not in todo:
                    seconds[input_sha] = float(it.duration or 0.0)
                    dprob, tprob = ls.problems.get(it.id, (None, None))
                    todo[input_sha] = RestoreInput(
                        ls.name, it.id, str(ls.folder / it.degraded) if not dprob else "",
                        str(ls.folder / it.target) if it.target and not tprob else None, input_sha,
                        str(output_path(self.cfg.name, spec.name, key, ls.name, it.id)),
                        problem=dprob or (tprob if info.needs_target else None))
        store.link_outputs(cached_links)
        summary.cached_outputs += len(cached_links)
        store.count_work(inv, cached_outputs=len(cached_links))
        if not todo:
            return
        batch = job_size(len(todo), max(1, info.max_batch), executor.workers)
        inputs = longest_first(list(todo.values()), lambda x: seconds[x.input_sha256])
        jobs = [RestoreJob(spec.name, spec.config, self.cfg.device, key, inputs[i:i + batch],
                           self.cfg.max_item_seconds)
                for i in range(0, len(inputs), batch)]
        bar = progress(desc=f"restore {spec.name}", total=total, initial=len(cached_links), unit="item")
        t_stage, errors = time.perf_counter(), 0
        with bar:
            for fin in executor.stream(restore_job, jobs):
                if fin.error is not None:
                    if isinstance(fin.error, BenchmarkError):
                        raise fin.error
                    raise BenchmarkError(f"system '{spec.name}' failed to load or run: "
                                         f"{type(fin.error).__name__}: {fin.error}") from fin.error
                for oc in fin.result:
                    row = OutputRow(key, oc.input_sha256, spec.name, oc.path, oc.sha256, oc.rate,
                                    oc.seconds, oc.audio_seconds, oc.device, oc.error)
                    store.put_output(row, links[oc.input_sha256], inv)
                    # `restored` counts outputs; an item that failed is an item error, not an output
                    store.count_work(inv, restored=int(oc.error is None))
                    summary.restored += oc.error is None
                    summary.item_errors += oc.error is not None
                    errors += oc.error is not None
                    bar.update(len(links[oc.input_sha256]))
        stage_summary(f"restore {spec.name}", len(inputs), len(cached_links),
                      time.perf_counter() - t_stage, errors)

    # --- scoring -----------------------------------------------------------------------------------
    def _score_inputs(self, store, plan: MetricPlan, sets) -> dict[tuple[str, str], ScoreInput]:
        by_spec = self._metric_sets or {}
        found = [by_spec[s] for s in plan.specs if s in by_spec]   # keyed by TestSetInfo.metrics specs
        only = set().union(*found) if found else None
        items = {(ls.name, it.id): (ls, it) for ls in sets for it in ls.items
                 if only is None or ls.name in only}
        selected = {s.name for s in self.cfg.systems}
        wanted: dict[tuple[str, str], ScoreInput] = {}
        for row in store.item_outputs():
            if row["system"] not in selected or (row["testset"], row["item_id"]) not in items:
                continue
            if row["error"] is not None or not row["sha256"]:
                continue
            ls, it = items[(row["testset"], row["item_id"])]
            if plan.info.needs_reference and not it.target:
                continue
            if plan.info.needs_transcript and not it.transcript:
                continue
            rkey = reference_key(plan.info.needs_reference, plan.info.needs_transcript,
                                 ls.shas[it.id][1], it.transcript)
            k = (row["sha256"], rkey)
            if k not in wanted:
                tprob = ls.problems.get(it.id, (None, None))[1] if plan.info.needs_reference else None
                ref = str(ls.folder / it.target) if plan.info.needs_reference and not tprob else None
                wanted[k] = ScoreInput(k, row["path"], ref,
                                       it.transcript if plan.info.needs_transcript else None,
                                       problem=tprob, seconds=float(row["audio_seconds"] or 0.0))
        return wanted

    def _todo(self, store, plan: MetricPlan, sets) -> tuple[list[ScoreInput], int]:
        """(the inputs still to score with this metric, how many it has stored already)."""
        wanted = self._score_inputs(store, plan, sets)
        done = store.score_keys(plan.key)
        todo = [v for k, v in wanted.items() if k not in done]
        return todo, len(wanted) - len(todo)

    def _score(self, store, inv, summary, executor, plans: list[MetricPlan], sets) -> None:
        """Every metric's jobs through one stream: metrics are independent, so the next metric's
        jobs start as soon as a worker is free and no core waits for a metric's last job. A
        metric's inputs are planned only when the stream reaches it (memory stays one metric's
        inputs at the papers' scale); each metric prints its summary line when its last job ends
        (its seconds: from its first job's start, so the stages' times overlap)."""
        # the bar's totals, one metric's inputs in memory at a time
        counts = [(len(todo), cached) for todo, cached in (self._todo(store, p, sets) for p in plans)]
        total = sum(n + c for n, c in counts)
        cached_all = sum(c for _, c in counts)
        stages: dict[tuple[str, str], _ScoreStage] = {}

        def jobs():
            # costliest metrics first (MetricInfo.cost; stable otherwise): their long jobs start
            # early and the cheap metrics' short jobs fill both cores at the end
            for p in sorted(plans, key=lambda p: -p.info.cost(p.backend)):
                todo, cached = self._todo(store, p, sets)
                summary.cached_scores += cached
                store.count_work(inv, cached_scores=cached)
                if not todo:
                    continue
                device = p.info.device_for(self.cfg.device)
                batch = score_jobs(p.name, p.backend, device, longest_first(todo, lambda x: x.seconds),
                                   max_item_seconds=self.cfg.max_item_seconds,
                                   batch=job_size(len(todo), run_jobs.SCORE_BATCH, executor.workers))
                stages[(p.name, p.backend)] = _ScoreStage(p, len(batch), len(todo), cached)
                yield from batch

        if total == cached_all:
            for _ in jobs():          # nothing to score: only the cached counts are recorded
                pass
            return
        with progress(desc=f"score {len(plans)} metrics", total=total, initial=cached_all, unit="item") as bar:
            for fin in executor.stream(score_job, jobs()):
                st = stages[(fin.task.metric, fin.task.backend)]
                plan = st.plan
                if fin.error is not None:
                    if isinstance(fin.error, BenchmarkError):
                        raise fin.error
                    raise BenchmarkError(f"metric '{plan.name}' ({plan.backend}) failed to load: "
                                         f"{type(fin.error).__name__}: {fin.error}") from fin.error
                for oc in fin.result:
                    self._put_score(store, inv, plan, oc.key, oc.values, oc.error, oc.aux)
                    summary.scored += 1
                    st.errors += oc.error is not None
                bar.update(len(fin.result))        # one update per finished job
                st.finished += 1
                if st.finished == st.jobs:
                    stage_summary(f"score {plan.name} ({plan.backend})", st.items, st.cached,
                                  time.perf_counter() - st.t0, st.errors)

    def _put_score(self, store, inv, plan, key, values, error, aux) -> None:
        cols = list(plan.info.columns)
        rows = [ScoreRow(plan.key, key[0], key[1], plan.name, plan.backend, plan.version,
                         plan.info.rate, c, values.get(c) if error is None else None,
                         error if error is not None else (None if c in values else "no value returned"),
                         aux if i == 0 else None)
                for i, c in enumerate(cols)]
        store.put_scores(rows, inv)
        store.count_work(inv, scored=1)
