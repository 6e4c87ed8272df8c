"""Batched torch rendering of the training degradation on the training device (issue 25): the same
`augment.sample` parameters, a whole batch at once with FFTs, for when CPU workers cannot feed the
GPU (MaskSR-S: see bench/results/workers_per_gpu.md). Workers then only read audio and draw
parameters; this renders (B, N) on the device.

Every filter is applied in the frequency domain as one response per item, on the signal extended
by `PAD` samples a side as the CPU filter sees it (`_edge_extend`), then zeros, so no tail wraps:
- IIR low-pass (zero-phase, `sosfiltfilt` in `augment`): |H(f)|^2 of the same SOS design;
- resampling to 2c and back (`resample_poly`): Y(f) = G(f) [G(f) X(f) + G(2c - f) X*(2c - f)] with
  G the magnitude response of resample_poly's (zero-phase) Kaiser FIR: the pass band, and the one
  alias the decimation folds back around c (higher aliases lie in G's >= 54 dB stop band). The
  FFT length is a multiple of 441, so that 2c (a multiple of 100 Hz) falls on a bin;
- `stft_hard`: a brick wall at the same bin edge (the STFT version smears it over one bin);
- the sox-style input low-pass (causal biquad): H(f), causal;
- reverb: FFT convolution with the RIR, the same peak rule and direct-path shift.
These approximations are measured against `augment.render` (tests/test_masksr_augment.py)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from scipy import signal

from systems.masksr import augment as A

PAD = 8192                # samples of zero padding each side (IIR and FIR tails decay within it)


@lru_cache(maxsize=4)
def _fir_gain_curve(points: int = 8192, span: float = 4.0) -> np.ndarray:
    """|H(f)| of resample_poly's FIR for max(up, down) = 441 on f / c in [0, span] (unity at 0)."""
    m = 441
    h = A.resample_fir(m).astype(np.float64)
    u = np.linspace(0.0, span, points)
    _, resp = signal.freqz(h, worN=np.pi * u / m)
    g = np.abs(resp)
    return (g / g[0]).astype(np.float32)


def _interp_curve(curve: torch.Tensor, u: torch.Tensor, span: float = 4.0) -> torch.Tensor:
    idx = (u / span * (curve.numel() - 1)).clamp(0, curve.numel() - 1)
    lo = idx.floor().long().clamp(max=curve.numel() - 2)
    w = idx - lo
    return curve[lo] * (1 - w) + curve[lo + 1] * w


def _sos_response(sos: np.ndarray, w: torch.Tensor) -> torch.Tensor:
    """Complex H(e^{jw}) of second-order sections at angular frequencies w (on w's device)."""
    z1 = torch.polar(torch.ones_like(w), -w)
    z2 = z1 * z1
    s = torch.as_tensor(sos, dtype=torch.float64, device=w.device).to(torch.complex64)
    num = s[:, 0:1] + s[:, 1:2] * z1 + s[:, 2:3] * z2
    den = s[:, 3:4] + s[:, 4:5] * z1 + s[:, 5:6] * z2
    return torch.prod(num / den, dim=0)


def fft_length(n: int, rate: int) -> int:
    """>= n + 2 PAD, a multiple of rate / 100 (cutoff mirrors on bins) times a power of two."""
    unit = rate // 100 if rate % 100 == 0 else 1
    return unit * (1 << int(np.ceil(np.log2((n + 2 * PAD) / unit))))


def _lowpass_response(lp: A.Lowpass, rate: int, w: torch.Tensor, f: torch.Tensor,
                      dist: A.TrainDistribution):
    """(zero-phase filter response, resampling passes) of `augment.apply_lowpass`; None: the
    signal is left as it is."""
    if lp.cutoff >= rate / 2:
        return None
    r, padlen = torch.ones_like(f), 0
    if lp.filter_type in A.IIR_TYPES:
        sos = A.iir_sos(lp.filter_type, lp.order, float(lp.cutoff), rate, dist.bessel_norm)
        r, padlen = _sos_response(sos, w).abs() ** 2, 3 * (2 * len(sos) + 1)
    elif lp.filter_type == "stft_hard":
        n_fft = A.STFT_HARD[0]
        edge = int((n_fft // 2 + 1) * lp.cutoff / int(rate / 2)) * rate / n_fft
        r = (f < edge - rate / n_fft / 2).to(f.dtype)
    passes = int(lp.filter_type == "stft" or lp.resample) + int(lp.filter_type == "stft" and lp.resample)
    return r, passes, float(lp.cutoff), padlen


def _resample_down_up(spec: torch.Tensor, f: torch.Tensor, cutoff: float) -> torch.Tensor:
    """One rfft row through resample_poly to 2c and back (see the module docstring)."""
    df = float(f[1])
    k2c = int(round(2 * cutoff / df))
    g = _interp_curve(torch.as_tensor(_fir_gain_curve(), device=f.device), f / cutoff)
    out = g * g * spec
    k = torch.arange(min(k2c + 1, spec.numel()), device=f.device)
    mirror = k2c - k
    ok = mirror < spec.numel()
    k, mirror = k[ok], mirror[ok]
    out[k] = out[k] + g[k] * g[mirror] * spec[mirror].conj()
    return out


def _edge_extend(x: torch.Tensor, e: int, padlen: int) -> torch.Tensor:
    """(N,) -> (N + 2e) as `sosfiltfilt` sees the signal: `padlen` samples of point-symmetric
    extension, and before / after them the extension's end value held (its steady-state initial
    conditions assume that); padlen 0: zeros (resample_poly's edges)."""
    if padlen == 0:
        return torch.nn.functional.pad(x, (e, e))
    k = min(padlen, x.numel() - 1)
    left = 2 * x[:1] - x[1:k + 1].flip(0)
    right = 2 * x[-1:] - x[-k - 1:-1].flip(0)
    return torch.cat([left[:1].expand(e - k), left, x, right, right[-1:].expand(e - k)])


def _filter(x: torch.Tensor, responses: list, rate: int) -> torch.Tensor:
    """Each row of x (B, N) through its `_lowpass_response` (None: unchanged), zero-padded."""
    rows = [i for i, r in enumerate(responses) if r is not None]
    if not rows:
        return x
    n = x.shape[1]
    L = fft_length(n, rate)
    idx = torch.tensor(rows, device=x.device)
    padded = torch.stack([_edge_extend(x[i], PAD, responses[i][3]) for i in rows])
    spec = torch.fft.rfft(torch.nn.functional.pad(padded, (0, L - n - 2 * PAD)))
    f = torch.fft.rfftfreq(L, 1.0 / rate, device=x.device)
    out_spec = []
    for k, i in enumerate(rows):
        r, passes, cutoff, _ = responses[i]
        row = spec[k] * r
        for _ in range(passes):
            row = _resample_down_up(row, f, cutoff)
        out_spec.append(row)
    y = torch.fft.irfft(torch.stack(out_spec), L)[:, PAD:PAD + n]   # the zero tail absorbs the wrap
    out = x.clone()
    out[idx] = y.to(x.dtype)
    return out


def render_batch(clean: torch.Tensor, params: list[A.TrainParams], dist: A.TrainDistribution, rate: int,
                 noise: torch.Tensor | None = None, rirs: list[np.ndarray | None] | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """(degraded, target), each (B, N) on clean's device: `augment.render` for a batch."""
    dev = clean.device
    b, n = clean.shape
    L = fft_length(n, rate)
    f = torch.fft.rfftfreq(L, 1.0 / rate, device=dev)
    w = 2 * torch.pi * f / rate
    s = clean / clean.abs().amax(dim=1, keepdim=True).clamp(min=1e-12)
    x = s.clone()
    for stage in dist.order:
        if stage == "input_lowpass":
            resp = [(_sos_response(A.iir_sos("butter", 2, float(p.input_lowpass_hz), rate), w)
                     if p.input_lowpass_hz is not None else None) for p in params]
            rows = [i for i, r in enumerate(resp) if r is not None]
            if rows:                                     # causal: the tail runs into the right pad
                idx = torch.tensor(rows, device=dev)
                spec = torch.fft.rfft(torch.nn.functional.pad(x[idx], (0, L - n)))
                x = x.clone()
                x[idx] = torch.fft.irfft(spec * torch.stack([resp[i] for i in rows]), L)[:, :n]
        elif stage == "clip":
            eta = torch.tensor([p.clip_eta if p.clip_eta is not None else np.nan for p in params],
                               device=dev, dtype=x.dtype)[:, None]
            on = ~torch.isnan(eta)
            if dist.clip_reference == "extremes":
                lo, hi = eta * x.amin(dim=1, keepdim=True), eta * x.amax(dim=1, keepdim=True)
            else:
                x = torch.where(on, x / x.abs().amax(dim=1, keepdim=True).clamp(min=1e-12), x)
                lo, hi = -eta, eta
            x = torch.where(on, torch.minimum(torch.maximum(x, lo), hi), x)
        elif stage == "reverb":
            rows = [i for i, p in enumerate(params) if p.reverb]
            if rows:
                if rirs is None or any(rirs[i] is None for i in rows):
                    raise ValueError("params ask for reverb but no RIR was given")
                r_len = max(len(rirs[i]) for i in rows)
                size = n + r_len - 1
                h = torch.zeros(len(rows), r_len, device=dev, dtype=x.dtype)
                for k, i in enumerate(rows):
                    h[k, : len(rirs[i])] = torch.as_tensor(rirs[i], device=dev, dtype=x.dtype)
                idx = torch.tensor(rows, device=dev)
                y = torch.fft.irfft(torch.fft.rfft(x[idx], size) * torch.fft.rfft(h, size), size)
                peak = y.abs().amax(dim=1, keepdim=True)
                y = torch.where(peak > A.REVERB_PEAK_LIMIT, y / peak * A.REVERB_PEAK_TO, y)
                x = x.clone()
                for k, i in enumerate(rows):
                    shift = A.argmax_delay(rirs[i])
                    seg = y[k, shift:shift + n]
                    x[i] = torch.nn.functional.pad(seg, (0, n - seg.numel()))
        elif stage == "lowpass":
            x = _filter(x, [_lowpass_response(p.lowpass, rate, w, f, dist) if p.lowpass else None for p in params],
                        rate)
        elif stage == "noise":
            rows = [i for i, p in enumerate(params) if p.snr_db is not None]
            if rows:
                if noise is None:
                    raise ValueError("params ask for noise but no noise was given")
                nz = _filter(noise.to(x.dtype), [_lowpass_response(p.noise_lowpass, rate, w, f, dist)
                                                 if p.noise_lowpass is not None else None for p in params], rate)
                peak = nz.abs().amax(dim=1, keepdim=True).clamp(min=1e-12)
                level = x.abs().mean(dim=1, keepdim=True)
                factor = torch.where(level > A.ALG1_MIN_LEVEL, level / (nz.abs().mean(dim=1, keepdim=True) / peak),
                                     torch.ones_like(level)) / peak
                snr = torch.tensor([p.snr_db if p.snr_db is not None else np.nan for p in params],
                                   device=dev, dtype=x.dtype)[:, None]
                on = ~torch.isnan(snr)
                x = torch.where(on, x + nz * factor / 10 ** (torch.nan_to_num(snr) / 20), x)
    gain = torch.tensor([p.gain for p in params], device=dev, dtype=x.dtype)[:, None]
    common = torch.maximum(x.abs().amax(dim=1, keepdim=True), s.abs().amax(dim=1, keepdim=True)).clamp(min=1e-12)
    g = gain / common
    return x * g, s * g
