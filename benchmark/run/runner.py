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
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from benchmark.core.audio import DEFAULT_MAX_ITEM_SECONDS
from benchmark.core.errors import BenchmarkError
from benchmark.core.files import safe_name, unique_stem
from benchmark.core.paths import testsets_dir
from benchmark.core.progress import progress, stage_summary
from benchmark.run import jobs as run_jobs
from benchmark.run import preflight, provenance
from benchmark.run.builds import CHANGED, check_set
from benchmark.run.executor import Executor, make_executor
from benchmark.run.jobs import (
    RestoreInput,
    RestoreJob,
    ScoreInput,
    raise_job_error,
    restore_job,
    score_job,
    score_jobs,
)
from benchmark.run.lock import run_lock
from benchmark.run.plan import MetricPlan, load_versions, resolve
from benchmark.run.processes import DEFAULT_ITEM_TIMEOUT
from benchmark.run.store import (
    ItemOutputRow,
    OutputRow,
    ScoreLink,
    ScoreRow,
    Store,
    reference_key,
    run_folder,
)
from systems.base import SYSTEMS, SystemSpec, system_key


@dataclass(frozen=True)
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
    item_timeout: float | None = DEFAULT_ITEM_TIMEOUT          # seconds per item of a plugin call
    verify: bool = False                     # hash every file of the sets in full at the start


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
    build: str = ""                       # the build's fingerprint (benchmark.run.builds)
    changed: set[str] = field(default_factory=set)     # items whose files differ from CHECKSUMS
    stats: dict[str, Any] = field(default_factory=dict)   # rel path -> core.hashing.FileStamp checked
    hashed: int = 0                       # files hashed in full at the start check


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


def default_run_name(systems: list[SystemSpec]) -> str:
    parts = "-".join(s.name for s in systems)
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", parts)[:80] or "run"


def built_testsets() -> list[str]:
    root = testsets_dir()
    return sorted(p.parent.name for p in root.glob("*/manifest.jsonl"))


def load_testset(name: str, limit: int | None, known: dict | None = None, verify: bool = False) -> LoadedSet:
    """A built set's items, checked against its build's CHECKSUMS (benchmark.run.builds): `known`
    holds the file stats a store recorded when they last matched (the fast path), `verify` hashes
    every file in full."""
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
    with progress(desc=f"check {name}", total=len(items), unit="item") as bar:
        chk = check_set(folder, items, known or {}, verify, bar)
    return LoadedSet(name, folder, items, chk.shas, chk.problems, chk.build, chk.changed, chk.stats,
                     chk.hashed)


def _set_info(ls: LoadedSet) -> dict:
    info_path = ls.folder / "info.json"
    try:
        return json.loads(info_path.read_text()) if info_path.exists() else {}
    except ValueError:
        return {"error": f"{info_path} is not valid JSON"}


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
        self._infos: dict[str, Any] = {}          # system key -> the SystemInfo it was keyed with
        # metric key -> (output sha256, reference key) -> its items' links, while the metric scores
        self._links: dict[str, dict[tuple[str, str], list[ScoreLink]]] = {}

    # --- planning ----------------------------------------------------------------------------------
    def _systems(self):
        """(spec, class, cache key) per selected system: keys from the keyed info and config, no
        instance (`System.keyed_info`)."""
        out = []
        for spec in self.cfg.systems:
            cls = SYSTEMS.get(spec.name)
            if self.cfg.device not in cls.info.devices:
                raise BenchmarkError(f"system '{spec.name}' runs on {', '.join(cls.info.devices)}, "
                                     f"not on --device {self.cfg.device}")
            info = cls.keyed_info(spec.config)     # e.g. which checkpoint weights will be loaded
            key = system_key(info, spec.config)
            self._infos[key] = info
            out.append((spec, cls, key))
        return out

    def load_sets(self, names: list[str], store: Store) -> list[LoadedSet]:
        """The items this invocation works on (benchmark.run.shard overrides it to take one slice),
        checked against their builds' CHECKSUMS; the stats of the files that matched are recorded."""
        sets = [load_testset(n, self.cfg.limit, store.set_files(n), self.cfg.verify) for n in names]
        for ls in sets:
            store.put_set_files(ls.name, ls.stats)
            if ls.changed:
                files = sorted({p.split(": sha256 ")[0] for i in ls.changed for p in ls.problems[i]
                                if p and i in ls.problems})
                self.notes.append(f"test set '{ls.name}': {len(ls.changed)} item(s) whose files differ "
                                  f"from its CHECKSUMS are item errors: " + "; ".join(files[:5])
                                  + (f"; ... {len(files) - 5} more" if len(files) > 5 else ""))
        return sets

    def run(self, argv: list[str] | None = None) -> RunSummary:
        cfg = self.cfg
        t0 = time.perf_counter()
        systems = self._systems()
        names = cfg.testsets or built_testsets()
        if not names:
            raise BenchmarkError(f"no built test sets under {testsets_dir()}. Build them first: "
                                 "python -m benchmark testsets build all")
        # --metrics given: every chosen metric on every set; default: each set's tables' metrics
        plan = resolve(cfg.metrics, cfg.profile, names)
        self.notes += plan.notes
        # every missing prerequisite (unbuilt sets, assets, checkpoints) in one message, first
        pf = preflight.check(
            names,
            [(f"system {c.info.name}", c.info.assets) for _, c, _ in systems]
            + [(f"metric {p.name} ({p.backend})", p.assets) for p in plan.metrics],
            [(spec.name, c, spec.config) for spec, c, _ in systems])
        if not pf.ok:
            raise preflight.MissingPrerequisites(pf.message(cfg.profile))
        plans = load_versions(plan.metrics, cfg.device)
        with run_lock(cfg.name):                 # a second run of this name exits with a message
            return self._run_locked(argv, t0, systems, names, plans)

    def _run_locked(self, argv, t0, systems, names, plans) -> RunSummary:
        cfg = self.cfg
        store = Store.open(cfg.name)
        try:
            sets = self.load_sets(names, store)
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
                store.put_testset(ls.name, str(ls.folder.resolve()), _set_info(ls), ls.build,
                                  [(it.id, it.to_json(), *ls.shas[it.id]) for it in ls.items])
            for spec, _, key in systems:
                store.put_system(spec.name, key, asdict(self._infos[key]), spec.config)
            for p in plans:
                store.put_metric(p.key, p.name, p.backend, p.version, asdict(p.info), p.label, p.specs)
            executor = self.executor or make_executor(cfg.executor, cfg.workers, cfg.item_timeout)
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
                link = (spec.name, ls.name, it.id, ls.build)
                if input_sha in done and (done[input_sha] is None or not self.cfg.retry_errors):
                    cached_links.append((*link[:3], key, input_sha, ls.build))
                    continue
                links.setdefault(input_sha, []).append(link)
                if input_sha not in todo:
                    seconds[input_sha] = float(it.duration or 0.0)
                    dprob, tprob = ls.problems.get(it.id, (None, None))
                    todo[input_sha] = RestoreInput(
                        ls.name, it.id, str(ls.folder / it.degraded) if not dprob else "",
                        str(ls.folder / it.target) if it.target and not tprob else None, input_sha,
                        str(output_path(self.cfg.name, spec.name, key, ls.name, it.id)),
                        problem=dprob or (tprob if info.needs_target else None),
                        degraded_sha256=dsha, target_sha256=tsha,
                        changed=it.id in ls.changed and bool(dprob or (tprob and info.needs_target)))
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
                    raise_job_error(f"system '{spec.name}'", fin.error)
                for oc in fin.result:
                    # a changed input's error is stored under a key no lookup finds: redone next run
                    row = OutputRow(key, CHANGED * oc.changed + oc.input_sha256, spec.name, oc.path,
                                    oc.sha256, oc.rate, oc.seconds, oc.audio_seconds, oc.device, oc.error)
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
    def _outputs_to_score(self, store, sets) -> list[tuple[ItemOutputRow, LoadedSet, Any]]:
        """The selected systems' good outputs of the loaded sets' current builds, with their set and
        item: the store's item outputs read once per score stage (every metric plans from them)."""
        items = {(ls.name, it.id): (ls, it) for ls in sets for it in ls.items}
        selected = {s.name for s in self.cfg.systems}
        out = []
        for row in store.item_outputs():
            if row.system not in selected or (row.testset, row.item_id) not in items:
                continue
            if row.error is not None or not row.sha256:
                continue
            ls, it = items[(row.testset, row.item_id)]
            if row.build != ls.build:
                continue      # a link of an earlier build of the set (re-linked by _restore)
            out.append((row, ls, it))
        return out

    @staticmethod
    def _keyed(plan: MetricPlan, outputs) -> Iterator[tuple[tuple[str, str], ItemOutputRow, LoadedSet, Any]]:
        """(score key: output sha256 + reference key, row, set, item) of each output this metric scores."""
        for row, ls, it in outputs:
            if not plan.scores(ls.name):
                continue
            if plan.info.needs_reference and not it.target:
                continue
            if plan.info.needs_transcript and not it.transcript:
                continue
            yield ((row.sha256, reference_key(plan.info.needs_reference, plan.info.needs_transcript,
                                              ls.shas[it.id][1], it.transcript)), row, ls, it)

    def _counts(self, store, plan: MetricPlan, outputs) -> tuple[int, int]:
        """(inputs still to score with this metric, how many it has stored already), from the score
        keys alone: the progress bar's totals without building any metric's inputs."""
        keys = {k for k, *_ in self._keyed(plan, outputs)}
        cached = len(keys & store.score_keys(plan.key))
        return len(keys) - cached, cached

    def _todo(self, store, plan: MetricPlan, outputs) -> tuple[list[ScoreInput], int]:
        """(the inputs still to score with this metric, how many it has stored already), built once
        per metric and invocation; records which score each item gets (its ScoreLink)."""
        wanted: dict[tuple[str, str], ScoreInput] = {}
        links: list[ScoreLink] = []
        for k, row, ls, it in self._keyed(plan, outputs):
            links.append(ScoreLink(plan.key, row.system, ls.name, it.id, k[0], k[1], ls.build))
            if k not in wanted:
                tprob = ls.problems.get(it.id, (None, None))[1] if plan.info.needs_reference else None
                ref = str(ls.folder / it.target) if plan.info.needs_reference and not tprob else None
                wanted[k] = ScoreInput(k, row.path, ref,
                                       it.transcript if plan.info.needs_transcript else None,
                                       problem=tprob, seconds=float(row.audio_seconds or 0.0),
                                       item=f"{ls.name}/{it.id}",
                                       audio_sha256=row.sha256,
                                       reference_sha256=ls.shas[it.id][1] if ref else None,
                                       changed=bool(tprob) and it.id in ls.changed)
        store.link_scores(links)
        by_key = self._links[plan.key] = {}
        for x in links:
            by_key.setdefault((x.output_sha256, x.reference_key), []).append(x)
        done = store.score_keys(plan.key)
        todo = [v for k, v in wanted.items() if k not in done]
        return todo, len(wanted) - len(todo)

    def _score(self, store, inv, summary, executor, plans: list[MetricPlan], sets) -> None:
        """Every metric's jobs through one stream: metrics are independent, so the next metric's
        jobs start as soon as a worker is free and no core waits for a metric's last job. A
        metric's inputs are planned only when the stream reaches it (memory stays one metric's
        inputs, plus the item outputs read once for all metrics, at the papers' scale); each metric prints its summary line when its last job ends
        (its seconds: from its first job's start, so the stages' times overlap)."""
        # the bar's totals from score keys only; each metric's inputs are built once, in the stream
        outputs = self._outputs_to_score(store, sets)
        counts = [self._counts(store, p, outputs) for p in plans]
        total = sum(n + c for n, c in counts)
        cached_all = sum(c for _, c in counts)
        stages: dict[tuple[str, str], _ScoreStage] = {}

        def jobs():
            # costliest metrics first (MetricInfo.cost; stable otherwise): their long jobs start
            # early and the cheap metrics' short jobs fill both cores at the end
            for p in sorted(plans, key=lambda p: -p.info.cost(p.backend)):
                todo, cached = self._todo(store, p, outputs)
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
                    raise_job_error(f"metric '{plan.name}' ({plan.backend})", fin.error)
                for oc in fin.result:
                    if oc.changed:     # stored and linked under a key no lookup finds: redone next run
                        store.link_scores([replace(x, reference_key=CHANGED + x.reference_key)
                                           for x in self._links[plan.key][oc.key]])
                    key = (oc.key[0], CHANGED + oc.key[1]) if oc.changed else oc.key
                    self._put_score(store, inv, plan, key, oc.values, oc.error, oc.aux)
                    summary.scored += 1
                    st.errors += oc.error is not None
                bar.update(len(fin.result))        # one update per finished job
                st.finished += 1
                if st.finished == st.jobs:
                    self._links.pop(plan.key, None)
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
