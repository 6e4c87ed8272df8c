"""The `speechmetrics` backends of PESQ-wb, SI-SNR and STOI (what VoiceFixer's 003/004 numbers come
from: voicefixer_main evaluation_proc/metrics.py at 0c206f7 -> aliutkus/speechmetrics at ae661ec),
against the original computation written out here: each file resampled with resampy kaiser_best
only where the metric has a fixed rate (PESQ: 16 kHz), zero-padded to the longer signal, then
`pesq(16000, target, estimate, 'wb')`, Le Roux's SI-SDR without mean removal, pystoi at the files'
own rate. Real VCTK speech at 44.1 kHz (the rate of VoiceFixer's sets) with real kitchen noise."""

import numpy as np
import pytest
import resampy
from metrics_support import vctk_clips
from pesq import pesq
from pystoi import stoi

from benchmark.core.audio import read_audio, resample
from metrics import METRICS, MetricItem


@pytest.fixture(scope="module")
def pairs(corpora):
    noise, nr = read_audio(sorted((corpora / "noise").rglob("*.wav"))[0])
    noise = resample(noise, nr, 44100)
    out = []
    for k, path in enumerate(vctk_clips(corpora)[:2]):
        x, r = read_audio(path)
        clean = resample(x, r, 44100)
        n = np.resize(noise, clean.size)
        noisy = clean + n * np.std(clean) / np.std(n) / 10 ** (5 / 20)        # 5 dB SNR
        out.append(MetricItem(f"p{k}", noisy[:-300].astype(np.float32), 44100, clean, 44100))  # 7 ms short
    return out


def _orig_pair(it, rate=None):
    x, r = (np.asarray(a, np.float64) for a in (it.audio, it.reference))
    if rate:
        x, r = resampy.resample(x, 44100, rate), resampy.resample(r, 44100, rate)
    n = max(x.size, r.size)
    return np.pad(x, (0, n - x.size)), np.pad(r, (0, n - r.size))


def _orig_sisdr(est, ref):
    eps = np.finfo(np.float64).eps
    a = (eps + ref @ est) / (ref @ ref + eps)
    e_true = a * ref
    e_res = est - e_true
    return 10 * np.log10((eps + (e_true ** 2).sum()) / (eps + (e_res ** 2).sum()))


def test_speechmetrics_backends_equal_the_original_computation(pairs):
    got = {n: METRICS.get(n)(backend="speechmetrics").score(pairs) for n in ("pesq", "si_snr", "stoi")}
    ours = {n: METRICS.get(n)().score(pairs) for n in ("pesq", "si_snr")}
    for k, it in enumerate(pairs):
        x16, r16 = _orig_pair(it, 16000)
        x, r = _orig_pair(it)
        assert got["pesq"][k].values["PESQ-wb"] == pytest.approx(pesq(16000, r16, x16, "wb"), abs=1e-6)
        assert got["si_snr"][k].values["SI-SNR"] == pytest.approx(_orig_sisdr(x, r), abs=1e-6)
        assert got["stoi"][k].values["STOI"] == pytest.approx(stoi(r, x, 44100), abs=1e-6)
        # the harness's own backends differ (soxr, cropping, mean removal) but only a little here
        assert abs(ours["pesq"][k].values["PESQ-wb"] - got["pesq"][k].values["PESQ-wb"]) < 0.1
        assert abs(ours["si_snr"][k].values["SI-SNR"] - got["si_snr"][k].values["SI-SNR"]) < 0.1
        assert 1.0 < got["pesq"][k].values["PESQ-wb"] < 3.5 and 3 < got["si_snr"][k].values["SI-SNR"] < 7
    assert "resampy kaiser_best" in METRICS.get("pesq")(backend="speechmetrics").backend_version


def test_score_rows_name_the_rate_each_item_was_scored_at(corpora):
    """16 kHz DNS files: si_snr:speechmetrics and stoi:speechmetrics score them at 16 kHz (their
    rows say 16000), si_snr's numpy backend at 44.1 kHz (44100); an unscored own-rate row names no
    rate instead of the nominal 44100."""
    from metrics_support import dns_pairs

    from benchmark.commands.score import Pair, score_pairs
    (n15, c15), _, _ = dns_pairs(corpora)
    pairs = [Pair("a", n15, c15), Pair("b", n15, None, problems=["no reference"])]
    rows, summary = score_pairs(pairs, ["si_snr:speechmetrics", "si_snr", "stoi:speechmetrics"],
                                "offline")
    rate = {(r["metric"], r["backend"], r["item"]): r["rate"] for r in rows}
    assert rate[("si_snr", "speechmetrics", "a")] == 16000 == rate[("stoi", "speechmetrics", "a")]
    assert rate[("si_snr", "numpy", "a")] == 44100 and rate[("si_snr", "speechmetrics", "b")] is None
    assert {(s["backend"], s["rate"]) for s in summary if s["metric"] == "si_snr"} == {
        ("speechmetrics", 16000), ("numpy", 44100)}
