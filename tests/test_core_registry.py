from dataclasses import dataclass

import pytest

from benchmark.core.registry import Registry, UnknownEntryError


@dataclass(frozen=True)
class Info:
    name: str


def test_register_get_and_unknown():
    reg = Registry("widgets")

    @reg.register
    class A:
        info = Info("a")

    assert reg.get("a") is A and "a" in reg and reg.names() == ["a"]
    with pytest.raises(UnknownEntryError, match="unknown widget 'b'. Known: a"):
        reg.get("b")
    with pytest.raises(ValueError, match="widget 'a' is registered twice: by .*A \\(built in\\) and by"):
        @reg.register
        class B:
            info = Info("a")


def test_entry_points_are_loaded(monkeypatch):
    import benchmark.core.registry as mod

    class Plugin:
        info = Info("third_party")

    class EP:
        name = "third_party"

        def load(self):
            return Plugin

    class Broken:
        name = "broken"

        def load(self):
            raise ImportError("no module named foo")

    monkeypatch.setattr(mod, "entry_points", lambda group: [EP(), Broken()] if group == "benchmark.things" else [])
    reg = Registry("things")
    assert reg.get("third_party") is Plugin
    assert "broken" in reg.load_errors and "no module named foo" in reg.load_errors["broken"]


def test_builtin_registries_import():
    from metrics import METRICS
    from systems import SYSTEMS
    from testsets import TESTSETS
    for reg in (SYSTEMS, METRICS, TESTSETS):
        reg.names()  # imports every built-in plugin module without error


def _third_party(site, module: str, body: str, group: str, name: str, value: str) -> None:
    """An installed third-party distribution (dist-info with entry points) under `site`."""
    (site / f"{module}.py").write_text(body)
    dist = site / "thirdparty-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{group}]\n{name} = {value}\n")


PLUGIN = """
from metrics.base import Metric, MetricInfo
class LSD(Metric):
    info = MetricInfo(name="lsd", rate=16000, needs_reference=False, needs_transcript=False,
                      higher_is_better=False, columns=("x",), backends=("numpy",), paper_backend="numpy")
"""


def test_a_third_party_name_clashing_with_a_builtin_is_one_message(tmp_path):
    """The audit's case through the real CLI: an entry point named like a built-in metric. Every
    command still works; using the name is one message naming both sources, no traceback."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    site = tmp_path / "site"
    site.mkdir()
    _third_party(site, "thirdparty_lsd", PLUGIN, "benchmark.metrics", "lsd", "thirdparty_lsd:LSD")
    env = dict(os.environ, PYTHONPATH=f"{root}{os.pathsep}{site}", BENCHMARK_DATA=str(tmp_path / "d"),
               BENCHMARK_NO_PROGRESS="1")

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "benchmark", *args], cwd=root, env=env,
                              capture_output=True, text=True, timeout=300)

    listed = cli("metrics", "list")
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    both = ("metric 'lsd' is registered twice: by metrics.lsd.LSD (built in) and by "
            "thirdparty_lsd.LSD (entry point 'lsd = thirdparty_lsd:LSD' in group 'benchmark.metrics', "
            "distribution thirdparty 1.0). Rename or uninstall one of them; nothing was done")
    assert both in listed.stdout + listed.stderr
    wav = root.parent / "shared" / "data" / "corpora" / "VoiceBank-DEMAND" / "noisy_testset_wav" / "p287_001.wav"
    used = cli("score", "--metrics", "lsd", "--degraded", str(wav), "--reference", str(wav))
    assert used.returncode == 2 and "Traceback" not in used.stderr
    assert used.stderr.strip() == f"error: {both}"
def test_unregister_takes_a_plugin_out():
    reg = Registry("widgets")

    @reg.register
    class A:
        info = Info("a")

    reg.unregister("a")
    reg.unregister("never_registered")                 # absent: nothing to do
    assert "a" not in reg and reg.names() == []
    with pytest.raises(UnknownEntryError):
        reg.get("a")
    assert reg.register(A) is A and reg.get("a") is A  # and it can come back
