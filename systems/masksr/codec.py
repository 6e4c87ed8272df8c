"""The frozen Descript Audio Codec (44.1 kHz, 9 x 1024 RVQ, hop 512): waveform <-> 9 x T codegram.

`dac` is installed without its dependencies (see the `codec` extra in pyproject.toml): its
package imports `audiotools`, which imports torchaudio at module level although encode/decode
never call it, and no torchaudio wheel matches our torch. `_import_dac` therefore puts a
placeholder `torchaudio` module in place when the real one cannot be imported; any code that
actually touches it fails with one clear error instead of a wrong result.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from benchmark.core.deps import require
from benchmark.core.errors import BenchmarkError, MissingDependencyError


class _TorchaudioPlaceholder(types.ModuleType):
    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise MissingDependencyError(
            f"torchaudio.{attr} was called, but torchaudio is not installed (no wheel matches the "
            "installed torch); the MaskSR codec path does not use it")


def _import_dac():
    if "dac" in sys.modules:
        return sys.modules["dac"]
    names = ("torchaudio", "torchaudio.functional", "torchaudio.transforms")
    placeholders = False
    try:
        importlib.import_module("torchaudio")
    except (ImportError, OSError):
        placeholders = True
        for name in names:
            sys.modules.pop(name, None)
            sys.modules[name] = _TorchaudioPlaceholder(name)
    try:
        return require("dac", "codec", "the Descript Audio Codec used by MaskSR")
    finally:
        # audiotools keeps its reference; other libraries (transformers) must keep seeing
        # torchaudio as absent rather than as a module without a spec
        if placeholders:
            for name in names:
                sys.modules.pop(name, None)


# --- codec registry: name -> builder of a frozen torch DAC module ---------------------------------
CODECS: dict[str, Callable[[], object]] = {}


def register_codec(name: str):
    def deco(fn):
        CODECS[name] = fn
        return fn
    return deco


@register_codec("dac_44khz")
def _pretrained_dac_44khz():
    """The official 44.1 kHz 8 kbps weights (asset `dac_44khz`), loaded with weights_only=True."""
    import torch

    from benchmark.assets import fetch
    dac = _import_dac()
    path = fetch("dac_44khz")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise BenchmarkError(f"cannot load the DAC weights {path} with weights_only=True: {exc}") from exc
    kwargs = dict(blob.get("metadata", {}).get("kwargs", {}))
    kwargs = {k: v for k, v in kwargs.items() if k in _dac_init_args(dac)}
    model = dac.DAC(**kwargs)
    model.load_state_dict(blob["state_dict"])
    return model


@register_codec("dac_random_small")
def _random_small_dac():
    """The real DAC class, same rate/hop/codebooks, narrow encoder/decoder, seeded random weights.

    For tests and CPU smoke runs only (explicitly chosen by a config, never a fallback)."""
    import torch
    dac = _import_dac()
    state = torch.random.get_rng_state()
    torch.manual_seed(1234)
    try:
        model = dac.DAC(encoder_dim=16, decoder_dim=64)
    finally:
        torch.random.set_rng_state(state)
    return model


@register_codec("dac_44khz_random")
def _random_dac_44khz():
    """The released 44.1 kHz model's architecture (DAC() defaults: encoder 64, decoder 1536,
    9 x 1024 RVQ) with seeded random weights: the real model's compute and memory where its
    weights are absent (bench/gpu_check.sh, offline). Never a fallback for `dac_44khz`."""
    import torch
    dac = _import_dac()
    state = torch.random.get_rng_state()
    torch.manual_seed(1234)
    try:
        return dac.DAC()
    finally:
        torch.random.set_rng_state(state)


def _dac_init_args(dac) -> set[str]:
    import inspect
    return set(inspect.signature(dac.DAC.__init__).parameters) - {"self"}


@dataclass
class CodebookBlock:
    """One RVQ level as 002 App. A describes it: a 1024 x 8 table and an 8 -> 1024 output FC."""
    table: np.ndarray        # (1024, 8)
    out_weight: np.ndarray   # (1024, 8)
    out_bias: np.ndarray     # (1024,)


class Codec:
    """Frozen codec: `encode` (B, N) float waveforms at 44.1 kHz -> (B, 9, T) int64 codegram."""

    def __init__(self, name: str, device: str = "cpu"):
        if name not in CODECS:
            raise BenchmarkError(f"unknown codec '{name}'. Known: {', '.join(sorted(CODECS))}")
        import torch
        self.name = name
        self.device = torch.device(device)
        self.model = CODECS[name]().to(self.device).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.rate = int(self.model.sample_rate)
        self.hop = int(self.model.hop_length)
        self.n_codebooks = int(self.model.n_codebooks)
        self.codebook_size = int(self.model.codebook_size)

    def frames(self, n_samples: int) -> int:
        return -(-n_samples // self.hop)

    def encode(self, wave):
        """(B, N) tensor -> (B, n_codebooks, ceil(N / hop)) codegram (padded to whole frames)."""
        import torch
        with torch.inference_mode():
            x = wave.to(self.device, torch.float32)
            pad = self.frames(x.shape[-1]) * self.hop - x.shape[-1]
            x = torch.nn.functional.pad(x, (0, pad))[:, None, :]
            _, codes, *_ = self.model.encode(x)
        return codes.long()

    def decode(self, codes):
        """(B, n_codebooks, T) codegram -> (B, T * hop) waveform."""
        import torch
        with torch.inference_mode():
            z = self.model.quantizer.from_codes(codes.to(self.device))[0]
            return self.model.decode(z)[:, 0, :]

    def codebook_blocks(self) -> list[CodebookBlock]:
        """Effective (weight-norm folded) codebook tables and output projections per level."""
        import torch
        blocks = []
        for q in self.model.quantizer.quantizers:
            conv = q.out_proj
            if hasattr(conv, "weight_v"):
                w = torch._weight_norm(conv.weight_v, conv.weight_g, 0)
            else:
                w = conv.weight
            blocks.append(CodebookBlock(
                table=q.codebook.weight.detach().cpu().numpy().copy(),
                out_weight=w.detach()[:, :, 0].cpu().numpy().copy(),
                out_bias=conv.bias.detach().cpu().numpy().copy()))
        return blocks
