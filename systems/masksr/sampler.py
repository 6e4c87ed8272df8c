"""Restoring with a MaskSR-family model (001 Sec. 2.3 / 3.2, 002 Sec. II-B / III-B): each input cut
into the papers' non-overlapping windows, the windows of all items encoded and decoded by the
configuration's codebook strategy (`strategies.STRATEGIES`) in batches of at most
`InferenceOptions.batch_windows`, each item's windows joined into one codegram and that codegram
decoded by the codec in overlapping chunks. Memory is bounded by the options, not by the length of
an item (a 5-minute item takes the memory of a 30 s one), and the codec sees no window edges: the
joined codegram is decoded as if in one piece (each chunk carries `decode_context` frames of
codegram on both sides, more than the DAC decoder's receptive field; the chunked and the one-piece
decode agree within float error, tested). Decoding each window on its own, zero-padded at its
edges, put a discontinuity every window (measured in bench/bench_memory.py)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch

from benchmark.core.errors import BenchmarkError
from systems.masksr.strategies import get_strategy

PRECISIONS = ("fp32", "bf16", "tf32")
# the input's peak during training: Algorithm 1's gain q ~ U(0.3, 1) (003 App. C.2, config.gain_bins)
# scales the pair, so a degraded input's peak lies in this range; inference brings an item into it
TRAINING_PEAK = (0.3, 1.0)


@dataclass(frozen=True)
class InferenceOptions:
    batch_windows: int = 8           # windows per encoder + LM batch (the LM runs 2x with CFG)
    decode_frames: int = 256         # codegram frames per codec decode call
    decode_context: int = 32         # extra frames on each side of a decode chunk (receptive field)
    precision: str = "fp32"          # fp32 | bf16 (autocast) | tf32 (TF32 matmuls), CUDA
    normalize: bool = True           # bring the input's peak into TRAINING_PEAK, scale back after

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise BenchmarkError(f"unknown precision '{self.precision}': {', '.join(PRECISIONS)}")
        if self.batch_windows < 1 or self.decode_frames < 1 or self.decode_context < 0:
            raise BenchmarkError("batch_windows and decode_frames must be >= 1, decode_context >= 0")


def split_windows(wave: np.ndarray, window: int) -> tuple[np.ndarray, int]:
    """Pad a waveform to whole non-overlapping windows: (n_windows, window) and the true length."""
    n = len(wave)
    count = max(1, -(-n // window))
    padded = np.zeros(count * window, dtype=np.float32)
    padded[:n] = wave
    return padded.reshape(count, window), n


def model_device(model: torch.nn.Module) -> torch.device:
    """The device the model's parameters live on (the one place the sampler takes it from)."""
    return next(model.parameters()).device


@contextlib.contextmanager
def precision_context(precision: str, device: torch.device):
    """bf16: autocast of the encoder and LM; tf32: TF32 matmuls and convolutions (CUDA) for the
    call only; fp32: nothing. The codec decoder always runs in fp32."""
    if precision == "bf16":
        with torch.autocast(device.type, dtype=torch.bfloat16):
            yield
        return
    if precision == "tf32" and device.type == "cuda":
        old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        try:
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old
        return
    yield


def level_gain(wave: np.ndarray) -> float:
    """The factor that brings the item's peak into TRAINING_PEAK (1 inside it, and for silence)."""
    peak = float(np.max(np.abs(wave))) if len(wave) else 0.0
    if peak <= 1e-8:
        return 1.0
    return float(np.clip(peak, *TRAINING_PEAK) / peak)


@torch.no_grad()
def sample_codegrams(model, waves: torch.Tensor, seed: int = 0, iterations: int | None = None,
                     guidance: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, N) corrupted windows -> (B, K, T) codegrams, decoded together as one batch on the
    model's device (`generator` continues a stream; else one seeded with `seed`)."""
    cfg = model.cfg
    device = model_device(model)
    waves = waves.to(device)
    if generator is None:
        generator = torch.Generator(device=device).manual_seed(seed)
    cond = model.encoder(waves)
    return get_strategy(cfg.codebook_modelling).decode(
        model.lm, cond, cfg, generator,
        iterations=cfg.iterations if iterations is None else iterations,
        guidance=cfg.guidance if guidance is None else guidance)


def decode_joined(codec, codes: torch.Tensor, frames: int = 256, context: int = 32) -> np.ndarray:
    """(K, T) codegram -> T * hop samples, decoded `frames` at a time, each call with `context`
    frames of neighbouring codegram on both sides whose output is dropped."""
    hop, total = codec.hop, codes.shape[-1]
    out = np.empty(total * hop, dtype=np.float32)
    for s in range(0, total, frames):
        e = min(total, s + frames)
        a, b = max(0, s - context), min(total, e + context)
        y = codec.decode(codes[None, :, a:b])[0]
        out[s * hop:e * hop] = y[(s - a) * hop:(e - a) * hop].float().cpu().numpy()
    return out


@torch.inference_mode()
def restore_batch(model, codec, waves: list[np.ndarray], seed: int = 0, iterations: int | None = None,
                  guidance: float | None = None, options: InferenceOptions | None = None) -> list[np.ndarray]:
    """Restore 44.1 kHz waveforms (any lengths): the windows of all items through the encoder and
    LM `batch_windows` at a time (one generator seeded with `seed` runs through the batches), then
    each item's joined codegram through the codec in overlapping chunks (inference mode for this
    call only). One item restored alone and within a batch differ only through the random stream."""
    opts = options or InferenceOptions()
    cfg = model.cfg
    device = model_device(model)
    window = cfg.window_frames * cfg.hop
    gains = [level_gain(w) if opts.normalize else 1.0 for w in waves]
    parts = [split_windows(np.asarray(w, dtype=np.float32) * g, window) for w, g in zip(waves, gains, strict=True)]
    owner = [i for i, (win, _) in enumerate(parts) for _ in range(len(win))]
    windows = np.concatenate([win for win, _ in parts])
    generator = torch.Generator(device=device).manual_seed(seed)
    codes: list[torch.Tensor] = []
    with precision_context(opts.precision, device):
        for b0 in range(0, len(windows), opts.batch_windows):
            chunk = torch.from_numpy(windows[b0:b0 + opts.batch_windows])
            codes.append(sample_codegrams(model, chunk, iterations=iterations, guidance=guidance,
                                          generator=generator).cpu())
    all_codes = torch.cat(codes)                                    # (W, K, T) on the CPU
    out = []
    for i, (_, n) in enumerate(parts):
        rows = [j for j, o in enumerate(owner) if o == i]
        joined = all_codes[rows[0]:rows[-1] + 1].permute(1, 0, 2).reshape(cfg.n_codebooks, -1)
        audio = decode_joined(codec, joined.to(codec.device), opts.decode_frames, opts.decode_context)
        out.append((audio[:n] / np.float32(gains[i])).astype(np.float32))
    return out


def restore(model, codec, wave: np.ndarray, seed: int = 0, iterations: int | None = None,
            guidance: float | None = None, options: InferenceOptions | None = None) -> np.ndarray:
    """Restore one 44.1 kHz waveform (`restore_batch` of one item)."""
    return restore_batch(model, codec, [wave], seed, iterations, guidance, options)[0]
