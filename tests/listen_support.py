"""A small real run for the listening-page and plot tests: the hand-made VoiceBank (16 kHz) and
VCTK (48 kHz) sets of runner_support plus the real `sr` builder (one utterance per low rate),
restored by the identity baselines, the x0.5 test system and the failing test system, scored by
the test metrics and the runner's per-item timings, with the runtime protocol measured on t_half."""

from __future__ import annotations

import runner_support as rs

from benchmark.cli import main
from benchmark.core import paths
from benchmark.run.runner import RunConfig, Runner
from systems.base import SystemSpec

RUN = "listen"
SYSTEMS = ["unprocessed", "target", "t_half", "t_bad"]


def make_run(corpora, monkeypatch, with_sr: bool = True, runtime: bool = True) -> str:
    monkeypatch.setenv("BENCHMARK_CORPORA", str(corpora))
    root = paths.testsets_dir()
    rs.make_vb_set(corpora, root, n=6)
    rs.make_vctk_set(corpora, root, n=3)
    sets = ["vb_pairs", "vctk_mini"]
    if with_sr:
        assert main(["testsets", "build", "sr", "--items", "1", "--workers", "1"]) == 0
        sets.append("sr")
    cfg = RunConfig(name=RUN, systems=[SystemSpec(s) for s in SYSTEMS], testsets=sets,
                    metrics=["t_snr", "t_rms"], profile="offline")
    Runner(cfg).run(argv=["test"])
    if runtime:
        assert main(["runtime", "--systems", "t_half", "--lengths", "0.5", "1", "2",
                     "--repeats", "3", "--name", RUN]) == 0
    return RUN
