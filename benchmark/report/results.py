"""Read a run's store into long-form per-item scores and per-cell summaries (the report's data).

Everything here comes from the store alone: items and their manifests, outputs (with the wall
time of each system call), score rows and the metric records (key, backend, version, info), so a
report can be rebuilt at any time.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

from benchmark.report.stats import Cell, corpus_ratio, mean_ci
from benchmark.run.store import (
    InvocationRow,
    ItemOutputRow,
    ItemRow,
    ItemScoreRow,
    MetricRow,
    RuntimeRow,
    Store,
    SystemRow,
    TestSetRow,
)


@dataclass
class RunData:
    run: str
    invocations: list[InvocationRow]
    testsets: list[TestSetRow]
    items: dict[tuple[str, str], ItemRow]        # (testset, item id) -> item row (manifest parsed)
    systems: list[str]                            # in the order they were first run
    system_rows: dict[str, SystemRow]
    metrics: dict[str, MetricRow]                 # metric label -> metric row (the latest key)
    outputs: list[ItemOutputRow]                  # item_outputs joined with outputs
    records: list[ItemScoreRow]                   # metric: the label; subset: the manifest's
    runtime: list[RuntimeRow]
    earlier: dict[str, int] = field(default_factory=dict)   # set -> item outputs of earlier builds

    def higher_is_better(self, metric: str) -> bool:
        m = self.metrics.get(metric)
        return bool(m.info["higher_is_better"]) if m else True

    def info(self, metric: str) -> dict | None:
        """The metric's stored `MetricInfo` (as a dict), None for a metric this run did not score.
        A store written before MetricInfo declared its aggregation takes the registered metric's
        (so an old run's WER is still the corpus value, not the mean of item WERs)."""
        m = self.metrics.get(metric)
        if not m:
            return None
        info = m.info
        if "aggregation" not in info:
            from metrics import METRICS
            if metric in METRICS:
                now = asdict(METRICS.get(metric).info)
                return {**info, "aggregation": now["aggregation"], "corpus": now["corpus"]}
        return info

    def label_for(self, metric: str, backend: str | None = None) -> str:
        """The run's metric that fills a column asking for `metric` (and the backend its published
        numbers used): that backend when the run scored it, else the metric's bare label (the
        column note then says the backends differ)."""
        if backend is not None:
            found = next((label for label, m in self.metrics.items()
                          if m.name == metric and m.backend == backend), None)
            if found is not None:
                return found
        return metric

    def columns(self, metric: str) -> list[str]:
        m = self.metrics.get(metric)
        return list(m.info["columns"]) if m else []

    def oracle(self, system: str) -> bool:
        row = self.system_rows.get(system)
        return bool(row and row.info.get("needs_target"))


def load(store: Store, run: str) -> RunData:
    """The run's data as the report shows it: the metrics the invocations planned (under the labels
    their plans gave them; a later invocation's label wins), and only the items of each set's
    current build, with their outputs and the scores linked to them in the store."""
    invocations = store.invocations()
    systems: list[str] = []
    keys: list[str] = []
    for inv in invocations:
        for s in inv.config.get("systems", []):
            if s["name"] not in systems:
                systems.append(s["name"])
        keys += [k for k in inv.config.get("metrics", {}).values() if k not in keys]
    metric_rows = {m.key: m for m in store.metrics()}
    metrics = labelled_metrics([metric_rows[k] for k in keys if k in metric_rows])
    label_of = {m.key: label for label, m in metrics.items()}
    testsets = store.testsets()
    build = {t.name: t.checksums_sha256 or "" for t in testsets}
    items = {(r.testset, r.item_id): r for r in store.items() if r.build == build.get(r.testset)}
    outputs, earlier = [], {}
    for o in store.item_outputs():
        if (o.testset, o.item_id) in items and o.build == build[o.testset]:
            outputs.append(o)
        elif o.testset in build:       # an output of an earlier build of the set: not counted
            earlier[o.testset] = earlier.get(o.testset, 0) + 1
    rows = [s for s in store.item_scores() if s.system in systems and s.metric_key in label_of
            and (s.testset, s.item_id) in items and s.build == items[(s.testset, s.item_id)].build]
    aux = {(s.metric_key, s.system, s.testset, s.item_id): s.aux for s in rows if s.aux}  # once per item
    records = [replace(s, subset=items[(s.testset, s.item_id)].manifest.get("subset") or "",
                       metric=label_of[s.metric_key],
                       aux=aux.get((s.metric_key, s.system, s.testset, s.item_id), {})) for s in rows]
    return RunData(run, invocations, testsets, items, systems,
                   {s.name: s for s in store.systems()}, metrics, outputs, records,
                   store.runtime_rows(), earlier)


def labelled_metrics(rows: list[MetricRow]) -> dict[str, MetricRow]:
    """The run's metric rows by the label their plan gave them (benchmark.run.plan: one backend of
    a metric bare, others `name:backend`), in the order the invocations planned them. For each
    (name, backend) the latest invocation's row wins; when two rows claim one label, the later
    keeps it and the other is shown as `name:backend`."""
    latest: dict[tuple[str, str], MetricRow] = {}
    for r in rows:
        latest.pop((r.name, r.backend), None)
        latest[(r.name, r.backend)] = r
    out: dict[str, MetricRow] = {}
    for r in reversed(list(latest.values())):
        label = r.label or f"{r.name}:{r.backend}"
        out[label if label not in out else f"{r.name}:{r.backend}"] = r
    return dict(reversed(list(out.items())))


def _aux_number(aux: dict, name: str) -> float | None:
    v = aux.get(name)
    return float(v) if isinstance(v, int | float) and math.isfinite(v) else None


def summarize(records: list[ItemScoreRow], info: dict | None, column: str) -> Cell:
    """The set value of one metric column over these records: mean ± 95 % CI over items, or, for a
    column the metric declares corpus-level (`MetricInfo.corpus`, e.g. WER), the corpus ratio of
    the per-item statistics it returned, with a bootstrap CI. Items of a corpus column that lack
    those statistics (rows stored before they were recorded) give the mean of per-item values."""
    good = [r for r in records if r.error is None and r.value is not None]
    ratio = next((r for r in (info or {}).get("corpus", ()) if r["column"] == column), None)
    if ratio is not None:
        nums = [_aux_number(r.aux, ratio["numerator"]) for r in good]
        dens = [_aux_number(r.aux, ratio["denominator"]) for r in good]
        if good and None not in nums and None not in dens:
            return corpus_ratio(nums, dens, ratio["scale"])
    return mean_ci([r.value for r in good])


@dataclass(frozen=True)
class ItemTiming:
    """The wall time the runner measured around one item's system call (its share of the batch)."""
    testset: str
    item_id: str
    system: str
    seconds: float
    audio_seconds: float
    device: str

    @property
    def rtf(self) -> float:
        """Real-time factor: processing seconds per second of audio."""
        return self.seconds / self.audio_seconds


def item_timings(data: RunData) -> list[ItemTiming]:
    """Per-item runtime of the run's systems, read from the output rows (`outputs.seconds`,
    `audio_seconds`, `device`): every restored item of the run that has a timing."""
    out = []
    for o in data.outputs:
        if (o.system in data.systems and (o.testset, o.item_id) in data.items
                and o.error is None and o.sha256 and o.seconds is not None and o.audio_seconds):
            out.append(ItemTiming(o.testset, o.item_id, o.system, float(o.seconds),
                                  float(o.audio_seconds), o.device or "?"))
    return out


_INDEXES: dict[tuple[int, tuple[str, ...]], tuple[list, int, dict]] = {}


def select(records: list[ItemScoreRow], **where) -> list[ItemScoreRow]:
    """The records whose fields equal `where`, in order. The report asks thousands of such
    questions of one record list, so each combination of field names is indexed once (a scan
    per question was 5 s of a demo report)."""
    keys = tuple(sorted(where))
    cached = _INDEXES.get((id(records), keys))
    if cached is None or cached[0] is not records or cached[1] != len(records):
        index: dict[tuple, list[ItemScoreRow]] = {}
        for r in records:
            index.setdefault(tuple(getattr(r, k) for k in keys), []).append(r)
        if len(_INDEXES) >= 16:                      # a few record lists per report at most
            _INDEXES.clear()
        cached = _INDEXES[(id(records), keys)] = (records, len(records), index)
    return list(cached[2].get(tuple(where[k] for k in keys), ()))


def item_errors(data: RunData) -> list[dict]:
    """Every recorded per-item failure: restoration errors and scoring errors."""
    errs = [{"stage": "restore", "system": o.system, "testset": o.testset,
             "item": o.item_id, "error": o.error} for o in data.outputs if o.error]
    seen = set()
    for r in data.records:
        if r.error and (r.metric, r.system, r.testset, r.item_id) not in seen:
            seen.add((r.metric, r.system, r.testset, r.item_id))
            errs.append({"stage": f"score {r.metric}", "system": r.system, "testset": r.testset,
                         "item": r.item_id, "error": r.error})
    return errs
