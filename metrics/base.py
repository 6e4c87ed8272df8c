"""The metric plugin interface: a metric scores a batch of items and never raises per item.

Each metric declares typed metadata (`MetricInfo`), resamples through `benchmark.core.audio.resample`
to `info.rate`, and returns one `ItemScore` per item: values per column, or an error string.
Every fact the harness needs about a metric is in its `MetricInfo`: the devices it can use (the
executors place its jobs from them) and how a set of item scores becomes one value (`aggregation`:
the mean over items, or a corpus-level ratio of per-item statistics the metric returns in `aux`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from benchmark.core.audio import resample
from benchmark.core.registry import Registry

DEVICES = ("cpu", "cuda")
DEFAULT_COST = 0.01          # MetricInfo.cost of a metric that records none (the cheap ones)
AGGREGATIONS = ("mean", "corpus")


@dataclass(frozen=True)
class CorpusRatio:
    """A corpus-level set value for one column: `scale * sum(numerator) / sum(denominator)` over the
    scored items, both read from each item's `ItemScore.aux` (WER: 100 * edits / reference words)."""
    column: str
    numerator: str
    denominator: str
    scale: float = 1.0


@dataclass(frozen=True)
class MetricInfo:
    name: str
    rate: int                                 # the rate it scores at
    needs_reference: bool
    needs_transcript: bool
    higher_is_better: bool
    columns: tuple[str, ...]                  # sub-scores it returns, e.g. ("SIG", "BAK", "OVL")
    backends: tuple[str, ...]                 # available backends, first = offline default
    paper_backend: str                        # the backend the papers used
    description: str = ""
    assets: dict[str, tuple[str, ...]] = field(default_factory=dict)  # backend -> asset names
    extra: dict[str, str] = field(default_factory=dict)               # backend -> pip extra
    # backend -> rough CPU seconds per second of audio on one core (the demo's stages, bench/
    # results/bench_demo.json); scheduling only: a run starts its costliest metrics first so that
    # cheap ones fill the cores at the end. Absent: DEFAULT_COST.
    costs: dict[str, float] = field(default_factory=dict)
    devices: tuple[str, ...] = ("cpu",)       # device kinds it can compute on ("cpu", "cuda")
    aggregation: str = "mean"                 # "mean" over items, or "corpus": the ratios in `corpus`
    corpus: tuple[CorpusRatio, ...] = ()      # the corpus statistics, one per corpus-level column
    # True when the definition gives a meaningful value for an all-zero output (WER: all words
    # deleted); False: a silent output or reference is the item's error (benchmark.run.jobs)
    defined_for_silence: bool = False
    # backends that score each item at its file's own rate, not at `rate` (speechmetrics' pairing);
    # they record the rate they scored at in ItemScore.aux["rate"] (as every backend of a rate-0
    # metric does), and that is the rate a result row names
    own_rate_backends: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        bad = [d for d in self.devices if d not in DEVICES]
        if not self.devices or bad:
            raise ValueError(f"metric '{self.name}': devices must be a non-empty subset of {DEVICES}, "
                             f"got {self.devices}")
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"metric '{self.name}': aggregation must be one of {AGGREGATIONS}, "
                             f"got '{self.aggregation}'")
        if (self.aggregation == "corpus") != bool(self.corpus):
            raise ValueError(f"metric '{self.name}': aggregation 'corpus' needs its corpus statistics "
                             "(and only it has them)")
        unknown = [r.column for r in self.corpus if r.column not in self.columns]
        if unknown:
            raise ValueError(f"metric '{self.name}': corpus ratio for unknown column(s) {unknown}")

    def scores_at_own_rate(self, backend: str) -> bool:
        """True when `backend` scores each item at its file's rate (then aux["rate"] says which)."""
        return self.rate == 0 or backend in self.own_rate_backends

    def scored_rate(self, backend: str, aux: dict) -> int | None:
        """The rate an item was scored at: its aux["rate"] where recorded, the metric's fixed rate
        otherwise; None for an own-rate backend's item that was never scored."""
        if "rate" in aux:
            return int(aux["rate"])
        return None if self.scores_at_own_rate(backend) else self.rate

    def cost(self, backend: str) -> float:
        return self.costs.get(backend, DEFAULT_COST)

    def device_for(self, requested: str) -> str:
        """The device its jobs get for a requested one: the request if this metric can use that
        kind of device ("cuda:1" is kind "cuda"), else the CPU."""
        return requested if requested.split(":")[0] in self.devices else "cpu"

    def ratio(self, column: str) -> CorpusRatio | None:
        return next((r for r in self.corpus if r.column == column), None)

    @property
    def offline_backend(self) -> str:
        return self.backends[0]

    def backend_for(self, profile: str) -> str:
        return self.paper_backend if profile == "paper" else self.offline_backend


@dataclass
class MetricItem:
    """One item to score. Audio at any rate; the metric resamples to its own."""
    id: str
    audio: np.ndarray
    rate: int
    reference: np.ndarray | None = None
    reference_rate: int | None = None
    transcript: str | None = None


@dataclass
class ItemScore:
    values: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    aux: dict[str, float | str] = field(default_factory=dict)   # e.g. WER edit counts, hypothesis


class Metric:
    info: ClassVar[MetricInfo]

    def __init__(self, backend: str | None = None, device: str = "cpu"):
        self.backend = backend or self.info.offline_backend
        if self.backend not in self.info.backends:
            from benchmark.core.errors import BenchmarkError
            raise BenchmarkError(f"metric '{self.info.name}' has no backend '{self.backend}'; "
                                 f"choose from {', '.join(self.info.backends)}")
        self.device = device

    @property
    def backend_version(self) -> str:
        """Version string of the backend (package version / model file hash)."""
        return "unknown"

    def load(self) -> None:
        """Load models/assets once; raise AssetError / MissingDependencyError with a clear message."""

    def score(self, items: list[MetricItem]) -> list[ItemScore]:
        raise NotImplementedError

    def aggregate(self, scores: list[ItemScore]) -> dict[str, float]:
        """Set-level value per column, as `info.aggregation` says: the mean over scored items, or
        for a corpus column `scale * sum(numerator) / sum(denominator)` of the items' aux."""
        out: dict[str, float] = {}
        ok = [s for s in scores if s.error is None]
        for col in self.info.columns:
            r = self.info.ratio(col)
            if r is not None:
                have = [s for s in ok if r.numerator in s.aux and r.denominator in s.aux]
                den = sum(float(s.aux[r.denominator]) for s in have)
                num = sum(float(s.aux[r.numerator]) for s in have)
                out[col] = r.scale * num / den if den > 0 else float("nan")
                continue
            vals = [s.values[col] for s in ok if col in s.values]
            out[col] = float(np.mean(vals)) if vals else float("nan")
        return out

    # helpers -------------------------------------------------------------------------------
    def at_rate(self, x: np.ndarray, rate: int) -> np.ndarray:
        return resample(x, rate, self.info.rate)


def metric_version(metric: Metric) -> str:
    """The version recorded with a metric's scores and hashed into its cache key: its backend's
    `backend_version` (package version, model file hash). Every caller (the runner's plan, the
    `score` command) goes through this one function, so what a version names is decided here.
    Both call it on a loaded metric (the runner after its asset check), so a version may name the
    loaded model's file hash. The sha256 of the local file of every *unpinned* asset of the
    backend is appended where the backend's own version does not already name it: such a record
    pins nothing, so a swapped file must change the key (and be named with the scores)."""
    from benchmark.assets import asset_fingerprints
    version = str(metric.backend_version)
    files = asset_fingerprints(metric.info.assets.get(metric.backend, ()), unpinned_only=True)
    return version + "".join(f" [{n} sha256:{sha}]" for n, sha in sorted(files.items())
                             if sha[:12] not in version)


METRICS: Registry[Metric] = Registry("metrics", package="metrics")


# metric specs: `name` or `name:backend` -------------------------------------------------------
@dataclass(frozen=True)
class MetricSpec:
    """A metric chosen on the command line or by a table layout: `lsd` or `lsd:voicefixer2021`.
    backend None means "the profile's backend" (offline default, or the papers' with --profile paper)."""
    name: str
    backend: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name}:{self.backend}" if self.backend else self.name


def parse_metric_spec(text: str) -> MetricSpec:
    """`"lsd:voicefixer2021"` -> MetricSpec("lsd", "voicefixer2021"); `"dnsmos"` -> MetricSpec("dnsmos").
    Only the form is checked here; the registry checks that the metric and backend exist."""
    from benchmark.core.errors import BenchmarkError
    name, sep, backend = str(text).strip().partition(":")
    if not name or (sep and not backend) or ":" in backend:
        raise BenchmarkError(f"metric '{text}': expected NAME or NAME:BACKEND "
                             "(e.g. lsd or lsd:voicefixer2021)")
    return MetricSpec(name, backend or None)


def choose_backend(info: MetricInfo, requested: str | None, profile: str, explicit: bool) -> str:
    """The backend a spec runs with. Named on the command line (explicit): exactly that one. Named by
    a table layout (the backend its published numbers used): that one with --profile paper, and with
    --profile offline too when it needs no download and no extra (formula versions such as LSD's);
    otherwise the profile's backend (the report then footnotes the difference). Not named: the
    profile's backend."""
    from benchmark.core.errors import BenchmarkError
    if requested is not None and requested not in info.backends:
        raise BenchmarkError(f"metric '{info.name}' has no backend '{requested}'; "
                             f"choose from {', '.join(info.backends)}")
    if requested is None:
        return info.backend_for(profile)
    if explicit or profile == "paper" or not (info.assets.get(requested) or info.extra.get(requested)):
        return requested
    return info.backend_for(profile)
