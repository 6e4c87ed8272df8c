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


class TransientIOError(BenchmarkError):
    """The machine, not the item: a full disk (ENOSPC), a file-size limit (EFBIG), a quota, a
    failing device (EIO)... Named in the message, never stored as an item's error: the run stops
    with finished work kept and the same command continues once the cause is fixed."""


class UnsafePathError(BenchmarkError):
    """A path (manifest entry, run name) that would reach outside the folder it belongs to."""


class RunInUseError(BenchmarkError):
    """Another invocation holds the run's (or report folder's) lock."""
