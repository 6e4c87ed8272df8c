"""Test-only plugins that break the plugin contract or hang (tests/test_hardening_contract.py and
tests/test_hardening_processes.py). Run as a script it registers them, with runner_support's, and
runs the CLI; spawned pool workers import it as `__mp_main__` and register them too."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for p in (str(ROOT), str(ROOT / "tests")):
    if p not in sys.path:
        sys.path.insert(0, p)

import runner_support as rs  # noqa: E402

from metrics.base import METRICS, ItemScore, Metric, MetricInfo  # noqa: E402
from systems.base import SYSTEMS, System, SystemInfo  # noqa: E402

PIDS_ENV = "INTEGRITY_TEST_PIDS"     # file the hanging system appends its worker's pid to


def _system(name: str, fn):
    class _S(System):
        info = SystemInfo(name=name, version="1", rate=16000, description=f"test: {name}",
                          backend="numpy", max_batch=4)

        def restore(self, items):
            return fn(items)
    _S.__name__ = _S.__qualname__ = f"System_{name}"
    return _S


def _metric(name: str, value):
    class _M(Metric):
        info = MetricInfo(name=name, rate=16000, needs_reference=False, needs_transcript=False,
                          higher_is_better=True, columns=("v",), backends=("numpy",),
                          paper_backend="numpy")

        @property
        def backend_version(self) -> str:
            return "1"

        def score(self, items):
            return [ItemScore(values={"v": value}) for _ in items]
    _M.__name__ = _M.__qualname__ = f"Metric_{name}"
    return _M


def _hang(items):
    path = os.environ.get(PIDS_ENV)
    if path:
        with open(path, "a") as f:
            f.write(f"{os.getpid()}\n")
    if any(it.id.endswith(os.environ.get("INTEGRITY_HANG_SUFFIX", "")) for it in items):
        time.sleep(3600)               # a plugin call that never returns
    return [it.audio for it in items]


SYSTEMS_ = (
    _system("t_int16", lambda items: [np.round(it.audio * 32767).astype(np.int16) for it in items]),
    _system("t_short", lambda items: [it.audio[: it.audio.size // 2] for it in items]),
    _system("t_none", lambda items: [None for _ in items]),
    _system("t_long1", lambda items: [np.pad(it.audio, (0, 100)) for it in items]),
    _system("t_hang", _hang),
)
METRICS_ = (_metric("t_mnone", None), _metric("t_mstr", "4.2"), _metric("t_mnan", float("nan")),
            _metric("t_minf", float("inf")))


def register() -> None:
    rs.register()
    for cls in SYSTEMS_:
        SYSTEMS.register(cls)
    for cls in METRICS_:
        METRICS.register(cls)


def unregister() -> None:
    rs.unregister()
    for cls in SYSTEMS_ + METRICS_:
        (SYSTEMS if cls in SYSTEMS_ else METRICS)._entries.pop(cls.info.name, None)


if __name__ in ("__main__", "__mp_main__"):
    register()

if __name__ == "__main__":
    from benchmark.cli import main
    raise SystemExit(main(sys.argv[1:]))
