"""A listening test's design: its manifest (`manifest.json` in the test folder) and the order in
which each listener hears the stimuli.

The manifest is the test's single source of truth: the run and test set it was built from, the
conditions (anonymous codes C1..Cn and the system behind each, which the listener never sees),
every stimulus file with its kind (rating / gold / trap), condition, item, expected answer and
loudness record, and the listener tokens. Stimulus files are named by an opaque hash, so neither
the URL nor the file name tells a listener which system produced it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from benchmark.core.errors import BenchmarkError
from benchmark.core.files import atomic_write
from benchmark.core.paths import data_dir

MANIFEST = "manifest.json"
STIMULI = "stimuli"
FORMAT = 1
UNPROCESSED = "Unprocessed"     # the test set's degraded input
TARGET = "Target"               # the test set's clean reference: the hidden reference
STIMULUS_NAME = re.compile(r"^[0-9a-f]{16}\.wav$")

# ITU-T P.808 ACR listening-quality scale, worded as in microsoft/P.808
# src/P808Template/ACR_template.html (commit 5b8c00a0654d836dbbd86cafab570fbab350f1ad).
QUESTION = "How do you rate the overall quality of the following speech sample?"
SCALE = ((5, "Excellent"), (4, "Good"), (3, "Fair"), (2, "Poor"), (1, "Bad"))
LABELS = dict(SCALE)


@dataclass(frozen=True)
class Condition:
    code: str            # what the report may show before de-anonymising: C1, C2, ...
    system: str          # Unprocessed, Target or a system name of the run
    role: str            # "anchor" (Unprocessed), "reference" (Target, hidden) or "system"


@dataclass(frozen=True)
class Stimulus:
    id: str              # 16 hex digits; the file is stimuli/<id>.wav
    kind: str            # rating | gold | trap
    item: str            # the test-set item the audio comes from
    condition: str | None = None   # condition code (rating stimuli)
    answer: int | None = None      # expected score (gold: +-tolerance, trap: exact)
    source: str = ""               # the audio file it was made from
    source_sha256: str = ""
    sha256: str = ""               # of the stimulus file as written
    duration: float = 0.0
    loudness_in: float | None = None   # LUFS of the source (BS.1770)
    loudness_out: float | None = None  # LUFS as written
    gain_db: float = 0.0
    peak_limited: bool = False     # the target loudness would have clipped: gain reduced

    @property
    def file(self) -> str:
        return f"{STIMULI}/{self.id}.wav"


@dataclass(frozen=True)
class Screening:
    """P.808-style listener screening (microsoft/P.808 src/assets_master_script/
    acr_result_parser_template.cfg at 5b8c00a: gold `variance: 1`, `correct_tps_bigger_equal: 1`,
    `variance_bigger_equal: 0.1`; the variance is src/result_parser.py check_variance's:
    statistics.variance (N-1) of the session's answers other than gold and trap)."""
    gold_tolerance: int = 1      # a gold answer within +-1 of the expected score passes
    trap_tolerance: int = 0      # a trap must be answered with exactly the score it asks for
    min_variance: float = 0.1    # the listener's rating-stimulus scores must vary at least this

    def rule(self) -> str:
        return (f"a listener is kept only when they finished every trial, every trapping question "
                f"was answered {'with exactly' if not self.trap_tolerance else f'within ±{self.trap_tolerance} of'} "
                f"the score its message asks for, every gold question "
                f"within ±{self.gold_tolerance} of its expected score, and the variance of their "
                f"scores on rating stimuli is at least {self.min_variance:g} (not one score for "
                "everything); rules of microsoft/P.808's ACR result parser")


@dataclass
class TestDesign:
    name: str
    run: str
    testset: str
    seed: int
    rate: int
    loudness_lufs: float
    items: list[str]
    conditions: list[Condition]
    stimuli: list[Stimulus]
    listeners: list[str]
    screening: Screening = field(default_factory=Screening)
    created: float = 0.0
    notes: list[str] = field(default_factory=list)
    format: int = FORMAT

    # --- look-ups -------------------------------------------------------------------------
    def stimulus(self, sid: str) -> Stimulus:
        for s in self.stimuli:
            if s.id == sid:
                return s
        raise KeyError(sid)

    def by_id(self) -> dict[str, Stimulus]:
        return {s.id: s for s in self.stimuli}

    def condition(self, code: str) -> Condition:
        return next(c for c in self.conditions if c.code == code)

    def system_of(self, code: str | None) -> str | None:
        return None if code is None else self.condition(code).system

    def order(self, listener: str) -> list[str]:
        """The stimulus ids in the order `listener` hears them: every stimulus once, shuffled by
        a generator seeded from (test seed, listener); the same listener always gets the same
        order, so a listener who leaves resumes at the same place."""
        h = hashlib.sha256(f"{self.seed}|{self.name}|{listener}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(h[:8], "little"))
        ids = [s.id for s in self.stimuli]
        return [ids[i] for i in rng.permutation(len(ids))]

    # --- I/O ------------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> TestDesign:
        if d.get("format") != FORMAT:
            raise BenchmarkError(f"listening-test manifest format {d.get('format')!r} is not "
                                 f"{FORMAT}; rebuild the test with `listen-test create`")
        d = dict(d)
        d["conditions"] = [Condition(**c) for c in d["conditions"]]
        d["stimuli"] = [Stimulus(**s) for s in d["stimuli"]]
        d["screening"] = Screening(**d.get("screening", {}))
        return cls(**d)


def tests_dir() -> Path:
    return data_dir() / "listening_tests"


def test_folder(test: str | Path) -> Path:
    """TEST on the command line: a folder holding manifest.json, or a test name under
    $BENCHMARK_DATA/listening_tests/."""
    p = Path(test)
    if (p / MANIFEST).exists():
        return p
    q = tests_dir() / str(test)
    if (q / MANIFEST).exists():
        return q
    raise BenchmarkError(f"no listening test '{test}': neither {p / MANIFEST} nor {q / MANIFEST} "
                         "exists (build one with `python -m benchmark listen-test create RUN ...`)")


def load_design(folder: Path) -> TestDesign:
    try:
        return TestDesign.from_dict(json.loads((folder / MANIFEST).read_text()))
    except (OSError, json.JSONDecodeError, TypeError) as exc:
        raise BenchmarkError(f"cannot read the listening-test manifest {folder / MANIFEST}: {exc}") from exc


def save_design(design: TestDesign, folder: Path) -> Path:
    path = folder / MANIFEST
    return atomic_write(path, design.to_json())
