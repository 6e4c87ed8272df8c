import numpy as np
import pytest
from corpora_support import dns_test_set
from metrics_support import dns_pairs, item, vctk_clips

from benchmark.core.audio import read_audio, resample
from metrics import METRICS, MetricItem


def _as_dnsmos_local(x, rate):
    """dnsmos_local.py's input: the file's float64 samples, librosa.resample (kaiser_best, the
    librosa < 0.10 default its positional call needs) when not at 16 kHz."""
    import librosa
    x = np.asarray(x, dtype=np.float64)
    if rate != 16000:
        x = librosa.resample(x, orig_sr=rate, target_sr=16000, res_type="kaiser_best")
    return x.astype(np.float32)


def test_dnsmos_resamples_non_16k_input_as_dnsmos_local(corpora):
    import soundfile as sf
    import speechmos.dnsmos as ref_impl
    paths = vctk_clips(corpora)[:2]                        # 48 kHz FLAC
    m = METRICS.get("dnsmos")()
    scores = m.score([item(p) for p in paths])
    moved = []
    for p, s in zip(paths, scores, strict=True):
        x, rate = sf.read(p)                               # as the script reads a file: float64
        assert rate == 48000 and s.error is None
        ref = ref_impl.run(_as_dnsmos_local(x, rate), 16000)
        soxr = ref_impl.run(resample(x.astype(np.float32), rate, 16000), 16000)
        for ours, theirs in (("SIG", "sig_mos"), ("BAK", "bak_mos"), ("OVRL", "ovrl_mos"), ("P808", "p808_mos")):
            assert abs(s.values[ours] - float(ref[theirs])) < 1e-4, (p.name, ours)
            moved.append(abs(float(soxr[theirs]) - float(ref[theirs])))
    assert max(moved) > 1e-3, moved          # the resampler matters: soxr input scores differently
    assert "kaiser_best" in m.backend_version and "sig_bak_ovr.onnx sha256:" in m.backend_version


@pytest.mark.slow
def test_dnsmos_equals_speechmos_reference_batched(corpora):
    import speechmos.dnsmos as ref_impl
    paths = list(dns_pairs(corpora)[0])                                              # 5 s clips
    paths.append(sorted((dns_test_set(corpora) / "real_recordings").glob("*.wav"))[0])  # 11.2 s
    paths.append(vctk_clips(corpora)[1])                                             # 48 kHz, 3.7 s
    paths.append(sorted((corpora / "LibriSpeech/test-clean").rglob("*.flac"))[1])    # 16 kHz, 2.7 s
    items = [item(p) for p in paths]
    durations = [len(it.audio) / it.rate for it in items]
    assert min(durations) < 9.01 < max(durations)
    m = METRICS.get("dnsmos")()
    scores = m.score(items)                     # one batched pass over every window of every clip
    assert sum(s.aux["windows"] for s in scores) > len(items)
    for it, s in zip(items, scores, strict=True):
        assert s.error is None
        ref = ref_impl.run(_as_dnsmos_local(it.audio, it.rate), 16000)
        for ours, theirs in (("SIG", "sig_mos"), ("BAK", "bak_mos"), ("OVRL", "ovrl_mos"), ("P808", "p808_mos")):
            assert abs(s.values[ours] - float(ref[theirs])) < 1e-4, (it.id, ours, s.values[ours], ref[theirs])


def test_dnsmos_noisy_scores_lower_than_clean(corpora):
    m = METRICS.get("dnsmos")()
    for noisy, clean in dns_pairs(corpora):
        sn, sc = m.score([item(noisy), item(clean)])
        assert sn.values["BAK"] < sc.values["BAK"] - 1.0
        assert sn.values["OVRL"] < sc.values["OVRL"] - 0.5


def test_dnsmos_records_per_item_errors_without_failing_the_batch(corpora):
    x, r = read_audio(dns_pairs(corpora)[0][1])
    m = METRICS.get("dnsmos")()
    good, silent = m.score([MetricItem("ok", x, r), MetricItem("silent", np.zeros(16000, np.float32), 16000)])
    assert good.error is None and 1.0 < good.values["OVRL"] < 5.0
    assert silent.error and "zeros" in silent.error and not silent.values


def test_personalized_dnsmos_backend_equals_speechmos(corpora):
    import speechmos.dnsmos as ref_impl
    it = item(dns_pairs(corpora)[1][0])
    (s,) = METRICS.get("dnsmos")(backend="onnx_personalized").score([it])
    ref = ref_impl.run(resample(it.audio, it.rate, 16000), 16000, model_type="dnsmos_personalized")
    for ours, theirs in (("SIG", "sig_mos"), ("BAK", "bak_mos"), ("OVRL", "ovrl_mos"), ("P808", "p808_mos")):
        assert abs(s.values[ours] - float(ref[theirs])) < 1e-4
