"""The backends that reproduce other toolkits' definitions (docs/comparing.md), each against that
toolkit's computation written out here from its code, on real audio from ../shared/data:
ssim:ssr_eval007 (ssr_eval 0.0.7 `metrics.py` `AudioMetrics.ssim`), si_snr:no_mean
(torchmetrics 1.9.0 `functional/audio/sdr.py` with zero_mean=False; VERSA), dnsmos:
onnx_torchmetrics / onnx_urgent / onnx_versa (how each toolkit resamples)."""

import numpy as np
import torch
from metrics_support import dns_pairs, item, vctk_clips

from benchmark.core.audio import read_audio, resample
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


def _speechmos(x16):
    import speechmos.dnsmos as ref_impl
    r = ref_impl.run(np.asarray(x16, np.float32), 16000)
    return {"SIG": r["sig_mos"], "BAK": r["bak_mos"], "OVRL": r["ovrl_mos"], "P808": r["p808_mos"]}


def test_dnsmos_feeds_of_torchmetrics_urgent_and_versa(corpora):
    """A 48 kHz VCTK clip: onnx_torchmetrics equals the model fed as torchmetrics 1.9.0 feeds it
    (`librosa.resample(preds.numpy(), orig_sr=fs, target_sr=16000)`: soxr_hq on float32),
    onnx_urgent as URGENT 2025 (`soxr.resample(audio, fs, 16000)` of sf.read's float64),
    onnx_versa as VERSA feeds it (versa/audio_utils.py
    `resample_poly(audio, 16000/g, fs/g)`, then pseudo_mos.py `pred / max(abs(pred))` into
    speechmos). The three feeds score differently on the same file."""
    import librosa
    from scipy.signal import resample_poly
    x, rate = read_audio(vctk_clips(corpora)[0])
    assert rate == 48000
    import soxr
    want = {"onnx_torchmetrics": _speechmos(librosa.resample(x.astype(np.float32), orig_sr=rate,
                                                             target_sr=16000)),
            "onnx_urgent": _speechmos(soxr.resample(x.astype(np.float64), rate, 16000)),
            "onnx_versa": _speechmos((lambda y: y / np.max(np.abs(y)))(resample_poly(x.astype(np.float64), 1, 3)))}
    got = {b: METRICS.get("dnsmos")(b).score([MetricItem("a", x, rate)])[0].values
           for b in ("onnx", *want)}
    for b, ref in want.items():
        for col, v in ref.items():
            assert abs(got[b][col] - float(v)) < 1e-4, (b, col, got[b][col], v)
    assert max(abs(got["onnx"][c] - got["onnx_torchmetrics"][c]) for c in got["onnx"]) > 1e-3


def test_dnsmos_cuda_without_the_provider_says_so_and_runs_on_the_cpu(corpora, monkeypatch):
    import onnxruntime as ort
    import pytest
    # the machine's onnxruntime as one without the CUDA provider (also where onnxruntime-gpu is in)
    cpu_only = [p for p in ort.get_available_providers() if p != "CUDAExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: cpu_only)
    m = METRICS.get("dnsmos")(device="cuda")
    with pytest.warns(RuntimeWarning, match="no CUDAExecutionProvider.*runs on the CPU"):
        m.load()
    assert "onnxruntime" in m.backend_version and "CPUExecutionProvider" in m.backend_version
    (s,) = m.score([item(dns_pairs(corpora)[0][1])])
    assert s.error is None and 1.0 < s.values["OVRL"] < 5.0


def test_si_snr_no_mean_equals_torchmetrics_si_sdr(corpora):
    """torchmetrics 1.9.0 scale_invariant_signal_distortion_ratio (zero_mean=False), written out
    in torch float32 on the 44.1 kHz pair; the numpy backend (mean removed) agrees on real DNS
    speech and departs once the output carries a DC offset (a 0.05 offset here)."""
    noisy, clean = dns_pairs(corpora)[1]
    it = item(noisy, clean)
    x, r = (resample(a, 16000, 44100).astype(np.float32) for a in (it.audio, it.reference))

    def tm(p, t):
        p, t = torch.tensor(p), torch.tensor(t)
        eps = torch.finfo(p.dtype).eps
        a = (torch.sum(p * t) + eps) / (torch.sum(t ** 2) + eps)
        return float(10 * torch.log10((torch.sum((a * t) ** 2) + eps) / (torch.sum((a * t - p) ** 2) + eps)))

    def ours(b, p):
        return METRICS.get("si_snr")(b).score([MetricItem("a", p, 44100, r, 44100)])[0].values["SI-SNR"]
    assert abs(ours("no_mean", x) - tm(x, r)) < 1e-3
    assert abs(ours("numpy", x) - ours("no_mean", x)) < 0.05          # speech: almost no DC
    dc = x + np.float32(0.05)
    assert abs(ours("no_mean", dc) - tm(dc, r)) < 1e-3
    assert ours("numpy", dc) - ours("no_mean", dc) > 1.0


def test_lsd_urgent2025_against_its_code(corpora):
    """URGENT 2025 lsd_metric (evaluation_metrics/calculate_intrusive_se_metrics.py@daf1730),
    written out on sf.read-style float64 samples of a real 16 kHz DNS pair, at 16 kHz: scaled
    output, natural log, 512/256-sample STFT. Its value is not VoiceFixer's LSD (other scale)."""
    import librosa
    noisy, clean = dns_pairs(corpora)[2]
    it = item(noisy, clean)
    ref, inf = np.asarray(it.reference, np.float64), np.asarray(it.audio, np.float64)
    inf = inf * (np.sum(ref * inf) / (np.sum(inf ** 2) + 1e-8))
    r = np.abs(librosa.stft(ref, hop_length=256, n_fft=512)).T
    e = np.abs(librosa.stft(inf, hop_length=256, n_fft=512)).T
    want = np.mean(np.mean(np.log(r ** 2 / ((e + 1e-8) ** 2) + 1e-8) ** 2, axis=1) ** 0.5)
    (s,) = METRICS.get("lsd")("urgent2025").score([it])
    assert s.error is None and s.aux["rate"] == 16000
    assert abs(s.values["LSD"] - want) < 1e-9
    vf = METRICS.get("lsd")("voicefixer2022").score([it])[0].values["LSD"]
    assert abs(vf - s.values["LSD"]) > 0.1


def test_estoi_own_rate_as_urgent2025(corpora):
    """URGENT 2025 estoi_metric: pystoi `stoi(ref, inf, fs_sig=fs, extended=True)` at the files'
    rate (48 kHz VCTK speech with real noise here); the pystoi backend (16 kHz first) differs."""
    from pystoi import stoi
    x, rate = read_audio(vctk_clips(corpora)[1])
    noise, nr = read_audio(sorted((corpora / "noise").glob("*.wav"))[1])
    n = np.resize(resample(noise, nr, rate), x.size)
    y = (x + n * np.std(x) / np.std(n)).astype(np.float32)                   # 0 dB SNR
    want = stoi(x.astype(np.float32), y, rate, extended=True)
    got = {b: METRICS.get("estoi")(b).score([MetricItem("a", y, rate, x, rate)])[0]
           for b in ("own_rate", "pystoi")}
    assert abs(got["own_rate"].values["ESTOI"] - want) < 1e-6 and got["own_rate"].aux["rate"] == 48000
    assert got["pystoi"].values["ESTOI"] != got["own_rate"].values["ESTOI"]
