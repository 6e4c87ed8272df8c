"""Read a run's store into long-form per-item scores and per-cell summaries (the report's data).

Everything here comes from the store alone: items and their manifests, outputs (with the wall
time of each system call), score rows and the metric records (key, backend, version, info), so a
report can be rebuilt at any time.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from benchmark.report.stats import Cell, corpus_ratio, mean_ci
from benchmark.run.store import Store, reference_key


@dataclass
class ItemScoreRecord:
    testset: str
    subset: str
    item_id: str
    system: str
    metric: str
    column: str
    value: float | None
    error: str | None
    backend: str
    backend_version: str
    rate: int | None
    aux: dict = field(default_factory=dict)


@dataclass
class RunData:
    run: str
    invocations: list[dict]
    testsets: list[dict]
    items: dict[tuple[str, str], dict]           # (testset, item id) -> item row (manifest parsed)
    systems: list[str]                            # in the order they were first run
    system_rows: dict[str, dict]
    metrics: dict[str, dict]                      # metric name -> metric row (the latest key)
    outputs: list[dict]                           # item_outputs joined with outputs
    records: list[ItemScoreRecord]
    runtime: list[dict]

    def higher_is_better(self, metric: str) -> bool:
        m = self.metrics.get(metric)
        return bool(m["info"]["higher_is_better"]) if m else True

    def info(self, metric: str) -> dict | None:
        """The metric's stored `MetricInfo` (as a dict), None for a metric this run did not score.
        A store written before MetricInfo declared its aggregation takes the registered metric's
        (so an old run's WER is still the corpus value, not the mean of item WERs)."""
        m = self.metrics.get(metric)
        if not m:
            return None
        info = m["info"]
        if "aggregation" not in info:
            from metrics import METRICS
            if metric in METRICS:
                now = asdict(METRICS.get(metric).info)
                return {**info, "aggregation": now["aggregation"], "corpus": now["corpus"]}
        return info

    def columns(self, metric: str) -> list[str]:
        m = self.metrics.get(metric)
        return list(m["info"]["columns"]) if m else []

    def oracle(self, system: str) -> bool:
        row = self.system_rows.get(system)
        return bool(row and row["info"].get("needs_target"))


def load(store: Store, run: str) -> RunData:
    invocations = store.invocations()
    systems: list[str] = []
    keys: dict[str, str] = {}
    for inv in invocations:
        for s in inv["config"].get("systems", []):
            if s["name"] not in systems:
                systems.append(s["name"])
        keys.update(inv["config"].get("metrics", {}))
    metric_rows = {m["key"]: m for m in store.metrics()}
    metrics = display_metrics([metric_rows[k] for k in keys.values() if k in metric_rows])
    items = {(r["testset"], r["item_id"]): r for r in store.items()}
    outputs = store.item_outputs()
    by_key: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for s in store.scores():
        by_key[(s["metric_key"], s["output_sha256"], s["reference_key"])].append(s)
    records: list[ItemScoreRecord] = []
    for o in outputs:
        item = items.get((o["testset"], o["item_id"]))
        if item is None or o["system"] not in systems or o["sha256"] is None:
            continue
        man = item["manifest"]
        for name, m in metrics.items():
            info = m["info"]
            rkey = reference_key(info["needs_reference"], info["needs_transcript"],
                                 item["target_sha256"], man.get("transcript"))
            rows = by_key.get((m["key"], o["sha256"], rkey), [])
            aux = next((s["aux"] for s in rows if s["aux"]), None)   # stored once per item
            for s in rows:
                records.append(ItemScoreRecord(
                    o["testset"], man.get("subset") or "", o["item_id"], o["system"], name,
                    s["column_name"], s["value"], s["error"], s["backend"], s["backend_version"],
                    s["rate"], aux or {}))
    return RunData(run, invocations, store.testsets(), items, systems,
                   {s["name"]: s for s in store.systems()}, metrics, outputs, records,
                   store.runtime_rows())


def display_metrics(rows: list[dict]) -> dict[str, dict]:
    """The run's metric rows by the name the report uses: one backend per metric under its bare
    name (the papers' backend when it ran, else the first run), any other backend of the same
    metric under `name:backend` (e.g. `lsd` = voicefixer2022 and `lsd:voicefixer2021` on sr). For
    each (name, backend) the row of the latest invocation wins."""
    latest: dict[tuple[str, str], dict] = {}
    for r in rows:
        latest.pop((r["name"], r["backend"]), None)
        latest[(r["name"], r["backend"])] = r
    out: dict[str, dict] = {}
    names = list(dict.fromkeys(n for n, _ in latest))
    for name in names:
        mine = [r for (n, _), r in latest.items() if n == name]
        primary = next((r for r in mine if r["backend"] == r["info"].get("paper_backend")), mine[0])
        out[name] = primary
        for r in mine:
            if r is not primary:
                out[f"{name}:{r['backend']}"] = r
    return out


def _aux_number(aux: dict, name: str) -> float | None:
    v = aux.get(name)
    return float(v) if isinstance(v, int | float) and math.isfinite(v) else None


def summarize(records: list[ItemScoreRecord], info: dict | None, column: str) -> Cell:
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
        if (o["system"] in data.systems and (o["testset"], o["item_id"]) in data.items
                and o["error"] is None and o["sha256"] and o["seconds"] is not None and o["audio_seconds"]):
            out.append(ItemTiming(o["testset"], o["item_id"], o["system"], float(o["seconds"]),
                                  float(o["audio_seconds"]), o["device"] or "?"))
    return out


_INDEXES: dict[tuple[int, tuple[str, ...]], tuple[list, int, dict]] = {}


def select(records: list[ItemScoreRecord], **where) -> list[ItemScoreRecord]:
    """The records whose fields equal `where`, in order. The report asks thousands of such
    questions of one record list, so each combination of field names is indexed once (a scan
    per question was 5 s of a demo report)."""
    keys = tuple(sorted(where))
    cached = _INDEXES.get((id(records), keys))
    if cached is None or cached[0] is not records or cached[1] != len(records):
        index: dict[tuple, list[ItemScoreRecord]] = {}
        for r in records:
            index.setdefault(tuple(getattr(r, k) for k in keys), []).append(r)
        if len(_INDEXES) >= 16:                      # a few record lists per report at most
            _INDEXES.clear()
        cached = _INDEXES[(id(records), keys)] = (records, len(records), index)
    return list(cached[2].get(tuple(where[k] for k in keys), ()))


def item_errors(data: RunData) -> list[dict]:
    """Every recorded per-item failure: restoration errors and scoring errors."""
    errs = [{"stage": "restore", "system": o["system"], "testset": o["testset"],
             "item": o["item_id"], "error": o["error"]} for o in data.outputs if o["error"]]
    seen = set()
    for r in data.records:
        if r.error and (r.metric, r.system, r.testset, r.item_id) not in seen:
            seen.add((r.metric, r.system, r.testset, r.item_id))
            errs.append({"stage": f"score {r.metric}", "system": r.system, "testset": r.testset,
                         "item": r.item_id, "error": r.error})
    return errs
