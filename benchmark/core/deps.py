"""Optional heavy dependencies are imported through `require`, which names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from benchmark.core.errors import MissingDependencyError


def require(module: str, extra: str, purpose: str = "") -> ModuleType:
    """Import `module` or raise one clear error naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        what = f" (needed for {purpose})" if purpose else ""
        raise MissingDependencyError(
            f"Python module '{module}' is not installed{what}. "
            f"Install the '{extra}' extra: pip install -e '.[{extra}]'  ({exc})"
        ) from exc
