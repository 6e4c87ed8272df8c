"""Audio I/O and resampling: the one reader, the one (atomic) writer and the one resampler.

Everything in the harness passes audio around as float32 mono numpy arrays plus a rate.
Resampling uses soxr at quality "VHQ" (very high quality: 0.0 dB passband ripple, ~175 dB
stop-band rejection, linear phase); it is the only resampler in the code base.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from benchmark.core.errors import AudioError

RESAMPLE_QUALITY = "VHQ"
SUPPORTED_SUFFIXES = (".wav", ".flac")


def read_audio(path: str | os.PathLike, *, mix_channels: bool = False) -> tuple[np.ndarray, int]:
    """Read a WAV/FLAC file as float32 mono in [-1, 1] and its sample rate.

    Multi-channel files are an error unless `mix_channels=True` (then channels are averaged).
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such audio file")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        raise AudioError(f"{path}: cannot read audio ({exc}); expected a WAV or FLAC file") from exc
    if data.shape[1] > 1:
        if not mix_channels:
            raise AudioError(f"{path}: found {data.shape[1]} channels, expected mono audio "
                             "(1 channel); mix it down first or pass mix_channels=True")
        data = data.mean(axis=1, keepdims=True)
    x = np.ascontiguousarray(data[:, 0])
    check_waveform(x, rate, where=str(path))
    return x, int(rate)


def check_waveform(x: np.ndarray, rate: int, where: str = "audio") -> np.ndarray:
    """Validate a mono waveform; raise AudioError saying what was found and what is expected."""
    x = np.asarray(x)
    if x.ndim != 1:
        raise AudioError(f"{where}: found an array of shape {x.shape}, expected a 1-D mono waveform")
    if x.size == 0:
        raise AudioError(f"{where}: found 0 samples, expected a non-empty waveform")
    if not np.issubdtype(x.dtype, np.floating):
        raise AudioError(f"{where}: found dtype {x.dtype}, expected floating-point samples")
    bad = ~np.isfinite(x)
    if bad.any():
        raise AudioError(f"{where}: found {int(bad.sum())} NaN/Inf samples of {x.size}, "
                         "expected finite values")
    if not isinstance(rate, int | np.integer) or rate <= 0:
        raise AudioError(f"{where}: found sample rate {rate!r}, expected a positive integer")
    return x


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample a mono waveform with soxr (quality VHQ). Returns float32."""
    x = np.asarray(x, dtype=np.float32)
    if rate_in == rate_out:
        return x
    return soxr.resample(x, rate_in, rate_out, quality=RESAMPLE_QUALITY).astype(np.float32, copy=False)


def write_audio(path: str | os.PathLike, x: np.ndarray, rate: int, *, subtype: str | None = None) -> Path:
    """Write mono audio atomically (temp file in the same folder, then rename).

    Default subtype: 32-bit float for WAV (lossless round trip of float32 arrays), 24-bit for FLAC.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise AudioError(f"{path}: unsupported extension '{suffix}', expected one of {SUPPORTED_SUFFIXES}")
    if isinstance(x, np.ndarray) and x.dtype == np.int16:
        # integer samples are written as they are (16-bit PCM), e.g. test sets that reproduce a
        # release's own quantisation (testsets.engine.voicefixer_pcm16)
        if x.ndim != 1 or x.size == 0:
            raise AudioError(f"{path}: expected a non-empty mono int16 array, got {x.shape}")
        subtype = "PCM_16"
    else:
        x = check_waveform(np.asarray(x, dtype=np.float32), rate, where=str(path))
    if subtype is None:
        subtype = "FLOAT" if suffix == ".wav" else "PCM_24"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        sf.write(tmp, x, rate, subtype=subtype, format=suffix[1:].upper())
        if suffix == ".wav":
            _zero_peak_timestamp(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise AudioError(f"{path}: cannot write audio ({exc.strerror or exc})") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _zero_peak_timestamp(path: str | os.PathLike) -> None:
    """Float WAVs carry libsndfile's PEAK chunk, whose 4-byte timestamp (seconds since 1970)
    makes two writes of the same audio differ; zero it so same samples => same bytes."""
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


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_array(x: np.ndarray, rate: int) -> str:
    """Content hash of a waveform (samples + rate), used as a cache key."""
    h = hashlib.sha256()
    h.update(str(int(rate)).encode())
    h.update(np.ascontiguousarray(x, dtype=np.float32).tobytes())
    return h.hexdigest()
