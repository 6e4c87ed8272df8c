"""The backends that reproduce other toolkits' definitions (docs/comparing.md), each against that
toolkit's computation written out here from its code, on real audio from ../shared/data:
ssim:ssr_eval007 (ssr_eval 0.0.7 `metrics.py` `AudioMetrics.ssim`), si_snr:zero_mean_free
(torchmetrics 1.9.0 `functional/audio/sdr.py` with zero_mean=False; VERSA), dnsmos:onnx_soxr
(torchmetrics 1.9.0 `functional/audio/dnsmos.py` / URGENT 2025: librosa.resample, soxr_hq)."""

import numpy as np
import torch
from metrics_support import dns_pairs, item

from benchmark.core.audio import resample
from metrics import METRICS, MetricItem


def _skimage_ssim(x, y, data_range, win=7):
    """scikit-image structural_similarity (gaussian_weights=False, sample covariance), in torch
    float32 as it computes float32 input; scipy's 'reflect' border = numpy 'symmetric'."""
    def filt(a):
        p = np.pad(a, win // 2, mode="symmetric")
        k = torch.full((1, 1, win, win), 1.0 / win ** 2, dtype=torch.float64)
        return torch.nn.functional.conv2d(torch.tensor(p)[None, None], k)[0, 0].numpy()
    x, y = x.astype(np.float64), y.astype(np.float64)
    cn = win * win / (win * win - 1)
    ux, uy = filt(x), filt(y)
    vx, vy = cn * (filt(x * x) - ux * ux), cn * (filt(y * y) - uy * uy)
    vxy = cn * (filt(x * y) - ux * uy)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))
    return float(s[3:-3, 3:-3].mean())


def test_ssim_ssr_eval007_against_its_code(corpora):
    """ssr_eval 0.0.7 (PyPI, 2022): |librosa.stft(hop 441, n_fft 2048)| (float32) of both signals cut to the
    shorter, data_range = max of both maxima - min of both minima. Real DNS noisy/clean speech at
    44.1 kHz; the voicefixer form (data_range 2) gives a clearly lower value on the same pair."""
    import librosa
    noisy, clean = dns_pairs(corpora)[0]
    it = item(noisy, clean)
    x, r = (resample(a, 16000, 44100) for a in (it.audio, it.reference))
    # librosa < 0.10's default pad_mode "reflect" (0.10 changed it to "constant": 3e-5 here)
    spec = [np.abs(librosa.stft(a, hop_length=441, n_fft=2048, pad_mode="reflect")).T for a in (x, r)]
    rng = float(max(spec[1].max(), spec[0].max()) - min(spec[1].min(), spec[0].min()))
    want = _skimage_ssim(spec[0], spec[1], rng)
    got = {b: METRICS.get("ssim")(b).score([MetricItem("a", x, 44100, r, 44100)])[0].values["SSIM"]
           for b in ("ssr_eval007", "voicefixer")}
    assert abs(got["ssr_eval007"] - want) < 1e-5, (got, want)
    assert abs(got["voicefixer"] - _skimage_ssim(spec[0], spec[1], 2.0)) < 1e-5
    assert got["ssr_eval007"] - got["voicefixer"] > 0.05, got
