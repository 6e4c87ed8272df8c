"""LSD / SiSPNR / SSIM (VoiceFixer's spectral metrics) and SI-SNR."""

import numpy as np
from metrics_support import vctk_clips
from scipy.signal import butter, sosfiltfilt

from benchmark.core.audio import read_audio
from metrics import METRICS, MetricItem
from metrics.lsd import lsd


def _speech(corpora, k=0):
    x, r = read_audio(vctk_clips(corpora)[k])
    return METRICS.get("lsd")().at_rate(x, r)


def _lowpass(x, cutoff, rate=44100):
    return sosfiltfilt(butter(8, cutoff, fs=rate, output="sos"), x).astype(np.float32)


def test_lsd_analytic_cases(corpora):
    x = _speech(corpora)
    assert lsd(x, x) < 1e-4          # 0 up to the eps = 1e-12 terms of the definition
    for k in (0.5, 2.0, 10.0):
        assert abs(lsd(k * x, x) - 2 * abs(np.log10(k))) < 1e-3, k
    values = [lsd(_lowpass(x, c), x) for c in (16000, 8000, 4000, 2000)]
    assert values[0] > 0.1
    assert all(a < b for a, b in zip(values, values[1:], strict=False)), values


def test_spectral_metrics_on_vctk_through_the_metric_interface(corpora):
    names = ("lsd", "sispnr", "ssim", "si_snr")
    ms = {n: METRICS.get(n)() for n in names}
    clips = vctk_clips(corpora)[:3]
    rng = np.random.default_rng(0)
    for path in clips:
        x, r = read_audio(path)                      # 48 kHz: each metric resamples to 44.1 kHz
        x44 = ms["lsd"].at_rate(x, r)
        noise = rng.standard_normal(x44.size).astype(np.float32)
        noisy = x44 + noise * np.std(x44) / np.std(noise) / np.sqrt(10)    # white noise, 10 dB SNR
        lp = _lowpass(ms["lsd"].at_rate(x, r), 4000)
        items = [MetricItem("self", x, r, x, r), MetricItem("noisy", noisy, 44100, x, r),
                 MetricItem("lowpass", lp, 44100, x, r)]
        got = {n: ms[n].score(items) for n in names}
        for n in names:
            assert all(s.error is None for s in got[n]), (n, [s.error for s in got[n]])
        lsd_v = [s.values["LSD"] for s in got["lsd"]]
        assert lsd_v[0] < 1e-4 < lsd_v[1] and lsd_v[2] > 0.5
        sp = [s.values["SiSPNR"] for s in got["sispnr"]]
        assert sp[0] > 60 and sp[1] < sp[0] and sp[2] < sp[0]
        ss = [s.values["SSIM"] for s in got["ssim"]]
        assert abs(ss[0] - 1) < 1e-9 and ss[1] < 1 and ss[2] < 1
        sn = [s.values["SI-SNR"] for s in got["si_snr"]]
        assert sn[0] > 60 and abs(sn[1] - 10) < 0.2


def test_si_snr_scale_invariant_and_known_value(corpora):
    x = _speech(corpora, 2).astype(np.float64)
    from metrics.si_snr import si_snr
    rng = np.random.default_rng(1)
    n = rng.standard_normal(x.size)
    n -= n.mean()
    n *= np.sqrt(np.sum((x - x.mean()) ** 2) / np.sum(n ** 2)) / 10 ** 0.5   # 10 dB below
    # noise orthogonal to x up to sampling error: SI-SNR ~ 10 dB and unchanged by scaling
    assert abs(si_snr(x + n, x) - 10) < 0.2
    assert abs(si_snr(3 * (x + n), x) - si_snr(x + n, x)) < 1e-6


def test_reference_metrics_record_missing_or_mismatched_reference(corpora):
    x, r = read_audio(vctk_clips(corpora)[0])
    m = METRICS.get("lsd")()
    none, far = m.score([MetricItem("a", x, r), MetricItem("b", x, r, x[: x.size // 2], r)])
    assert "needs a reference" in none.error
    assert "lengths differ" in far.error
