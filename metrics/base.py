"""The metric plugin interface: a metric scores a batch of items and never raises per item.

Each metric declares typed metadata (`MetricInfo`), resamples through `benchmark.core.audio.resample`
to `info.rate`, and returns one `ItemScore` per item: values per column, or an error string.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from benchmark.core.audio import resample
from benchmark.core.registry import Registry


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
        """Set-level value per column; default the mean over scored items (WER overrides)."""
        out: dict[str, float] = {}
        for col in self.info.columns:
            vals = [s.values[col] for s in scores if s.error is None and col in s.values]
            out[col] = float(np.mean(vals)) if vals else float("nan")
        return out

    # helpers -------------------------------------------------------------------------------
    def at_rate(self, x: np.ndarray, rate: int) -> np.ndarray:
        return resample(x, rate, self.info.rate)


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
