"""Audio I/O and resampling: the one reader, the one (atomic) writer and the one resampler.

Everything in the harness passes audio around as float32 mono numpy arrays plus a rate.
Resampling uses soxr at quality "VHQ" (very high quality: 0.0 dB passband ripple, ~175 dB
stop-band rejection, linear phase); it is the only resampler in the code base.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
import struct
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from benchmark.core.errors import AudioError, BenchmarkError
from benchmark.core.files import atomic_target, errno_name, is_transient, transient_error

RESAMPLE_QUALITY = "VHQ"
SUPPORTED_SUFFIXES = (".wav", ".flac")

# Per-item limits, checked from the file header before any sample is read or allocated. 1 kHz to
# 384 kHz covers every rate speech audio is stored at (8 kHz telephony to 384 kHz studio); a
# header outside it is corrupt or hostile (a 1 Hz header made soxr allocate ~17.6 GB to reach
# 44.1 kHz). The duration limit bounds one item's memory; `run --max-item-seconds` changes it.
MIN_RATE = 1_000
MAX_RATE = 384_000
DEFAULT_MAX_ITEM_SECONDS = 600.0

# The one channel policy for items (`run` inputs/targets/outputs and `score` files): several
# channels are averaged to mono. VoiceFixer loads audio with `librosa.load(path, sr=...)` and its
# default mono=True, i.e. librosa.to_mono, the mean over channels (VoiceFixer._load_wav in
# voicefixer/base.py, haoheliu/voicefixer@7ac62992aff27c0b0aea4ecdfa3ef30de9305706); the MaskSR
# papers are silent. Library reads (`read_audio`) keep refusing multi-channel audio unless
# mix_channels=True.
ITEM_MIX_CHANNELS = True


def find_audio(path: str | os.PathLike) -> dict[str, Path]:
    """The audio files of `path`: {its file name: path} for a file, else every .wav/.flac file
    under the folder (recursively, in name order) by its path relative to the folder."""
    path = Path(path)
    if path.is_file():
        return {path.name: path}
    if not path.is_dir():
        raise BenchmarkError(f"{path}: no such file or folder")
    files = {p.relative_to(path).as_posix(): p for p in sorted(path.rglob("*"))
             if p.suffix.lower() in SUPPORTED_SUFFIXES and p.is_file()}
    if not files:
        raise BenchmarkError(f"{path}: no .wav or .flac files found (searched recursively)")
    return files


def _open_error(path: Path, exc: OSError) -> BenchmarkError:
    if is_transient(exc):
        return transient_error(exc, "reading", path)
    if exc.errno == errno.ENOENT:
        if path.is_symlink():
            return AudioError(f"{path}: no such audio file (a dangling symlink to {os.readlink(path)})")
        return AudioError(f"{path}: no such audio file")
    if exc.errno == errno.ELOOP:
        return AudioError(f"{path}: cannot read audio: ELOOP (a symlink loop)")
    return AudioError(f"{path}: cannot read audio: {errno_name(exc)}")


def audio_header(path: str | os.PathLike, *, max_seconds: float | None = None) -> sf._SoundFileInfo:
    """The header of a WAV/FLAC file, checked before any sample is read: a regular readable file,
    a sample rate in [MIN_RATE, MAX_RATE], at least one frame, and at most `max_seconds`."""
    path = Path(path)
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode)
                    else "not a regular file")
            raise AudioError(f"{path}: is {kind}, expected a WAV or FLAC file")
        with open(path, "rb"):      # EACCES here, by name, rather than libsndfile's "System error."
            pass
    except OSError as exc:
        raise _open_error(path, exc) from exc
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        raise AudioError(f"{path}: cannot read audio ({exc}); expected a WAV or FLAC file") from exc
    if not MIN_RATE <= info.samplerate <= MAX_RATE:
        raise AudioError(f"{path}: the header declares a sample rate of {info.samplerate} Hz, expected "
                         f"{MIN_RATE} to {MAX_RATE} Hz (corrupt or hostile header; nothing was read)")
    if info.frames <= 0:
        raise AudioError(f"{path}: found 0 samples, expected a non-empty waveform")
    seconds = info.frames / info.samplerate
    if max_seconds is not None and seconds > max_seconds:
        raise AudioError(f"{path}: the header declares {seconds:.1f} s of audio, more than the per-item "
                         f"limit of {max_seconds:g} s (run --max-item-seconds); nothing was read")
    return info


def read_audio(path: str | os.PathLike, *, mix_channels: bool = False,
               max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """Read a WAV/FLAC file as float32 mono in [-1, 1] and its sample rate.

    The header is checked first (`audio_header`: rate, length, `max_seconds`), so a hostile header
    never causes a large allocation. Multi-channel files are an error unless `mix_channels=True`
    (then channels are averaged). OS errors of the machine (ENOSPC, EIO...) raise
    TransientIOError; everything about the file raises AudioError.
    """
    path = Path(path)
    audio_header(path, max_seconds=max_seconds)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except OSError as exc:
        raise _open_error(path, exc) from exc
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


def read_item(path: str | os.PathLike, max_seconds: float | None = DEFAULT_MAX_ITEM_SECONDS
              ) -> tuple[np.ndarray, int]:
    """Read one benchmark item (run and score alike): the item limits and ITEM_MIX_CHANNELS."""
    return read_audio(path, mix_channels=ITEM_MIX_CHANNELS, max_seconds=max_seconds)


def check_waveform(x: np.ndarray, rate: int, where: str = "audio") -> np.ndarray:
    """Validate a mono waveform; raise AudioError saying what was found and what is expected."""
    x = np.asarray(x)
    if x.ndim != 1:
        raise AudioError(f"{where}: found an array of shape {x.shape}, expected a 1-D mono waveform")
    if x.size == 0:
        raise AudioError(f"{where}: found 0 samples, expected a non-empty waveform")
    if not np.issubdtype(x.dtype, np.floating):
        raise AudioError(f"{where}: found dtype {x.dtype}, expected floating-point samples")
    finite = np.isfinite(x)          # one bool per sample, nothing more for long items
    if not finite.all():
        raise AudioError(f"{where}: found {x.size - int(np.count_nonzero(finite))} NaN/Inf samples "
                         f"of {x.size}, expected finite values")
    if not isinstance(rate, int | np.integer) or rate <= 0:
        raise AudioError(f"{where}: found sample rate {rate!r}, expected a positive integer")
    return x


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample a mono waveform with soxr (quality VHQ). Returns float32."""
    x = np.asarray(x, dtype=np.float32)
    for r in (rate_in, rate_out):
        if not MIN_RATE <= r <= MAX_RATE:
            raise AudioError(f"cannot resample from {rate_in} Hz to {rate_out} Hz: rates must be "
                             f"{MIN_RATE} to {MAX_RATE} Hz")
    if rate_in == rate_out:
        return x
    return soxr.resample(x, rate_in, rate_out, quality=RESAMPLE_QUALITY).astype(np.float32, copy=False)


def write_audio(path: str | os.PathLike, x: np.ndarray, rate: int, *, subtype: str | None = None) -> Path:
    """Write mono audio atomically: a temp file in the same folder (created with mode 0666 minus
    the process umask), then one rename.

    Default subtype: 32-bit float for WAV (lossless round trip of float32 arrays), 24-bit for FLAC.
    A full disk or file-size limit raises TransientIOError naming ENOSPC/EFBIG (libsndfile only
    says "System error."; a one-block append to the temp file then names the errno), other OS
    errors AudioError. Nothing is left behind on failure.
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
    try:
        with atomic_target(path) as tmp:
            try:
                sf.write(str(tmp), x, rate, subtype=subtype, format=suffix[1:].upper())
            except sf.LibsndfileError as exc:
                cause = _write_failure(tmp)
                if cause is not None:
                    raise cause from exc       # ENOSPC/EFBIG: atomic_target names it
                raise AudioError(f"{path}: cannot write audio ({exc})") from exc
            if suffix == ".wav":
                with open(tmp, "r+b") as f:
                    _zero_peak_timestamp(f)
    except OSError as exc:      # not transient (atomic_target raised those as TransientIOError)
        raise AudioError(f"{path}: cannot write audio: {errno_name(exc)}") from exc
    return path


def _write_failure(tmp: Path) -> OSError | None:
    """The OS error behind libsndfile's "System error." while writing `tmp`: appending one block
    fails the same way when the disk is full (ENOSPC) or the file-size limit is reached (EFBIG)."""
    try:
        with open(tmp, "ab", buffering=0) as f:
            f.write(b"\0" * 65536)
    except OSError as exc:
        return exc
    return None


def _zero_peak_timestamp(f: io.BufferedRandom) -> None:
    """Float WAVs carry libsndfile's PEAK chunk, whose 4-byte timestamp (seconds since 1970)
    makes two writes of the same audio differ; zero it so same samples => same bytes."""
    f.seek(0)
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


def sha256_input(path: str | os.PathLike) -> str:
    """sha256 of an input file, refusing what is not a regular file (a FIFO would block) and
    naming OS errors: AudioError for the file (EACCES, ENOENT, ELOOP), TransientIOError for the
    machine (EIO...)."""
    path = Path(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise AudioError(f"{path}: is not a regular file, expected a WAV or FLAC file")
        return sha256_file(path)
    except OSError as exc:
        raise _open_error(path, exc) from exc


def sha256_array(x: np.ndarray, rate: int) -> str:
    """Content hash of a waveform (samples + rate), used as a cache key."""
    h = hashlib.sha256()
    h.update(str(int(rate)).encode())
    h.update(np.ascontiguousarray(x, dtype=np.float32).tobytes())
    return h.hexdigest()
