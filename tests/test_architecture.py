"""The layering is checked, not just described: the import-linter contracts of pyproject.toml hold
on this tree, and each one breaks when a module violates it (shown on a copy of the tree)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("benchmark", "systems", "metrics", "testsets")
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    if not LINT.exists():
        pytest.fail(f"{LINT} is missing: install the dev extra (import-linter)")
    env = {**os.environ, "PYTHONPATH": str(cwd)}   # the tree under test, not an installed copy
    return subprocess.run([str(LINT), "--no-cache"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_import_contracts_are_kept():
    r = _lint(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Contracts: 4 kept, 0 broken." in r.stdout


def _copy_tree(dst: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", dst / "pyproject.toml")
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, dst / pkg, ignore=lambda d, names: [   # Python sources only
            n for n in names if n == "__pycache__" or not (n.endswith(".py") or (Path(d) / n).is_dir())])


def test_each_contract_breaks_on_a_violating_module(tmp_path):
    _copy_tree(tmp_path)
    assert _lint(tmp_path).returncode == 0            # the copy itself is clean
    # a metric that reads the report, the runner reading the report, a two-module cycle
    (tmp_path / "metrics" / "_leak.py").write_text("from benchmark.report import tables\n")
    (tmp_path / "benchmark" / "run" / "_upward.py").write_text("import benchmark.report.results\n")
    (tmp_path / "testsets" / "_cycle_a.py").write_text("from testsets import _cycle_b\n")
    (tmp_path / "testsets" / "_cycle_b.py").write_text(
        "def f():\n    from testsets import _cycle_a   # a function-level import counts too\n")
    with open(tmp_path / "systems" / "masksr" / "sampler.py", "a") as f:   # inference -> trainer
        f.write("\n\ndef _leak():\n    from systems.masksr import trainer\n")
    r = _lint(tmp_path)
    out = r.stdout
    assert r.returncode == 1, out + r.stderr
    assert "Contracts: 0 kept, 4 broken." in out
    assert "metrics._leak -> benchmark.report.tables" in out
    assert "benchmark.run._upward -> benchmark.report.results" in out
    assert "No cycles are allowed in testsets" in out and "_cycle_a" in out
    assert "systems.masksr.sampler -> systems.masksr.trainer" in out


def test_default_metrics_of_a_set_are_the_metrics_its_paper_table_lays_out():
    """One statement of which metrics a paper table shows (benchmark.run.layouts): every set a
    layout names is a registered builder, and the runner's default metrics are the layouts'
    columns, in order, with the backends the published numbers used."""
    from benchmark.run.layouts import LAYOUTS
    from benchmark.run.plan import table_metrics as default_metrics
    from testsets import TESTSETS
    assert {n for layout in LAYOUTS for n in layout.testsets} == {n for n, _ in TESTSETS}
    assert default_metrics(["sr"]) == ["dnsmos", "nisqa", "lsd:voicefixer2022", "spk_sim",
                                       "lsd:voicefixer2021", "sispnr:voicefixer2021", "ssim"]
    assert default_metrics(["decli"]) == ["si_snr:speechmetrics", "stoi:speechmetrics", "pesq:speechmetrics"]
    assert default_metrics(["derev"]) == ["pesq:speechmetrics", "sispnr:voicefixer2021"]
    assert default_metrics(["dns2020"]) == ["dnsmos", "spk_sim"]
    assert default_metrics(["vctk_gsr", "libri_noisy"]) == ["dnsmos", "nisqa", "lsd:voicefixer2022", "wer",
                                                            "spk_sim"]
    assert default_metrics(["a_set_built_by_hand"]) == []
