"""Byte-reproducible WAV writing for test sets: `benchmark.audio.write_audio`'s float WAVs carry
libsndfile's PEAK chunk, whose 4-byte timestamp (seconds since 1970) makes two renders of the
same audio differ; we zero that timestamp so that same input => same bytes, on any machine."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from benchmark.audio import write_audio


def _zero_peak_timestamp(path: Path) -> None:
    with open(path, "r+b") as f:
        head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        pos = 12
        while True:
            f.seek(pos)
            hdr = f.read(8)
            if len(hdr) < 8:
                return
            cid, size = hdr[:4], struct.unpack("<I", hdr[4:])[0]
            if cid == b"PEAK":
                f.seek(pos + 8 + 4)          # after the version field
                f.write(b"\0\0\0\0")
                return
            if cid == b"data":
                return                       # PEAK precedes data when present
            pos += 8 + size + (size & 1)


def write_wav(path: str | Path, x: np.ndarray, rate: int) -> Path:
    path = write_audio(path, x, rate)
    _zero_peak_timestamp(path)
    return path
