"""One registry mechanism for systems, metrics and test sets.

Built-in plugins are the modules of a package (every module and subpackage whose name does not
start with "_"), imported on first use, so plugin modules keep heavy imports inside functions; third-party
plugins are Python entry points in the group `benchmark.<kind>` whose value is a module (that
registers on import) or a class with an `info` attribute. Metadata is a typed dataclass.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from benchmark.core.errors import BenchmarkError

T = TypeVar("T")


class UnknownEntryError(BenchmarkError):
    pass


class DuplicateEntryError(BenchmarkError, ValueError):
    """One name registered by two plugins: raised when the name is used, naming both sources."""


def _source(cls: type, ep: Any = None) -> str:
    """Where a plugin class comes from, in words: its module, and the entry point that loaded it."""
    where = f"{cls.__module__}.{cls.__qualname__}"
    if ep is None:
        return f"{where} (built in)"
    dist = getattr(ep, "dist", None)
    pkg = f", distribution {dist.name} {dist.version}" if dist is not None else ""
    value, group = getattr(ep, "value", "?"), getattr(ep, "group", "?")
    return f"{where} (entry point '{ep.name} = {value}' in group '{group}'{pkg})"


class Registry(Generic[T]):
    """Name -> plugin class. Each class carries a typed `info` with at least a `name` field."""

    def __init__(self, kind: str, package: str | None = None):
        self.kind = kind
        self.group = f"benchmark.{kind}"
        self._package = package
        self._entries: dict[str, type[T]] = {}
        self._loaded = False
        self.load_errors: dict[str, str] = {}
        self.conflicts: dict[str, str] = {}       # name -> the message naming both sources
        self._loading: Any = None                 # the entry point being loaded, if any
        self._sources: dict[str, str] = {}        # name -> where its class came from

    def register(self, cls: type[T]) -> type[T]:
        """Class decorator: register `cls` under `cls.info.name`."""
        info = getattr(cls, "info", None)
        name = getattr(info, "name", None)
        if not name:
            raise TypeError(f"{cls!r} has no `info.name`; cannot register it as a {self.kind} plugin")
        existing = self._entries.get(name)
        if existing is not None and existing is not cls:
            if f"{existing.__module__}.{existing.__qualname__}" != f"{cls.__module__}.{cls.__qualname__}":
                message = (f"{self.kind[:-1] if self.kind.endswith('s') else self.kind} '{name}' is "
                           f"registered twice: by {self._sources.get(name) or _source(existing)} and by "
                           f"{_source(cls, self._loading)}. "
                           "Rename or uninstall one of them; nothing was done")
                if self._loading is None:           # two built-ins: a bug in the harness itself
                    raise DuplicateEntryError(message)
                self.conflicts[name] = message      # a third-party plugin: refused when the name is used
                self.load_errors[self._loading.name] = message
                return cls
        self._sources[name] = _source(cls, self._loading)
        self._entries[name] = cls
        return cls

    def add(self, name: str, factory: Callable[[], type[T]]) -> None:
        """Register the class `factory()` builds (a parametrised variant) under `name`. The
        factory is called here, at registration (its plugin module's import), not on first use."""
        self._entries[name] = factory()

    def unregister(self, name: str) -> None:
        """Remove `name` (tests take out the plugins they registered); an absent name is ignored."""
        self._entries.pop(name, None)

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if self._package:
            pkg = importlib.import_module(self._package)
            for mod in pkgutil.iter_modules(pkg.__path__):
                if mod.name.startswith("_"):
                    continue
                importlib.import_module(f"{self._package}.{mod.name}")
        for ep in entry_points(group=self.group):
            self._loading = ep      # a module that registers on import is attributed to `ep`
            try:
                obj: Any = ep.load()
                if isinstance(obj, type) and hasattr(obj, "info"):
                    self.register(obj)
            except Exception as exc:  # a broken third-party plugin must not break the harness
                self.load_errors[ep.name] = f"{type(exc).__name__}: {exc}"
            finally:
                self._loading = None

    def get(self, name: str) -> type[T]:
        self._load()
        if name in self.conflicts:
            raise DuplicateEntryError(self.conflicts[name])
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "(none registered yet)"
            hint = f"; failed plugins: {self.load_errors}" if self.load_errors else ""
            raise UnknownEntryError(f"unknown {self.kind[:-1] if self.kind.endswith('s') else self.kind} "
                                    f"'{name}'. Known: {known}{hint}") from None

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[tuple[str, type[T]]]:
        self._load()
        return iter(sorted(self._entries.items()))

    def __len__(self) -> int:
        self._load()
        return len(self._entries)
