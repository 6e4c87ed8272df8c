"""Clean training audio on disk: finding files, loading them at the model rate, cutting segments.
Shared by `prepare.py` (which cuts and encodes them) and `data.py` (which reads the shards)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.core.audio import read_audio, resample
from benchmark.core.errors import BenchmarkError

AUDIO_SUFFIXES = (".wav", ".flac")


def list_audio(dirs: list[str] | None, what: str) -> list[Path]:
    files: list[Path] = []
    for d in dirs or []:
        p = Path(d)
        if not p.exists():
            raise BenchmarkError(f"{what} folder {p} does not exist")
        files += sorted(f for f in ([p] if p.is_file() else p.rglob("*"))
                        if f.suffix.lower() in AUDIO_SUFFIXES)
    if dirs and not files:
        raise BenchmarkError(f"no .wav/.flac files found under the {what} folders {dirs}")
    return files


def load_at(path: Path, rate: int) -> np.ndarray:
    x, r = read_audio(path, mix_channels=True)
    return resample(x, r, rate)


def cut_segments(x: np.ndarray, n: int) -> list[np.ndarray]:
    """Non-overlapping segments of n samples; a tail shorter than n/2 is dropped, a file shorter
    than n is zero-padded to one segment."""
    if len(x) < n:
        return [np.pad(x, (0, n - len(x)))]
    segs = [x[i:i + n] for i in range(0, len(x) - n + 1, n)]
    tail = len(x) % n
    if tail >= n // 2:
        segs.append(np.pad(x[-tail:], (0, n - tail)))
    return segs
