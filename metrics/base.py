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
