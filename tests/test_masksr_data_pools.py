"""`systems.masksr.data.NoiseRirPools` noise on the real recordings of ../shared/data (16 and
48 kHz files): a file resampled once and kept gives the excerpt the per-draw path gives, up to the
documented sub-sample offset; draws are a pure function of the seed whatever was drawn before."""

from __future__ import annotations

import hashlib

import numpy as np

from systems.masksr.config import get_config
from systems.masksr.data import NoiseRirPools

N = 4 * 44100


def _pools(corpora, mb: float) -> NoiseRirPools:
    return NoiseRirPools(get_config("masksr2_tiny"), sorted((corpora / "noise").glob("*.wav")), [], 0, 0,
                         noise_cache_mb=mb)


def test_kept_noise_is_the_per_draw_excerpt_up_to_the_sub_sample_offset(corpora):
    kept, per_draw = _pools(corpora, 256), _pools(corpora, 0)
    assert len(kept._noise_kept) == 3 and not per_draw._noise_kept
    assert set(kept.noise_rates.tolist()) == {16000, 48000}
    fr = np.fft.rfftfreq(N)
    inner = slice(2000, N - 2000)                  # the per-draw resampler's edge transients
    rates = set()
    for k in range(8):
        r = np.random.default_rng([5, k])          # the draws noise_for makes: file, then start
        f = int(r.integers(3))
        rate, frames = int(kept.noise_rates[f]), int(kept.noise_frames[f])
        start = int(r.integers(0, frames - (-(-N * rate // 44100) + 64) + 1))
        frac = start * 44100 / rate - start * 44100 // rate
        a = kept.noise_for(np.random.default_rng([5, k]), N)
        b = per_draw.noise_for(np.random.default_rng([5, k]), N)
        assert a.shape == b.shape == (N,) and a.dtype == b.dtype == np.float32
        # advance the kept slice by the fraction of a sample the floor dropped: then they agree
        shifted = np.fft.irfft(np.fft.rfft(a) * np.exp(2j * np.pi * fr * frac), N)
        err = np.sqrt(np.mean((shifted[inner] - b[inner]) ** 2) / np.mean(b[inner] ** 2))
        assert err < 1e-4, (k, rate, frac, err)
        rates.add(rate)
    assert rates == {16000, 48000}


def test_noise_draws_do_not_depend_on_what_was_drawn_before(corpora):
    def digest(pools: NoiseRirPools, seeds) -> str:
        h = hashlib.sha256()
        for k in seeds:
            h.update(pools.noise_for(np.random.default_rng([9, k]), N).tobytes())
        return h.hexdigest()
    warm = _pools(corpora, 256)
    digest(warm, range(20, 40))                    # other draws first: files kept in another order
    assert digest(warm, range(6)) == digest(_pools(corpora, 256), range(6))
    # a budget that keeps only the smallest file: the other files go the per-draw way
    small = _pools(corpora, 1.0)
    assert [small.noise_files[k].name for k in small._noise_kept] == ["noise_freesound_573577.wav"]
    x = small.noise_for(np.random.default_rng([9, 0]), N)
    assert np.array_equal(x, small.noise_for(np.random.default_rng([9, 0]), N))
    assert x.flags.writeable
