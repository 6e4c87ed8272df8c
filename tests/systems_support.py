"""Test-only helpers for the system wrapper tests (no test module imports another)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from benchmark.assets import ASSETS, Asset, get_asset
from benchmark.core.paths import cache_dir


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def install_temp_asset(monkeypatch, name: str, save) -> Path:
    """Save a checkpoint with `save(path)` where asset `name` lives in the cache and pin the
    record to that file's sha256 for the test (the file is random-init test weights, not the
    release)."""
    real = get_asset(name)
    target = real.cached_path(cache_dir())
    target.parent.mkdir(parents=True, exist_ok=True)
    save(target)
    monkeypatch.setitem(ASSETS, name, Asset(
        name=name, urls=(), sha256=sha256_file(target), size=target.stat().st_size,
        licence="test", path=real.path, used_by=real.used_by,
        description="random-init test checkpoint"))
    return target


def make_short_set(corpora: Path, root: Path, name: str, pairs: list[tuple[str, str | None]],
                   seconds: float) -> Path:
    """A test set of the first `seconds` of real corpus files: (degraded, target) paths relative
    to the corpora folder (target None: degraded only), at the files' own rate."""
    from benchmark.core.audio import read_audio, write_audio
    from testsets.manifest import ManifestItem, write_manifest

    folder = root / name
    items = []
    for k, (deg, tgt) in enumerate(pairs):
        x, sr = read_audio(corpora / deg)
        n = int(seconds * sr)
        write_audio(folder / "degraded" / f"{k:03d}.wav", x[:n], sr)
        if tgt is not None:
            t, tsr = read_audio(corpora / tgt)
            write_audio(folder / "target" / f"{k:03d}.wav", t[:int(seconds * tsr)], tsr)
        items.append(ManifestItem(id=f"{name}_{k:03d}", degraded=f"degraded/{k:03d}.wav",
                                  target=f"target/{k:03d}.wav" if tgt else None, rate=sr,
                                  target_rate=tsr if tgt else None, duration=n / sr,
                                  params={"source": deg}))
    write_manifest(folder / "manifest.jsonl", items)
    (folder / "info.json").write_text('{"builder": "test", "seed": 0, "version": "1"}')
    return folder
