"""The MaskSR training degradation (001 Sec. 3.1, 002 Sec. III-A: "the open-source pipeline in
[1]", VoiceFixer): a typed distribution, a sampler that records every draw, and a fast renderer.

Distribution (`VOICEFIXER_CODE`, the default): the stages and probabilities of voicefixer_main's
training code at commit 0c206f7 (the code that trained the published VoiceFixer), with 001/002's
ranges. Read from, at 0c206f7:
- config/vctk_base_voicefixer_unet.json: `augment.effects` = ["low_pass", "clip", "reverb_rir"];
  clip prob 0.20 with louder_time ~ U(1, 11); reverb_rir prob 0.30; noise prob 1.0 with SNR
  ~ U(-5, 40); scale ~ U(0.3, 1.0); low_pass_2: cutoff ~ U(1500/2, 44100/2), order in 2..10,
  six filter types. Its `low_pass_1` key is never read (no code asks for it).
- dataloaders/augmentation/random_server.py: "low_pass" keeps its default (prob 0.3, cutoff
  ~ U(3000, 7000)) because the config names no "low_pass" entry.
- dataloaders/augmentation/magical_effects.py: the sox chain (low_pass, then clip) runs before
  reverb_rir; clip is WavAugment's `ClipValue`: clamp(x, f min x, f max x) with f = 1/louder_time;
  low_pass is sox `lowpass` (two-pole, Q 0.707: a 2nd-order Butterworth biquad, one direction).
- dataloaders/data_module.py `LowpassTrainCollator`: every item is low-passed (the collator never
  reads low_pass_2.prob); cutoff int(U(750, 22050)), order int(U(2, 10)) in 2..9, type uniform over
  (cheby1, ellip, bessel, stft_hard, stft, butter); then, with chance 1/2, resampled down to 2c and
  back ("stft"). The noise: with chance 1/2 left as it is, else the same filter and then, with
  chance 1/3, the resampling too.
- tools/dsp/lowpass.py: IIR designs with `sosfiltfilt` (ripple 0.1 dB, ellip 60 dB, bessel with
  scipy's default norm "phase"); "stft" = `resample_poly` to 2c and back; "stft_hard" zeroes the
  STFT bins (n_fft 2048, hop 441, Hann) at and above int(1025 c / 22050).
- models/gsr_voicefixer.py + dataloaders/augmentation/base.py `add_noise_and_scale_with_HQ_with_Aug`:
  noise always added (SNR by mean |.|), then the common peak, then q.
Where 001/002's ranges replace the code's: SNR (-5, 20) dB, clip (0.1, 0.5), bandwidth
(1, 22.05) kHz. The code adds noise to every item at up to 40 dB SNR, so its inputs are nearly
clean 4/9 of the time (SNR > 20 dB); the papers' range stops at 20 dB, so those 4/9 of draws are
kept clean here: p_noise = 25/45, SNR ~ U(-5, 20) when on (the code's draws restricted to the
papers' range). Every other probability is the code's.

Speed: cutoffs are quantised to multiples of `cutoff_step` (50 Hz): 2c / 44100 then reduces to at
most 441 in the denominator, so resample_poly's FIR has <= 8821 taps, designed once and cached
(the old 1-Hz cutoffs needed up to 441,001 taps, designed per call). IIR designs and the STFT
window are cached too. Each resample_poly pass runs as blocks of small matrix products
(`polyphase`: the same FIR and phases, float32 sums in another order, ~4x faster than upfirdn's
scalar loop); `sosfiltfilt` keeps each design's initial conditions and the reverb each RIR's
transform (both bit-identical to the scipy calls). 50 Hz is below the resolution the recipe itself has: the resampler's
transition band (-3 to -40 dB) is 185 Hz wide at the lowest cutoff (1 kHz) and 18 % of c above,
and the quantisation error (<= 25 Hz) is about one bin of MaskSR's own STFT (21.5 Hz)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import signal

from testsets.distortions import (
    ALG1_MIN_LEVEL,
    REVERB_PEAK_LIMIT,
    REVERB_PEAK_TO,
    argmax_delay,
    design_lowpass,
    peak_normalise,
)

STAGES = ("input_lowpass", "clip", "reverb", "lowpass", "noise")
IIR_TYPES = ("butter", "cheby1", "bessel", "ellip")
FILTER_TYPES = (*IIR_TYPES, "stft", "stft_hard")   # "stft": resample only; "stft_hard": bin zeroing
STFT_HARD = (2048, 441)                 # n_fft, hop of voicefixer_main's FDomainHelper
CODE_COMMIT = "haoheliu/voicefixer_main@0c206f7"


@dataclass(frozen=True)
class TrainDistribution:
    """Probabilities, ranges and conventions of the training degradation (see the module doc)."""
    name: str = "voicefixer_0c206f7"
    source: str = CODE_COMMIT
    order: tuple[str, ...] = ("input_lowpass", "clip", "reverb", "lowpass", "noise")
    p_input_lowpass: float = 0.3                       # RandomServer "low_pass" default
    input_lowpass_hz: tuple[float, float] = (3000.0, 7000.0)
    p_clip: float = 0.2
    clip_range: tuple[float, float] = (0.1, 0.5)       # 001/002
    clip_draw: str = "inverse"                         # eta = 1/U(1/hi, 1/lo) (louder_time); "uniform"
    clip_reference: str = "extremes"                   # clamp(x, eta min x, eta max x); "peak": +-eta of peak 1
    p_reverb: float = 0.3
    p_lowpass: float = 1.0
    cutoff_range: tuple[float, float] = (1000.0, 22050.0)   # 001/002
    cutoff_step: float = 50.0                          # Hz grid of the cutoffs (see the module doc)
    order_range: tuple[int, int] = (2, 9)              # int(U(2, 10))
    filter_types: tuple[str, ...] = ("cheby1", "ellip", "bessel", "stft_hard", "stft", "butter")
    bessel_norm: str = "phase"                         # scipy's default, as voicefixer_main calls it
    p_resample: float = 0.5                            # resample to 2c and back after the filter
    p_noise_lowpass: float = 0.5
    p_noise_resample: float = 1 / 3
    p_noise: float = 25 / 45                           # the code's U(-5, 40) restricted to <= 20 dB
    snr_range: tuple[float, float] = (-5.0, 20.0)      # 001/002
    gain_range: tuple[float, float] = (0.3, 1.0)

    def __post_init__(self) -> None:
        if sorted(self.order) != sorted(STAGES):
            raise ValueError(f"order must be a permutation of {STAGES}, got {self.order}")
        bad = set(self.filter_types) - set(FILTER_TYPES)
        if bad:
            raise ValueError(f"unknown filter types {sorted(bad)}; known: {FILTER_TYPES}")
        if self.clip_draw not in ("inverse", "uniform") or self.clip_reference not in ("extremes", "peak"):
            raise ValueError(f"bad clip convention {self.clip_draw}/{self.clip_reference}")

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


# Algorithm 1 as the 003 text gives it and `testsets.distortions` renders it (the trainer's
# distribution before issue 25), with 001/002's ranges; cutoff_step=1 is the old 1-Hz rounding.
ALGORITHM1 = TrainDistribution(
    name="algorithm1_text", source="003 App. C.2 (text)", order=("input_lowpass", "reverb", "clip", "lowpass", "noise"),
    p_input_lowpass=0.0, p_clip=0.25, clip_draw="uniform", clip_reference="peak", p_reverb=0.25,
    p_lowpass=0.5, filter_types=IIR_TYPES, order_range=(2, 10), bessel_norm="mag", p_resample=1.0,
    p_noise_lowpass=0.5, p_noise_resample=1.0, p_noise=1.0, cutoff_step=1.0)
VOICEFIXER_CODE = TrainDistribution()
DISTRIBUTIONS = {d.name: d for d in (VOICEFIXER_CODE, ALGORITHM1)}


def get_distribution(name: str) -> TrainDistribution:
    try:
        return DISTRIBUTIONS[name]
    except KeyError:
        raise ValueError(f"unknown training degradation '{name}'. Known: {', '.join(DISTRIBUTIONS)}") from None


@dataclass(frozen=True)
class Lowpass:
    filter_type: str
    cutoff: float              # Hz
    order: int
    resample: bool             # then resampled to 2c and back


@dataclass(frozen=True)
class TrainParams:
    """Every parameter drawn for one training item; None: the stage is off."""
    input_lowpass_hz: float | None = None
    clip_eta: float | None = None
    reverb: bool = False
    lowpass: Lowpass | None = None
    noise_lowpass: Lowpass | None = None
    snr_db: float | None = None
    gain: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def quantise_cutoff(c: float, step: float) -> float:
    return float(round(c / step) * step) if step > 0 else float(c)


def sample(rng: np.random.Generator, dist: TrainDistribution) -> TrainParams:
    """One item's parameters. Every value is drawn whether or not its stage is on, in a fixed order,
    so changing one probability never shifts the other draws."""
    coins = rng.random(8)
    f_in = float(rng.uniform(*dist.input_lowpass_hz))
    lo, hi = dist.clip_range
    eta = float(1.0 / rng.uniform(1.0 / hi, 1.0 / lo)) if dist.clip_draw == "inverse" else float(rng.uniform(lo, hi))
    ftype = dist.filter_types[int(rng.integers(len(dist.filter_types)))]
    cutoff = quantise_cutoff(float(rng.uniform(*dist.cutoff_range)), dist.cutoff_step)
    forder = int(rng.integers(dist.order_range[0], dist.order_range[1] + 1))
    snr = float(rng.uniform(*dist.snr_range))
    gain = float(rng.uniform(*dist.gain_range))
    lowpass_on, noise_on = coins[3] < dist.p_lowpass, coins[7] < dist.p_noise
    lp = Lowpass(ftype, cutoff, forder, bool(coins[4] < dist.p_resample)) if lowpass_on else None
    noise_after_lp = dist.order.index("noise") > dist.order.index("lowpass")
    noise_lp = (Lowpass(ftype, cutoff, forder, bool(coins[6] < dist.p_noise_resample))
                if lp is not None and noise_on and noise_after_lp and coins[5] < dist.p_noise_lowpass else None)
    return TrainParams(input_lowpass_hz=f_in if coins[0] < dist.p_input_lowpass else None,
                       clip_eta=eta if coins[1] < dist.p_clip else None,
                       reverb=bool(coins[2] < dist.p_reverb), lowpass=lp, noise_lowpass=noise_lp,
                       snr_db=snr if noise_on else None, gain=gain)


# --- cached designs -------------------------------------------------------------------------------

@lru_cache(maxsize=1 << 15)
def iir_sos(filter_type: str, order: int, cutoff: float, rate: int, bessel_norm: str = "phase") -> np.ndarray:
    """Second-order sections as voicefixer_main tools/dsp/lowpass.py `lowpass_filter` designs them
    (`testsets.distortions.design_lowpass`, cached: a long run draws each design many times)."""
    return design_lowpass(filter_type, order, cutoff, rate, bessel_norm)


@lru_cache(maxsize=1 << 15)
def filtfilt_design(filter_type: str, order: int, cutoff: float, rate: int,
                    bessel_norm: str = "phase") -> tuple[np.ndarray, np.ndarray, int]:
    """`iir_sos` with what `scipy.signal.sosfiltfilt` derives from it on every call, derived once:
    the steady-state initial conditions (`sosfilt_zi`) and the odd-extension length (3 x taps)."""
    sos = iir_sos(filter_type, order, cutoff, rate, bessel_norm)
    taps = 2 * len(sos) + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    return sos, signal.sosfilt_zi(sos), 3 * taps


def sosfiltfilt(design: tuple[np.ndarray, np.ndarray, int], x: np.ndarray) -> np.ndarray:
    """`scipy.signal.sosfiltfilt(sos, x)` (odd padding, default padlen) for a 1-D x, with the
    design's initial conditions computed once: the same operations in the same order (float64),
    so the same output, bit for bit, without the per-call validation and `sosfilt_zi` solve."""
    sos, zi, edge = design
    if len(x) <= edge:
        return signal.sosfiltfilt(sos, x)              # scipy's own error / behaviour
    x = np.asarray(x)                              # extended in its own dtype, filtered in float64
    ext = np.concatenate((2 * x[0] - x[edge:0:-1], x, 2 * x[-1] - x[-2:-(edge + 2):-1]))
    y, _ = signal.sosfilt(sos, ext, zi=zi * ext[0])
    y, _ = signal.sosfilt(sos, y[::-1], zi=zi * y[-1])
    return y[::-1][edge:-edge]


@lru_cache(maxsize=64)
def resample_fir(m: int) -> np.ndarray:
    """The FIR `scipy.signal.resample_poly` designs for max(up, down) = m (Kaiser beta 5, 10 zero
    crossings a side), designed once: passed back as its `window` the result is the same. With
    cutoffs on a 50 Hz grid at 44.1 kHz, m is one of the 9 divisors of 441."""
    return signal.firwin(2 * 10 * m + 1, 1.0 / m, window=("kaiser", 5.0)).astype(np.float32)


@dataclass(frozen=True)
class _Polyphase:
    """One `resample_poly(x, up, down)` pass as dense blocks (see `polyphase_plan`)."""
    up: int
    down: int
    taps: int                  # K: filter taps per output phase
    first: int                 # index of the first output kept (resample_poly's n_pre_remove)
    offsets: np.ndarray        # (B,) input offset of each block's window, relative to q * down
    kernels: Any               # torch (B, W, R): block b's outputs r = b R + j from W inputs


POLYPHASE_BLOCK = 2.0          # outputs per block ~ 2 K up / down: the fastest on one core (measured)
SMALL_PHASES = 4               # up to this many output phases: one strided conv1d (matmul is slower)


@lru_cache(maxsize=1024)      # the 50 Hz grid at 44.1 kHz has 842 passes: ~65 MB, ~0.9 ms each to make
def polyphase_plan(up: int, down: int) -> _Polyphase:
    """`scipy.signal.resample_poly(x, up, down, window=resample_fir(max(up, down)))` written as
    y[n] = sum_j x[j] f[n down - j up] (f: the FIR times up, zero-padded in front as resample_poly
    pads it; n from its n_pre_remove on). Output n = q up + r, with r down = up s_r + t_r, takes
    x[q down + s_r - i] f[up i + t_r], i < K. The up phases r are cut into blocks of R
    consecutive phases; block b reads a window of W = s_(last) - s_(first) + K inputs starting at
    q down + offsets[b] and is one dense (W x R) matrix, so a pass is B small matrix products on
    strided views of x (vectorised; a strided conv1d for a few phases) instead of upfirdn's scalar
    loop: the same products, summed in another order (float32 rounding apart, the same output).
    Results do not depend on the torch thread count or on where x was allocated (the padded copy
    and the kernels are torch allocations; checked by checksum across processes)."""
    import torch
    h = resample_fir(max(up, down))
    half = (len(h) - 1) // 2
    pre = down - half % down
    f = np.concatenate((np.zeros(pre, np.float32), h * np.float32(up), np.zeros(1, np.float32)))
    taps = -(-(len(f) - 1) // up)
    r = np.arange(up)
    s_r, t_r = r * down // up, r * down % up
    per = max(1, min(up, round(POLYPHASE_BLOCK * taps * up / down)))
    blocks = -(-up // per)
    rr = np.minimum(np.arange(blocks * per).reshape(blocks, per), up - 1)     # last block padded
    first = s_r[rr[:, 0]]
    width = int(np.max(s_r[rr[:, -1]] - first)) + taps
    i = (s_r[rr][:, None, :] - first[:, None, None] + taps - 1) - np.arange(width)[None, :, None]
    idx = up * i + t_r[rr][:, None, :]
    idx = np.where((i >= 0) & (idx < len(f) - 1) & (np.arange(blocks * per).reshape(blocks, 1, per) < up),
                   idx, len(f) - 1)                                          # f[-1] is the zero
    kernels = torch.from_numpy(f[idx]).clone()                               # torch-aligned memory
    return _Polyphase(up, down, taps, (half + pre) // down, first - taps + 1, kernels)


def polyphase(x: np.ndarray, plan: _Polyphase) -> np.ndarray:
    """`resample_poly` of x (float32, 1-D) by `plan`: length ceil(len(x) up / down)."""
    import torch
    up, down = plan.up, plan.down
    blocks, width, per = plan.kernels.shape
    n_out = -(-len(x) * up // down)
    q0, q1 = plan.first // up, (plan.first + n_out - 1) // up
    rows = q1 - q0 + 1
    left = max(0, -(q0 * down + int(plan.offsets.min())))
    total = max(left + len(x), left + q1 * down + int(plan.offsets.max()) + width)
    xp = torch.zeros(total, dtype=torch.float32)
    xp[left:left + len(x)] = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    y = torch.empty((rows, blocks, per), dtype=torch.float32)
    for b in range(blocks):
        at = q0 * down + int(plan.offsets[b]) + left
        if per <= SMALL_PHASES:      # a few output phases (down passes of cutoffs 1/k of rate/2)
            y[:, b, :] = torch.nn.functional.conv1d(xp[at:at + (rows - 1) * down + width][None, None],
                                                    plan.kernels[b].T[:, None, :], stride=down)[0].T
        else:
            y[:, b, :] = xp.as_strided((rows, width), (down, 1), at) @ plan.kernels[b]
    y = y.reshape(rows, blocks * per)[:, :up].reshape(-1)
    start = plan.first - q0 * up
    return y[start:start + n_out].numpy()


def resample_down_up(x: np.ndarray, rate: int, low: int) -> np.ndarray:
    """To `low` Hz and back with resample_poly (the recipe's resampler, its FIR from
    `resample_fir`), same length as x; both passes by `polyphase` (same filter and phases; float32
    sums in another order)."""
    g = np.gcd(int(low), int(rate))
    up, down = int(low) // g, int(rate) // g
    y = polyphase(np.asarray(x, dtype=np.float32), polyphase_plan(up, down))
    y = polyphase(y, polyphase_plan(down, up))
    return _fit(y, len(x))


@lru_cache(maxsize=4)
def _stft_window(n_fft: int, hop: int, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Periodic Hann window and the inverse of its squared overlap-add over `frames` frames."""
    w = signal.get_window("hann", n_fft).astype(np.float32)
    ola = _overlap_add(np.broadcast_to(w * w, (frames, n_fft)), hop)
    return w, np.where(ola > 1e-8, 1.0 / np.maximum(ola, 1e-8), 0.0).astype(np.float32)


def _overlap_add(frames: np.ndarray, hop: int) -> np.ndarray:
    """Sum of frames placed every `hop` samples (ceil(n_fft / hop) vector adds, not one per frame)."""
    f, n = frames.shape
    k = -(-n // hop)
    blocks = np.zeros((f + k - 1, hop), dtype=np.float32)
    for j in range(k):
        width = min(hop, n - j * hop)
        blocks[j:j + f, :width] += frames[:, j * hop:j * hop + width]
    return blocks.reshape(-1)[: n + hop * (f - 1)]


def stft_hard_lowpass(x: np.ndarray, rate: int, cutoff: float) -> np.ndarray:
    """Zero the STFT bins at and above int(bins * c / (rate/2)) (voicefixer_main
    `stft_hard_lowpass_v0`: n_fft 2048, hop 441, Hann, centred with reflect padding, inverse by
    windowed overlap-add)."""
    from scipy import fft
    n_fft, hop = STFT_HARD
    x = np.asarray(x, dtype=np.float32)
    pad = np.pad(x, n_fft // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(pad, n_fft)[::hop]
    w, inv = _stft_window(n_fft, hop, len(frames))
    spec = fft.rfft(frames * w, axis=1, overwrite_x=True)
    spec[:, int(spec.shape[1] * cutoff / int(rate / 2)):] = 0
    y = fft.irfft(spec, n_fft, axis=1, overwrite_x=True)
    y *= w
    out = _overlap_add(y, hop)[n_fft // 2:n_fft // 2 + len(x)]
    return out * inv[n_fft // 2:n_fft // 2 + len(x)]


def cutoff_grid(dist: TrainDistribution) -> np.ndarray:
    lo, hi = dist.cutoff_range
    return np.unique([quantise_cutoff(c, dist.cutoff_step) for c in np.arange(lo, hi + dist.cutoff_step,
                                                                                   dist.cutoff_step)])


def warm_designs(dist: TrainDistribution, rate: int, iir: bool = False) -> int:
    """Design the resampler FIRs the cutoff grid can ask for (a few ms; a DataLoader worker's
    start-up) and, with `iir`, every IIR design of the grid (types x orders x cutoffs: ~13,500
    for the default, some CPU seconds; otherwise each is cached when first drawn). Returns how
    many designs are cached."""
    ms, n = set(), 0
    for c in cutoff_grid(dist):
        if c >= rate / 2:
            continue
        g = np.gcd(int(round(2 * c)), int(rate))
        ms.add(max(int(round(2 * c)) // g, int(rate) // g))
        if iir:
            for t in (t for t in dist.filter_types if t in IIR_TYPES):
                for o in range(dist.order_range[0], dist.order_range[1] + 1):
                    iir_sos(t, o, float(c), rate, dist.bessel_norm)
                    n += 1
    for m in ms:
        resample_fir(m)
    return n + len(ms)


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    return x[:n] if len(x) >= n else np.pad(x, (0, n - len(x)))


def apply_lowpass(x: np.ndarray, rate: int, lp: Lowpass, bessel_norm: str) -> np.ndarray:
    """The drawn filter, then (when drawn) resampling to 2c and back; same length as x. A cutoff at
    or above the Nyquist frequency leaves x as it is."""
    if lp.cutoff >= rate / 2:
        return x
    y = np.asarray(x, dtype=np.float32)
    if lp.filter_type in IIR_TYPES:
        y = sosfiltfilt(filtfilt_design(lp.filter_type, lp.order, float(lp.cutoff), rate, bessel_norm), y)
        y = y.astype(np.float32)
    elif lp.filter_type == "stft_hard":
        y = stft_hard_lowpass(y, rate, lp.cutoff)
    if lp.filter_type == "stft" or lp.resample:
        y = resample_down_up(y, rate, int(round(2 * lp.cutoff)))
        if lp.filter_type == "stft" and lp.resample:     # the collator's extra pass
            y = resample_down_up(y, rate, int(round(2 * lp.cutoff)))
    return y.astype(np.float32)


def input_lowpass(x: np.ndarray, rate: int, cutoff: float) -> np.ndarray:
    """sox `lowpass F` (two poles, Q 0.707): a 2nd-order Butterworth biquad run forward only."""
    return signal.sosfilt(iir_sos("butter", 2, float(cutoff), rate), x).astype(np.float32)


def clip(x: np.ndarray, eta: float, reference: str) -> np.ndarray:
    if reference == "extremes":                  # WavAugment ClipValue: relative to min and max
        return np.clip(x, eta * float(x.min()), eta * float(x.max()))
    return np.clip(peak_normalise(x), -eta, eta)


RIR_SPECTRA = 16                        # RIR spectra kept (a worker's pool draws the same RIRs again)
_rir_spectra: OrderedDict[tuple, np.ndarray] = OrderedDict()


def _rir_spectrum(rir: np.ndarray, size: int) -> np.ndarray:
    """rfft(rir, size), kept for the last `RIR_SPECTRA` RIRs (keyed by their bytes' SHA-1, 0.1 ms,
    against 1.3 ms for the transform)."""
    from scipy import fft
    key = (hashlib.sha1(rir.tobytes()).digest(), rir.dtype.str, len(rir), size)
    h = _rir_spectra.pop(key, None)
    if h is None:
        h = fft.rfft(rir, size)
    _rir_spectra[key] = h
    while len(_rir_spectra) > RIR_SPECTRA:
        _rir_spectra.popitem(last=False)
    return h


def reverb(x: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """`testsets.distortions.apply_reverb` in float32: convolve, renormalise a peak above 0.99 to
    0.98 (voicefixer_main `reverb_rir`), shift by the RIR's largest tap so input and target align.
    The convolution is `scipy.signal.fftconvolve`'s (full, same FFT size and transforms), with
    the RIR's transform kept between calls."""
    from scipy import fft
    x, rir = np.asarray(x, dtype=np.float32), np.asarray(rir, dtype=np.float32)
    n = len(x) + len(rir) - 1
    size = fft.next_fast_len(n, real=True)
    y = fft.irfft(fft.rfft(x, size) * _rir_spectrum(rir, size), size)[:n]
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak > REVERB_PEAK_LIMIT:
        y *= REVERB_PEAK_TO / peak
    return _fit(y[argmax_delay(rir):], len(x)).astype(np.float32, copy=False)


def scale_noise(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """`testsets.distortions.scale_noise_algorithm1` in float32 (one factor computed in float64):
    noise peak to 1, mean |n| to mean |x| when mean |x| > 0.02, then / 10^(SNR/20)."""
    peak = float(np.max(np.abs(noise))) if noise.size else 0.0
    if peak <= 0:
        raise ValueError("the noise segment is silent; cannot set an SNR")
    factor = 1.0 / peak
    level = float(np.mean(np.abs(speech), dtype=np.float64))
    if level > ALG1_MIN_LEVEL:
        factor *= level / (float(np.mean(np.abs(noise), dtype=np.float64)) * factor)
    return (noise * np.float32(factor / 10 ** (snr_db / 20))).astype(np.float32, copy=False)


def render(clean: np.ndarray, rate: int, params: TrainParams, dist: TrainDistribution,
           noise: np.ndarray | None = None, rir: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(degraded input, target) of one item: the stages in `dist.order`, then both divided by
    their common peak and multiplied by the gain q (as `testsets.distortions.render`)."""
    s = peak_normalise(np.asarray(clean, dtype=np.float32))
    x = s
    for stage in dist.order:
        if stage == "input_lowpass" and params.input_lowpass_hz is not None:
            x = input_lowpass(x, rate, params.input_lowpass_hz)
        elif stage == "clip" and params.clip_eta is not None:
            x = clip(x, params.clip_eta, dist.clip_reference)
        elif stage == "reverb" and params.reverb:
            if rir is None:
                raise ValueError("params ask for reverb but no RIR was given")
            x = reverb(x, rir)
        elif stage == "lowpass" and params.lowpass is not None:
            x = apply_lowpass(x, rate, params.lowpass, dist.bessel_norm)
        elif stage == "noise" and params.snr_db is not None:
            if noise is None or len(noise) < len(x):
                raise ValueError("params ask for noise but no noise segment as long as the speech was given")
            n = np.asarray(noise[: len(x)], dtype=np.float32)
            if params.noise_lowpass is not None:
                n = apply_lowpass(n, rate, params.noise_lowpass, dist.bessel_norm)
            x = x + scale_noise(x, n, params.snr_db)
    common = max(float(np.max(np.abs(x))), float(np.max(np.abs(s))))
    g = params.gain / common if common > 0 else params.gain
    return (x * g).astype(np.float32), (s * g).astype(np.float32)


def from_algorithm1(p, cutoff_step: float = 50.0) -> TrainParams:
    """`testsets.distortions.DistortionParams` (Algorithm 1 order) as TrainParams for `ALGORITHM1`,
    the cutoff put on the grid: the same item through the fast path (benchmarks and tests)."""
    lp = p.lowpass
    fast = (Lowpass(lp.filter_type, quantise_cutoff(lp.cutoff, cutoff_step), lp.order, True)
            if lp is not None else None)
    return TrainParams(input_lowpass_hz=None, clip_eta=p.clip_eta, reverb=p.reverb, lowpass=fast,
                       noise_lowpass=fast if p.noise_lowpass else None, snr_db=p.snr_db, gain=p.gain)
