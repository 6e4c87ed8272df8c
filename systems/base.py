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

from benchmark.assets import asset_fingerprints
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

    @classmethod
    def keyed_info(cls, config: dict[str, Any]) -> SystemInfo:
        """The info its outputs are keyed (`system_key`) and stored under, from the config and local
        files without loading: `info`, unless what `load` will pick changes the outputs and can be
        told beforehand (the MaskSR plugins name the checkpoint's weights, EMA or live, in the
        version, as their loaded instance's `info` does)."""
        return cls.info

    def load(self) -> None:
        """Load weights (through `benchmark.assets`); called once before the first batch."""

    def restore(self, items: list[RestoreItem]) -> list[np.ndarray]:
        """Return one float32 mono waveform at `info.rate` per item, same order."""
        raise NotImplementedError

    def cache_key(self) -> str:
        return system_key(self.info, self.config)


def system_key(info: SystemInfo, config: dict[str, Any]) -> str:
    """Identifies a system's outputs for caching: name + version + config, plus the sha256 of the
    local file of every *unpinned* asset the system uses (a record without a published hash pins
    nothing, so a swapped file must give new outputs, not the cached ones). From the info and the
    config alone, so the runner keys its outputs without constructing the system."""
    payload: dict[str, Any] = {"name": info.name, "version": info.version,
                               "config": dict(config or {})}
    files = asset_fingerprints(info.assets, unpinned_only=True)
    if files:
        payload["unpinned_assets"] = files
    blob = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def check_state_dict(expected: dict[str, Any], got: dict[str, Any], what: str, *,
                     ignore_prefixes: tuple[str, ...] = ()) -> None:
    """Strict checkpoint check: the keys and shapes of `got` must be exactly those of `expected`
    (a model's `state_dict()`); keys under `ignore_prefixes` are skipped on both sides. Packages
    that load with strict=False or fill gaps from a fresh model would otherwise run with random
    weights for every renamed key. Raises BenchmarkError naming the offending keys."""
    from benchmark.core.errors import BenchmarkError

    def keep(k: str) -> bool:
        return not k.startswith(ignore_prefixes) if ignore_prefixes else True
    want = {k for k in expected if keep(k)}
    have = {k for k in got if keep(k)}
    missing, unexpected = sorted(want - have), sorted(have - want)
    shapes = sorted(k for k in want & have
                    if tuple(getattr(expected[k], "shape", ())) != tuple(getattr(got[k], "shape", ())))
    if missing or unexpected or shapes:
        def few(keys: list[str]) -> str:
            return ", ".join(keys[:5]) + (f" (+{len(keys) - 5} more)" if len(keys) > 5 else "")
        parts = ([f"missing keys {few(missing)}"] if missing else []) + \
                ([f"unexpected keys {few(unexpected)}"] if unexpected else []) + \
                ([f"wrong shapes for {few(shapes)}"] if shapes else [])
        raise BenchmarkError(f"{what} does not match the model: " + "; ".join(parts))


SYSTEMS: Registry[System] = Registry("systems", package="systems")


@dataclass
class SystemSpec:
    """A system selected on the command line (name + optional checkpoint/config overrides)."""
    name: str
    config: dict[str, Any] = field(default_factory=dict)
