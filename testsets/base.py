"""The test-set builder interface. A builder draws every item's parameters into a manifest
first, then renders audio from the manifest alone (so a manifest re-renders the set)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

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
    optional_corpora: tuple[str, ...] = ()   # read when found (the published source), else a stand-in
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
    source: str = "rebuild"             # "rebuild" (from raw corpora) or "official" (a release)
    rirs: str | None = None             # RIR source of the reverberant sets (None: the default)
    # How reverberant inputs are aligned with the dry target (testsets.distortions.REVERB_ALIGNMENTS;
    # None: "none", as voicefixer_main's reverb_rir, magical_effects.py L158-165 @ 0c206f7)
    reverb_alignment: str | None = None
    rooms: str | None = None            # vctk_gsr rooms: "whamr_csv" (default) or "simulate"


class TestSetBuilder:
    info: ClassVar[TestSetInfo]
    sources: ClassVar[tuple[str, ...]] = ("rebuild",)     # the --source values it accepts
    # How rendered samples are stored: "float32" (lossless), or "pcm16_voicefixer" for the
    # VoiceFixer recipes, whose generation code and released sets are 16-bit PCM
    # (testsets.engine.voicefixer_pcm16). The quantisation floor is part of what LSD measures.
    sample_format: ClassVar[str] = "float32"

    def build(self, opts: BuildOptions) -> Path:
        """Build the set; return its folder."""
        raise NotImplementedError

    def render_item(self, corpora: Path, set_dir: Path, item) -> dict | None:
        """Write one item's files; return what the rendering measured (or None)."""
        raise NotImplementedError

    def constants(self) -> dict[str, Any]:
        """The recipe constants the rendered bytes depend on (recorded in info.json)."""
        return {}


DEFAULT_REVERB_ALIGNMENT = "none"


def reverb_alignment(opts: BuildOptions) -> str:
    """The alignment this build uses (checked against testsets.distortions.REVERB_ALIGNMENTS)."""
    from benchmark.core.errors import BenchmarkError
    from testsets.distortions import REVERB_ALIGNMENTS
    value = opts.reverb_alignment or DEFAULT_REVERB_ALIGNMENT
    if value not in REVERB_ALIGNMENTS:
        raise BenchmarkError(f"--reverb-alignment must be one of {', '.join(REVERB_ALIGNMENTS)}, "
                             f"got {value!r}")
    return value


TESTSETS: Registry[TestSetBuilder] = Registry("testsets", package="testsets")
