"""`voicefixer`: VoiceFixer (Liu et al. 2022), the `voicefixer` package, 44.1 kHz, mode 0.

The package looks for its two checkpoints under `~/.cache/voicefixer/` and downloads them there
at import time when missing. We never let it: both checkpoints are assets
(`voicefixer_analysis`: vf.ckpt, `voicefixer_vocoder`: the 44.1 kHz TFGAN vocoder), fetched and
verified first (a missing one fails with the asset error before any work). The package is then
imported and built with HOME pointing at a folder in our cache whose `.cache/voicefixer/...`
entries are symlinks to those asset files, so it finds them where it expects and downloads
nothing; the user's real home is left alone.

Inference is `VoiceFixer.restore_inmem(wav, mode=0)` (the papers' setting), which processes 30 s
segments; its output is cropped/padded to the input length (it returns the input length for
inputs that are whole multiples of its 441-sample hop, and is frame-aligned by the package).

Install: the wheel requires streamlit, GitPython and progressbar, which the restoration code does
not import; install it with `pip install --no-deps voicefixer==0.1.3` plus `torchlibrosa`
(the `voicefixer` extra).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from benchmark.assets import fetch
from benchmark.core.deps import require
from benchmark.core.errors import BenchmarkError
from benchmark.core.paths import cache_dir
from systems.base import SYSTEMS, RestoreItem, System, SystemInfo

ANALYSIS = "analysis_module/checkpoints/vf.ckpt"
VOCODER = "synthesis_module/44100/model.ckpt-1490000_trimed.pt"


@contextlib.contextmanager
def _home(path: Path) -> Iterator[None]:
    """Temporarily point HOME (what os.path.expanduser reads) at `path`."""
    old = os.environ.get("HOME")
    os.environ["HOME"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("HOME", None)
        else:
            os.environ["HOME"] = old


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.is_symlink() or dst.exists():
        if dst.is_symlink() and Path(os.readlink(dst)) == src:
            return
        dst.unlink()
    dst.symlink_to(src)


@SYSTEMS.register
class VoiceFixer(System):
    info = SystemInfo(
        name="voicefixer", version="0.1.3-mode0", rate=44100, backend="torch",
        description="VoiceFixer general speech restoration (analysis + TFGAN vocoder), mode 0",
        assets=("voicefixer_analysis", "voicefixer_vocoder"), devices=("cpu", "cuda"),
        extra="voicefixer", paper_row="VoiceFixer")

    def load(self) -> None:
        analysis = fetch("voicefixer_analysis")     # asset errors come before any import
        vocoder = fetch("voicefixer_vocoder")
        require("torchlibrosa", "voicefixer", "system voicefixer")
        home = cache_dir() / "voicefixer" / "home"
        _link(analysis.resolve(), home / ".cache/voicefixer" / ANALYSIS)
        _link(vocoder.resolve(), home / ".cache/voicefixer" / VOCODER)
        with _home(home):
            vf = require("voicefixer", "voicefixer",
                         "system voicefixer; install with: pip install --no-deps voicefixer==0.1.3")
            try:
                self._vf = vf.VoiceFixer()
            except Exception as exc:
                raise BenchmarkError(f"VoiceFixer checkpoints {analysis}, {vocoder} do not load: "
                                     f"{type(exc).__name__}: {exc}") from exc
        self._vf.eval()

    def restore(self, items: list[RestoreItem]) -> list[np.ndarray]:
        if not hasattr(self, "_vf"):
            self.load()
        out = []
        for it in items:
            x = np.asarray(it.audio, dtype=np.float32)
            y = np.asarray(self._vf.restore_inmem(x, cuda=self.device == "cuda", mode=0),
                           dtype=np.float32).reshape(-1)
            y = y[:x.size] if y.size >= x.size else np.pad(y, (0, x.size - y.size))
            out.append(np.ascontiguousarray(y))
        return out
