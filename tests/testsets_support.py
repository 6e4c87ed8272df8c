"""Measurements shared by the test-set tests (helpers only; no tests here)."""

from __future__ import annotations

import numpy as np

LEAK_DB = -60.0          # energy above the stop-band edge, relative to the total, must stay below this
# The recipes resample with scipy.signal.resample_poly (VoiceFixer's code, see testsets.distortions):
# its Kaiser(5) anti-aliasing filter has its transition band just above the cutoff. Measured on
# p361/p362 VCTK speech: -31 to -47 dB of the energy lies between the cutoff and 1.2 x cutoff,
# -68 to -72 dB above 1.2 x cutoff, for every filter type and order. The stop band starts there.
STOPBAND = 1.2
MIX_LEAK_DB = -50.0      # the same with noise mixed in before the low-pass (all_gsr's order)


def band_energy_db(y: np.ndarray, rate: int, above_hz: float) -> float:
    spec = np.abs(np.fft.rfft(y.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / rate)
    return float(10 * np.log10(spec[freqs > above_hz].sum() / spec.sum()))


def independent_active_snr(speech, noise, rate, active_db=40.0):
    """A second implementation of the documented SNR definition (10 ms frames within 40 dB)."""
    hop = rate // 100
    ps, pn, frame_power = [], [], []
    for start in range(0, len(speech), hop):
        s, n = speech[start:start + hop].astype(np.float64), noise[start:start + hop].astype(np.float64)
        frame_power.append(np.mean(s ** 2))
        ps.append(s)
        pn.append(n)
    thr = max(frame_power) * 10 ** (-active_db / 10)
    keep = [i for i, p in enumerate(frame_power) if p >= thr]
    s = np.concatenate([ps[i] for i in keep])
    n = np.concatenate([pn[i] for i in keep])
    return 10 * np.log10(np.mean(s ** 2) / np.mean(n ** 2))


def independent_algorithm1_snr(speech, noise):
    """003 App. C.2, Algorithm 1: the noise is scaled to mean|x| / mean|n| and divided by
    10^(S/20), so S = 20 log10(sum|x| / sum|n|) (written out again here)."""
    return 20 * np.log10(np.sum(np.abs(np.asarray(speech, np.float64)))
                         / np.sum(np.abs(np.asarray(noise, np.float64))))


def xcorr_lag(x, t, max_lag=2000):
    """The lag (samples) at which x best matches t: x[n] ~ t[n - lag]. FFT cross-correlation."""
    x, t = np.asarray(x, np.float64), np.asarray(t, np.float64)
    n = len(x) + len(t)
    size = 1 << (n - 1).bit_length()
    xc = np.fft.irfft(np.fft.rfft(x, size) * np.conj(np.fft.rfft(t, size)), size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    vals = np.concatenate([xc[: max_lag + 1], xc[-max_lag:]])
    return int(lags[int(np.argmax(vals))])
