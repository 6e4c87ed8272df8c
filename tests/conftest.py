"""Shared fixtures: the real mini corpora and weight mirror in ../shared/data (never copied)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = (ROOT.parent / "shared" / "data").resolve()
CORPORA = SHARED / "corpora"
ASSET_MIRROR = SHARED / "assets"

os.environ.setdefault("BENCHMARK_NO_PROGRESS", "1")

# Under pytest-xdist (`make test`: 2 workers) each worker's numeric libraries get an equal share of
# the cores (1 thread each on 2 cores): 2 workers at N intra-op threads each would oversubscribe.
# Set before torch / numpy are imported; subprocesses the tests start inherit it.
if _workers := int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")):
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_var, str(max(1, (os.cpu_count() or 1) // _workers)))


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"test data missing: {path} (the repo expects ../shared/data beside it)")
    return path


@pytest.fixture(scope="session")
def corpora() -> Path:
    return _need(CORPORA)


@pytest.fixture(scope="session")
def asset_mirror() -> Path:
    return _need(ASSET_MIRROR)


@pytest.fixture
def isolated_env(tmp_path, monkeypatch):
    """Fresh cache/data/report folders for one test; no mirror unless the test sets one."""
    monkeypatch.setenv("BENCHMARK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("BENCHMARK_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("BENCHMARK_REPORTS", str(tmp_path / "reports"))
    monkeypatch.delenv("BENCHMARK_ASSET_MIRROR", raising=False)
    monkeypatch.setenv("BENCHMARK_OFFLINE", "1")
    return tmp_path


@pytest.fixture
def plugins(monkeypatch, tmp_path):
    """The runner's test plugins (tests/runner_support.py) registered; yields their call log.
    Test files that need other plugins define their own `plugins` fixture (it takes precedence)."""
    import runner_support as rs
    rs.register()
    calls = tmp_path / "calls.log"
    monkeypatch.setenv(rs.CALLS_ENV, str(calls))
    yield calls
    rs.unregister()


@pytest.fixture
def one_torch_thread():
    """torch on one intra-op thread for the test (the MaskSR tests: 2 shared cores, where one
    intra-op thread avoids oversubscription), restored afterwards."""
    import torch
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
