"""Measures the definition differences tabled in docs/comparing.md on real audio from
../shared/data: for each metric, the largest |difference| between our backends over the same items.

Items: the 8 VCTK clips (48 kHz) brought to 44.1 kHz (the harness's soxr), alone (DNSMOS) or with
real kitchen noise at 5 dB SNR against the clean clip (reference metrics); the 3 DNS 16 kHz pairs
(at 16 kHz, and upsampled to 44.1 kHz). Run: python docs/measure_comparing.py (a few minutes).
With BENCH_TORCHMETRICS_PATH / SSR_EVAL_PATH naming folders where torchmetrics 1.9.0 / ssr_eval
0.0.7 (and scikit-image) are importable, their own code is run on the same items too.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CORPORA = ROOT.parent / "shared" / "data" / "corpora"


def _items():
    from benchmark.core.audio import read_audio, resample
    from metrics import MetricItem
    noise, nr = read_audio(sorted((CORPORA / "noise").glob("*.wav"))[0])
    noise = resample(noise, nr, 44100)
    vctk, noisy44 = [], []
    for k, p in enumerate(sorted((CORPORA / "VCTK-Corpus-0.92/wav48_silence_trimmed").glob("*/*.flac"))):
        x, r = read_audio(p)
        c = resample(x, r, 44100)
        n = np.resize(noise, c.size)
        y = (c + n * np.std(c) / np.std(n) / 10 ** 0.25).astype(np.float32)
        vctk.append(MetricItem(f"vctk{k}", c, 44100))
        noisy44.append(MetricItem(f"vctk{k}", y, 44100, c, 44100))
    dns16, dns44 = [], []
    d = CORPORA / "DNS-Challenge/datasets/test_set/synthetic/no_reverb"
    for noisy in sorted((d / "noisy").glob("*.wav")):
        clean = d / "clean" / f"clean_fileid_{noisy.stem.split('_')[-1]}.wav"
        x, r = read_audio(noisy)
        c, _ = read_audio(clean)
        dns16.append(MetricItem(noisy.stem[:12], x, r, c, r))
        dns44.append(MetricItem(noisy.stem[:12], resample(x, r, 44100), 44100, resample(c, r, 44100), 44100))
    return vctk, noisy44, dns16, dns44


def _scores(name, backend, items, col):
    from metrics import METRICS
    out = METRICS.get(name)(backend).score(items)
    bad = [s.error for s in out if s.error]
    assert not bad, bad
    return np.array([s.values[col] for s in out])


def _maxdiff(a, b):
    return float(np.max(np.abs(a - b)))


def main() -> dict:
    vctk, noisy44, dns16, dns44 = _items()
    res: dict = {}
    # DNSMOS: the feeds, on 44.1 kHz speech and on 16 kHz input (every column from one pass)
    from metrics import METRICS
    cols = ("SIG", "BAK", "OVRL", "P808")
    plain16 = [type(i)(i.id, i.audio, i.rate) for i in dns16]

    def dnsmos(b, items):
        out = METRICS.get("dnsmos")(b).score(items)
        return {c: np.array([s.values[c] for s in out]) for c in cols}
    base44, base16 = dnsmos("onnx", vctk), dnsmos("onnx", plain16)
    for b in ("onnx_torchmetrics", "onnx_urgent", "onnx_versa"):
        o44, o16 = dnsmos(b, vctk), dnsmos(b, plain16)
        res.setdefault("dnsmos", {})[b] = {
            c: {"44.1k_vctk_max_abs": round(_maxdiff(base44[c], o44[c]), 4),
                "16k_dns_max_abs": round(_maxdiff(base16[c], o16[c]), 4)} for c in cols}
    # SI-SNR, SSIM, LSD on the 44.1 kHz noisy pairs and on the DNS pairs
    for name, col, base, others in (("si_snr", "SI-SNR", "numpy", ("no_mean", "speechmetrics")),
                                    ("ssim", "SSIM", "voicefixer", ("ssr_eval007",)),
                                    ("lsd", "LSD", "voicefixer2022", ("voicefixer2021", "urgent2025"))):
        for set_name, items in (("vctk44_noisy", noisy44), ("dns16", dns16)):
            b0 = _scores(name, base, items, col)
            for o in others:
                v = _scores(name, o, items, col)
                res.setdefault(name, {}).setdefault(o, {})[set_name] = {
                    "max_abs": round(_maxdiff(b0, v), 4), "ours_mean": round(float(b0.mean()), 4),
                    "other_mean": round(float(v.mean()), 4)}
    # PESQ: the harness's soxr VHQ against URGENT's soxr HQ to 16 kHz (speechmetrics: resampy)
    p0 = _scores("pesq", "pesq", noisy44, "PESQ-wb")
    p1 = _scores("pesq", "speechmetrics", noisy44, "PESQ-wb")
    import soxr
    from pesq import pesq
    urgent = np.array([pesq(16000, soxr.resample(i.reference, 44100, 16000),
                            soxr.resample(i.audio, 44100, 16000), "wb") for i in noisy44])
    res["pesq"] = {"speechmetrics": round(_maxdiff(p0, p1), 4), "urgent_soxr_hq": round(_maxdiff(p0, urgent), 4)}
    e0 = _scores("estoi", "pystoi", noisy44, "ESTOI")
    res["estoi"] = {"own_rate": {"vctk44_noisy_max_abs": round(_maxdiff(e0, _scores("estoi", "own_rate", noisy44, "ESTOI")), 4),
                                 "dns16_max_abs": round(_maxdiff(_scores("estoi", "pystoi", dns16, "ESTOI"),
                                                                 _scores("estoi", "own_rate", dns16, "ESTOI")), 4)}}
    # the reference packages themselves, where importable
    if os.environ.get("BENCH_TORCHMETRICS_PATH"):
        sys.path.append(os.environ["BENCH_TORCHMETRICS_PATH"])
        import torch

        from bench.bench_dnsmos import torchmetrics_run
        tm = torchmetrics_run(44100)
        ref = tm([i.audio for i in vctk])
        ours = dnsmos("onnx_torchmetrics", vctk)
        res["torchmetrics_1.9.0_dnsmos_vs_onnx_torchmetrics_max_abs"] = max(
            abs(r[c] - ours[c][k]) for k, r in enumerate(ref) for c in ours)
        from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio as sisdr
        tmv = np.array([float(sisdr(torch.tensor(i.audio), torch.tensor(i.reference))) for i in noisy44])
        res["torchmetrics_1.9.0_si_sdr_vs_no_mean_max_abs"] = _maxdiff(tmv, _scores("si_snr", "no_mean", noisy44, "SI-SNR"))
    if os.environ.get("SSR_EVAL_PATH"):
        import types
        path = os.environ["SSR_EVAL_PATH"]
        sys.path.insert(0, path)
        pkg = types.ModuleType("ssr_eval")
        pkg.__path__ = [os.path.join(path, "ssr_eval")]
        sys.modules["ssr_eval"] = pkg
        from ssr_eval.metrics import AudioMetrics
        am = AudioMetrics(44100)
        got = [am.evaluation(i.audio.astype(np.float32), i.reference.astype(np.float32), None) for i in noisy44]
        res["ssr_eval_0.0.7_real_code_librosa_0.11"] = {
            "ssim_vs_ssr_eval007_max_abs": _maxdiff(np.array([g["ssim"] for g in got]),
                                                   _scores("ssim", "ssr_eval007", noisy44, "SSIM")),
            "lsd_vs_voicefixer2022_max_abs": _maxdiff(np.array([g["lsd"] for g in got]),
                                                     _scores("lsd", "voicefixer2022", noisy44, "LSD"))}
    print(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
