"""User-facing errors: each one carries a single clear message the CLI prints without a traceback."""

from __future__ import annotations


class BenchmarkError(Exception):
    """A failure the user can cause and fix (missing corpus, bad file, missing weights...)."""


class AudioError(BenchmarkError):
    """An audio file or array that cannot be used as it is."""


class AssetError(BenchmarkError):
    """A weight file or corpus that is missing, incomplete or corrupted."""


class MissingDependencyError(BenchmarkError):
    """An optional Python package (an extra) that is not installed."""
