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
    with pytest.raises(ValueError, match="registered twice"):
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
