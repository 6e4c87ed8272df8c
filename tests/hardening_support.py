"""Test-only helpers for the hardening tests: hostile inputs made from the real VoiceBank-DEMAND
pairs in ../shared/data, and the runner CLI in a subprocess (optionally without root's
file-permission override, so a chmod-000 file is really unreadable)."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
SUPPORT = ROOT / "tests" / "runner_support.py"
GOOD = ("p287_001.wav", "p287_002.wav", "p287_004.wav", "p287_006.wav")   # 1.96 .. 5.08 s
LONG = "p287_003.wav"                                                   # 7.23 s
MAX_SECONDS = 6.0                                                       # the run's limit here


def vb(corpora: Path, kind: str, name: str) -> Path:
    return corpora / "VoiceBank-DEMAND" / f"{kind}_testset_wav" / name


def unprivileged(cmd: list[str]) -> list[str]:
    """`cmd` without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH when we are root (setpriv drops them
    from the bounding set, so the exec'd process never has them); unchanged otherwise."""
    if os.geteuid() != 0:
        return cmd
    tool = shutil.which("setpriv")
    assert tool, "setpriv (util-linux) is needed to drop root's override capabilities"
    return [tool, "--bounding-set=-dac_override,-dac_read_search", "--", *cmd]


def cli(args: list[str], *, drop_caps: bool = False, env: dict | None = None, prefix: str = "",
        timeout: float = 300) -> subprocess.CompletedProcess:
    """`python tests/runner_support.py ARGS` (the CLI with the test plugins), in a subprocess.
    prefix: a shell snippet run first (e.g. 'ulimit -f 64;')."""
    cmd = [PY, str(SUPPORT), *args]
    if drop_caps:
        cmd = unprivileged(cmd)
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), BENCHMARK_NO_PROGRESS="1", **(env or {}))
    if prefix:
        cmd = ["bash", "-c", prefix + ' exec "$@"', "bash", *cmd]
    return subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=timeout)


def patch_rate(src: Path, dst: Path, rate: int) -> Path:
    """A copy of a real 16-bit mono WAV whose header declares `rate` Hz (fmt chunk at byte 12)."""
    data = bytearray(src.read_bytes())
    assert data[12:16] == b"fmt " and struct.unpack("<H", data[22:24])[0] == 1
    block = struct.unpack("<H", data[32:34])[0]
    data[24:28] = struct.pack("<I", rate)
    data[28:32] = struct.pack("<I", rate * block)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(bytes(data))
    return dst


def item(iid: str, degraded: object, target: object | None, rate: int = 16000) -> dict:
    return {"id": iid, "degraded": degraded, "target": target, "rate": rate, "target_rate": rate,
            "duration": 1.0, "subset": "", "params": {}, "sources": {}}


def hostile_set(corpora: Path, testsets: Path, name: str = "hostile") -> tuple[Path, dict[str, str]]:
    """A set of the 4 good real pairs next to 20 kinds of bad input; returns the folder and
    {item id: the text its recorded error must contain}."""
    folder = testsets / name
    deg, tgt = folder / "degraded", folder / "target"
    deg.mkdir(parents=True)
    tgt.mkdir()
    outside = testsets.parent / "outside"
    outside.mkdir(exist_ok=True)
    shutil.copy(vb(corpora, "clean", "p287_005.wav"), outside / "secret.wav")   # used nowhere else
    records, expect = [], {}
    for k, name_ in enumerate(GOOD):
        shutil.copy(vb(corpora, "noisy", name_), deg / name_)
        shutil.copy(vb(corpora, "clean", name_), tgt / name_)
        records.append(item(f"good_{k}", f"degraded/{name_}", f"target/{name_}"))
    shutil.copy(vb(corpora, "clean", "p287_002.wav"), tgt / "ref.wav")
    real, _ = sf.read(vb(corpora, "noisy", "p287_002.wav"), dtype="float32")

    def bad(kind: str, rel: object, message: str) -> None:
        records.append(item(f"bad_{kind}", rel, "target/ref.wav"))
        expect[f"bad_{kind}"] = message

    bad("missing", "degraded/missing.wav", "no such audio file")
    shutil.copy(vb(corpora, "noisy", "p287_001.wav"), deg / "unreadable.wav")
    os.chmod(deg / "unreadable.wav", 0)
    bad("unreadable", "degraded/unreadable.wav", "EACCES (Permission denied)")
    patch_rate(vb(corpora, "noisy", "p287_001.wav"), deg / "rate_1hz.wav", 1)
    bad("rate_1hz", "degraded/rate_1hz.wav", "sample rate of 1 Hz")
    patch_rate(vb(corpora, "noisy", "p287_001.wav"), deg / "rate_768k.wav", 768000)
    bad("rate_768k", "degraded/rate_768k.wav", "sample rate of 768000 Hz")
    shutil.copy(vb(corpora, "noisy", LONG), deg / LONG)
    bad("too_long", f"degraded/{LONG}", "7.2 s of audio, more than the per-item limit of 6 s")
    (deg / "text.wav").write_text("this is a transcript, not audio\n")
    bad("not_audio", "degraded/text.wav", "cannot read audio")
    (deg / "empty.wav").write_bytes(b"")
    bad("zero_bytes", "degraded/empty.wav", "cannot read audio")
    sf.write(deg / "no_frames.wav", np.zeros(0, np.float32), 16000, subtype="PCM_16")
    bad("no_frames", "degraded/no_frames.wav", "found 0 samples")
    (deg / "truncated.wav").write_bytes(vb(corpora, "noisy", "p287_001.wav").read_bytes()[:30])
    bad("truncated_header", "degraded/truncated.wav", "cannot read audio")
    x = real.copy()
    x[1000:1010] = np.nan
    sf.write(deg / "nan.wav", x, 16000, subtype="FLOAT")
    bad("nan", "degraded/nan.wav", "10 NaN/Inf samples")
    x = real.copy()
    x[5] = np.inf
    sf.write(deg / "inf.wav", x, 16000, subtype="FLOAT")
    bad("inf", "degraded/inf.wav", "1 NaN/Inf samples")
    (deg / "folder.wav").mkdir()
    bad("directory", "degraded/folder.wav", "is not a regular file")
    os.mkfifo(deg / "fifo.wav")
    bad("fifo", "degraded/fifo.wav", "is not a regular file")
    os.symlink("loop_b.wav", deg / "loop_a.wav")
    os.symlink("loop_a.wav", deg / "loop_b.wav")
    bad("symlink_loop", "degraded/loop_a.wav", "ELOOP")
    os.symlink("gone.wav", deg / "dangling.wav")
    bad("dangling_symlink", "degraded/dangling.wav", "dangling symlink")
    bad("dotdot", "../outside/secret.wav", "'..' components are refused")
    bad("absolute", str(outside / "secret.wav"), "absolute paths are refused")
    os.symlink(outside / "secret.wav", deg / "escape.wav")
    bad("escaping_symlink", "degraded/escape.wav", "outside")
    bad("nul_byte", "degraded/a\0b.wav", "NUL byte")
    bad("not_a_string", 7, "expected a non-empty relative path")
    assert len(expect) == 20
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (folder / "info.json").write_text('{"builder": "test", "seed": 0, "version": "1"}')
    return folder, expect
