"""The test-set builder interface. A builder draws every item's parameters into a manifest
first, then renders audio from the manifest alone (so a manifest re-renders the set)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from benchmark.core.registry import Registry


@dataclass(frozen=True)
class TestSetInfo:
    name: str
    description: str
    rate: int                           # rate of the degraded audio
    corpora: tuple[str, ...]            # corpus folder names under BENCHMARK_CORPORA it reads
    paper: str                          # where the recipe comes from (seed + section)
    default_items: int | None           # paper item count (None: everything the corpus has)
    default_seed: int = 0
    version: str = "1"
    # The metrics the papers report on this set (their table's columns, in order): what a run
    # scores when no --metrics are given. benchmark.report.tables lays the same metrics out.
    metrics: tuple[str, ...] = ()


@dataclass
class BuildOptions:
    corpora: Path
    out: Path                           # the set is written to out/<name>/
    items: int | None = None
    seed: int | None = None
    workers: int = 2
    allow_repeat: bool = False


class TestSetBuilder:
    info: ClassVar[TestSetInfo]

    def build(self, opts: BuildOptions) -> Path:
        """Build the set; return its folder."""
        raise NotImplementedError


TESTSETS: Registry[TestSetBuilder] = Registry("testsets", package="testsets")
