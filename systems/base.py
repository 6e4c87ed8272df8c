"""The system plugin interface: a restoration system restores a batch of waveforms at its own rate.

The runner resamples inputs to `info.rate` and outputs back (one resampler, `benchmark.core.audio`),
times each call and caches outputs; systems never resample themselves.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from benchmark.core.registry import Registry


@dataclass(frozen=True)
class SystemInfo:
    name: str
    version: str
    rate: int                                  # native sample rate the system consumes/produces
    description: str
    backend: str                               # "onnxruntime", "torch", "identity", ...
    assets: tuple[str, ...] = ()               # asset-registry names it needs (checked before work)
    devices: tuple[str, ...] = ("cpu",)        # "cpu", "cuda"
    max_batch: int = 1                         # items per restore() call (1 = one at a time)
    needs_target: bool = False                 # oracle systems ("target", "target_dac")
    paper_row: str = ""                        # row name in the papers' tables, if any
    extra: str = ""                            # pip extra that provides its Python dependencies


@dataclass
class RestoreItem:
    """One input to restore: degraded audio at the system's rate (+ the target for oracles)."""
    id: str
    audio: np.ndarray
    target: np.ndarray | None = None


class System:
    """Base class. Subclasses set `info` and implement `restore`; heavy imports go in `load`."""

    info: ClassVar[SystemInfo]

    def __init__(self, device: str = "cpu", config: dict[str, Any] | None = None):
        self.device = device
        self.config: dict[str, Any] = dict(config or {})

    @classmethod
    def prerequisites(cls, config: dict[str, Any]) -> list[str]:
        """What this system needs beyond its `info.assets` and lacks now, one line each with the
        command that provides it (e.g. a trained checkpoint). The runner checks it before any
        work or download, with the assets and test sets, and reports everything at once."""
        return []

    def load(self) -> None:
        """Load weights (through `benchmark.assets`); called once before the first batch."""

    def restore(self, items: list[RestoreItem]) -> list[np.ndarray]:
        """Return one float32 mono waveform at `info.rate` per item, same order."""
        raise NotImplementedError

    def cache_key(self) -> str:
        return system_key(self.info, self.config)


def system_key(info: SystemInfo, config: dict[str, Any]) -> str:
    """Identifies a system's outputs for caching: name + version + config. From the info and the
    config alone, so the runner keys its outputs without constructing the system."""
    blob = json.dumps({"name": info.name, "version": info.version, "config": dict(config or {})},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


SYSTEMS: Registry[System] = Registry("systems", package="systems")


@dataclass
class SystemSpec:
    """A system selected on the command line (name + optional checkpoint/config overrides)."""
    name: str
    config: dict[str, Any] = field(default_factory=dict)
