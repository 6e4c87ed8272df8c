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

Strict loading: the package loads vf.ckpt with `strict=False` after dropping every key the model
does not have, and the vocoder with `load_try`, which keeps the fresh model's random weights for
any key the checkpoint lacks; a renamed or truncated checkpoint would run silently as a random
model. Both checkpoints are therefore checked key by key and shape by shape against the package's
models (`check_vocoder_checkpoint`, `check_analysis_checkpoint`) before the package loads them:
the analysis checkpoint must hold exactly the learned keys of the restorer (`generator.*`; its
`vocoder.*` weights come from the vocoder checkpoint), the vocoder checkpoint's "generator" entry exactly the keys of
the TFGAN `Generator`.

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
from systems.base import SYSTEMS, RestoreItem, System, SystemInfo, check_state_dict

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


def _load(path: Path, what: str):
    import torch
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise BenchmarkError(f"{what} {path} is not a readable torch checkpoint: "
                             f"{type(exc).__name__}: {exc}") from exc


def check_vocoder_checkpoint(path: Path) -> None:
    """The vocoder checkpoint's "generator" state dict must match the package's 44.1 kHz TFGAN
    Generator exactly (before weight norm is removed, as `Vocoder._load_pretrain` loads it)."""
    from voicefixer.vocoder.config import Config
    from voicefixer.vocoder.model.generator import Generator
    ckpt = _load(path, "VoiceFixer vocoder checkpoint")
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("generator"), dict):
        raise BenchmarkError(f"VoiceFixer vocoder checkpoint {path} has no 'generator' state dict")
    Config.refresh(44100)
    check_state_dict(Generator(Config.cin_channels).state_dict(), ckpt["generator"],
                     f"VoiceFixer vocoder checkpoint {path}")


def check_analysis_checkpoint(path: Path, model) -> None:
    """vf.ckpt must hold every learned key of the restorer `model` (its `generator.*`): the
    `vocoder.*` weights come from the vocoder checkpoint, and `f_helper.*` (STFT kernels) and
    `mel.fb` (the mel filter bank) are fixed transforms the package computes at construction."""
    state = _load(path, "VoiceFixer analysis checkpoint")
    if not isinstance(state, dict):
        raise BenchmarkError(f"VoiceFixer analysis checkpoint {path} is not a state dict")
    check_state_dict(model.state_dict(), state, f"VoiceFixer analysis checkpoint {path}",
                     ignore_prefixes=("vocoder.", "f_helper.", "mel."))


def voicefixer_home(links: dict[str, Path]) -> Path:
    """Our HOME stand-in whose ~/.cache/voicefixer/<rel> entries link to the asset files."""
    home = cache_dir() / "voicefixer" / "home"
    for rel, src in links.items():
        _link(src.resolve(), home / ".cache/voicefixer" / rel)
    return home


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
        home = voicefixer_home({ANALYSIS: analysis, VOCODER: vocoder})
        with _home(home):
            vf = require("voicefixer", "voicefixer",
                         "system voicefixer; install with: pip install --no-deps voicefixer==0.1.3")
            check_vocoder_checkpoint(vocoder)
            try:
                self._vf = vf.VoiceFixer()
            except Exception as exc:
                raise BenchmarkError(f"VoiceFixer checkpoints {analysis}, {vocoder} do not load: "
                                     f"{type(exc).__name__}: {exc}") from exc
            check_analysis_checkpoint(analysis, self._vf._model)
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
