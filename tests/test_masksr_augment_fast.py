"""The speed-ups inside `systems/masksr/augment.py` compute what the scipy calls they replace
compute, on real audio (VCTK speech, the real RIRs of ../shared/data): the same operations in the
same order, so the same float32/float64 output bit for bit (asserted exactly for that reason)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from systems.masksr import augment as A

RATE = 44100
pytestmark = pytest.mark.usefixtures("one_torch_thread")   # conftest.py


@pytest.fixture(scope="module")
def speech(corpora):
    from systems.masksr.segments import load_at
    x = load_at(sorted((corpora / "VCTK-Corpus-0.92").rglob("*.flac"))[1], RATE)[: 3 * RATE]
    return (x / np.abs(x).max()).astype(np.float32)


def test_sosfiltfilt_with_kept_initial_conditions_is_scipys(speech):
    for ftype in A.IIR_TYPES:
        for order, cutoff in ((2, 1000.0), (5, 7050.0), (9, 3000.0), (9, 21000.0)):
            design = A.filtfilt_design(ftype, order, cutoff, RATE, "phase")
            ref = signal.sosfiltfilt(A.iir_sos(ftype, order, cutoff, RATE, "phase"), speech)
            got = A.sosfiltfilt(design, speech)
            assert got.dtype == ref.dtype == np.float64
            # the same operations in the same order: bit-identical with today's scipy; a tolerance
            # (1e-12 of the peak, float64) so another scipy's internals cannot fail it
            np.testing.assert_allclose(got, ref, atol=1e-12 * np.abs(ref).max(), rtol=0)
    short = speech[:10]                                       # shorter than the padding: scipy's error
    with pytest.raises(ValueError, match="padlen"):
        A.sosfiltfilt(A.filtfilt_design("ellip", 9, 3000.0, RATE, "phase"), short)


def _same(got, ref):
    """fftconvolve's transforms: bit-identical with today's scipy; 1e-6 of the peak (float32) so
    another scipy's FFT cannot fail it (a stale transform is off by far more)."""
    np.testing.assert_allclose(got, ref, atol=1e-6 * np.abs(ref).max(), rtol=0)


def test_reverb_with_kept_rir_spectra_is_fftconvolve(speech, corpora):
    from systems.masksr.segments import load_at
    from testsets.distortions import REVERB_PEAK_LIMIT, REVERB_PEAK_TO, argmax_delay
    A._rir_spectra.clear()
    for name in ("rir_clap.wav", "rir_sim_1001_w11.7_l2.6_h2.5_rt60_0.7919.wav"):
        rir = load_at(corpora / "rirs" / name, RATE)
        for gain in (0.2, 1.0):                               # below and above the renormalised peak
            y = signal.fftconvolve(gain * speech, rir)
            peak = float(np.abs(y).max())                     # the factor in float64, as apply_reverb
            if peak > REVERB_PEAK_LIMIT:
                y *= REVERB_PEAK_TO / peak
            ref = y[argmax_delay(rir):][: len(speech)]
            for _ in range(2):                                # transform made, then kept
                _same(A.reverb(gain * speech, rir), ref)
    assert len(A._rir_spectra) == 2
    changed = rir.copy()
    changed[5] += 0.1                                         # new bytes: a new transform
    y = signal.fftconvolve(speech, changed)
    peak = float(np.abs(y).max())
    y = y * np.float32(REVERB_PEAK_TO / peak) if peak > REVERB_PEAK_LIMIT else y
    _same(A.reverb(speech, changed), y[argmax_delay(changed):][: len(speech)])


def test_polyphase_passes_are_resample_poly_within_float32_rounding(speech):
    """Every resampling the 50 Hz cutoff grid can ask for has max(up, down) among the divisors
    of 441: a cutoff per divisor (both directions), plus the cutoffs with 1-3 output phases
    (the strided-conv branch) and lengths that are not multiples of the block. Different summation
    order than upfirdn: equal within 2e-6 of the peak (1.2e-6 measured)."""
    cases = [(2 * c // g, RATE // g) for c, g in ((c, np.gcd(2 * c, RATE)) for c in
             (1000, 1350, 1400, 1650, 2100, 3150, 4900, 7350, 9800, 11000, 14700, 21000, 21950))]
    assert {max(u, d) for u, d in cases} == {441, 147, 63, 49, 21, 9, 7, 3}   # all but 1 (Nyquist)
    for up, down in cases:
        h = A.resample_fir(max(up, down))
        for x in (speech, speech[: len(speech) - 7], signal.resample_poly(speech, up, down, window=h)):
            for u, d in ((up, down), (down, up)):
                ref = signal.resample_poly(x, u, d, window=h)
                got = A.polyphase(x, A.polyphase_plan(u, d))
                assert got.shape == ref.shape and got.dtype == ref.dtype == np.float32
                np.testing.assert_allclose(got, ref, atol=2e-6 * np.abs(ref).max(), rtol=0)
    # the down-up round trip (what apply_lowpass uses) on the grid's extremes
    for c in (1000, 4900, 21950):
        h = A.resample_fir(RATE // int(np.gcd(2 * c, RATE)))
        ref = signal.resample_poly(signal.resample_poly(speech, 2 * c, RATE, window=h), RATE, 2 * c, window=h)
        np.testing.assert_allclose(A.resample_down_up(speech, RATE, 2 * c), ref[: len(speech)], atol=4e-6 * np.abs(ref).max(), rtol=0)
