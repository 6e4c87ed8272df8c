"""The metric plan: which metric backends a command scores, decided once from the specs it was given
(`lsd`, `lsd:voicefixer2021`) or from the test sets' paper tables, and passed on unchanged.

`resolve(...)` is the one place a metric spec is parsed and a backend chosen (`run`, `score`,
`doctor` and the demo call it). Each `MetricPlan` is frozen: its info, backend, the specs that chose
it, the sets it scores, the label the report shows it under and (after `load_versions`) its version
and cache key. The store records label and specs; the report reads its columns from the stored plan.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class MetricPlan:
    name: str
    backend: str
    info: Any                                 # MetricInfo
    specs: tuple[str, ...]                    # the specs it serves ("lsd", "lsd:voicefixer2022")
    sets: frozenset[str] | None = None        # the sets it scores (None: every selected set)
    label: str = ""                           # the report's name: `lsd`, or `lsd:voicefixer2021`
    version: str = ""                         # "" until load_versions, after the asset check
    key: str = ""                             # cache key: name + backend + version

    @property
    def assets(self) -> tuple[str, ...]:
        return tuple(self.info.assets.get(self.backend, ()))

    def scores(self, testset: str) -> bool:
        return self.sets is None or testset in self.sets


@dataclass(frozen=True)
class Plan:
    metrics: tuple[MetricPlan, ...]
    notes: tuple[str, ...] = field(default=())


def table_metrics(testsets: list[str]) -> list[str]:
    """The metric specs the papers report on the sets (`TestSetInfo.metrics`, with the backend each
    table's published numbers used, e.g. `lsd:voicefixer2021`), in order; sets that are not
    registered builders (e.g. built by a test) add none."""
    from testsets import TESTSETS
    names: list[str] = []
    for t in testsets:
        if t in TESTSETS:
            names += [m for m in TESTSETS.get(t).info.metrics if m not in names]
    return names


def _table_sets(testsets: list[str]) -> dict[str, set[str]]:
    """Spec -> the selected sets whose tables show it; sets that are not registered builders get
    every default metric (no table shows WER on `sr`, so it is not computed there)."""
    from testsets import TESTSETS
    out: dict[str, set[str]] = {}
    unregistered = {t for t in testsets if t not in TESTSETS}
    for t in testsets:
        if t in TESTSETS:
            for m in TESTSETS.get(t).info.metrics:
                out.setdefault(m, set()).add(t)
    for m in out:
        out[m] |= unregistered
    return out


def resolve(specs: list[str] | None, profile: str, testsets: list[str] | None = None) -> Plan:
    """One plan per (metric, backend). `specs` given (the command line): exactly those, on every
    set; an unknown metric or backend or a malformed spec raises one clear error. `specs` None: the
    sets' table metrics, each on the sets whose tables show it; a table metric that is not
    registered is a note (its columns stay empty)."""
    from metrics import METRICS
    from metrics.base import choose_backend, parse_metric_spec
    explicit = specs is not None
    texts = list(specs) if explicit else table_metrics(testsets or [])
    by_spec = None if explicit else _table_sets(testsets or [])
    found: dict[tuple[str, str], dict] = {}
    notes: list[str] = []
    for text in texts:
        spec = parse_metric_spec(text)
        if spec.name not in METRICS:
            if explicit:
                METRICS.get(spec.name)   # raises the registry's clear "unknown metric" error
            notes.append(f"metric '{spec.name}' of the paper tables is not available (not registered); "
                         "its columns are empty")
            continue
        info = METRICS.get(spec.name).info
        backend = choose_backend(info, spec.backend, profile, explicit)
        entry = found.setdefault((spec.name, backend), {"info": info, "specs": [], "sets": set()})
        entry["specs"].append(text)
        if by_spec is not None:
            entry["sets"] |= by_spec.get(text, set())
    plans = []
    for (name, backend), e in found.items():
        # the report shows one backend of a metric under the bare name: the profile's backend when
        # it is planned, else the first planned; any other as `name:backend`
        mine = [b for n, b in found if n == name]
        primary = e["info"].backend_for(profile) if e["info"].backend_for(profile) in mine else mine[0]
        plans.append(MetricPlan(name, backend, e["info"], tuple(e["specs"]),
                                None if by_spec is None else frozenset(e["sets"]),
                                name if backend == primary else f"{name}:{backend}"))
    return Plan(tuple(plans), tuple(notes))


def metric_key(name: str, backend: str, version: str) -> str:
    return hashlib.sha256(f"{name}|{backend}|{version}".encode()).hexdigest()[:16]


def load_versions(plans: tuple[MetricPlan, ...], device: str) -> tuple[MetricPlan, ...]:
    """The plans with version and key: each metric is loaded (in this process, where the local
    executor's worker reuses it) and versioned through `metrics.base.metric_version`, the one place
    that decides what a version names (model-based backends know their model file's hash only once
    loaded). The version is part of the store key, so a changed backend is rescored."""
    from benchmark.run.jobs import loaded_metric
    from metrics.base import metric_version
    out = []
    for p in plans:
        version = metric_version(loaded_metric(p.name, p.backend, p.info.device_for(device)))
        out.append(replace(p, version=version, key=metric_key(p.name, p.backend, version)))
    return tuple(out)
