import numpy as np
import pytest
from metrics_support import voicebank
from pesq import pesq
from pystoi import stoi

from benchmark.core.audio import read_audio, resample
from metrics import METRICS, MetricItem


@pytest.fixture(scope="module")
def pairs(corpora):
    out = []
    for noisy, clean, _ in voicebank(corpora)[:3]:
        (x, r), (c, rc) = read_audio(noisy), read_audio(clean)
        out.append(MetricItem(noisy.stem, x, r, c, rc))
    return out


def test_pesq_and_stoi_agree_with_direct_package_calls(pairs):
    ms = {n: METRICS.get(n)() for n in ("pesq", "pesq_nb", "stoi", "estoi")}
    got = {n: m.score(pairs) for n, m in ms.items()}
    for k, it in enumerate(pairs):
        d16, c16 = (resample(a, it.rate, 16000).astype(np.float64) for a in (it.audio, it.reference))
        d8, c8 = (resample(a, it.rate, 8000).astype(np.float64) for a in (it.audio, it.reference))
        assert got["pesq"][k].values["PESQ-wb"] == pytest.approx(pesq(16000, c16, d16, "wb"), abs=1e-6)
        assert got["pesq_nb"][k].values["PESQ-nb"] == pytest.approx(pesq(8000, c8, d8, "nb"), abs=1e-6)
        assert got["stoi"][k].values["STOI"] == pytest.approx(stoi(c16, d16, 16000), abs=1e-6)
        assert got["estoi"][k].values["ESTOI"] == pytest.approx(stoi(c16, d16, 16000, extended=True), abs=1e-6)
        assert 1.0 < got["pesq"][k].values["PESQ-wb"] < 4.5 and 0.5 < got["stoi"][k].values["STOI"] <= 1
    clean = [MetricItem("c", it.reference, it.reference_rate, it.reference, it.reference_rate) for it in pairs]
    for n in ("pesq", "stoi"):
        col = ms[n].info.columns[0]
        for s_clean, s_noisy in zip(ms[n].score(clean), got[n], strict=True):
            assert s_clean.values[col] > s_noisy.values[col]


def test_silent_and_tiny_items_are_recorded_errors(pairs):
    it = pairs[0]
    silent = MetricItem("silent", np.zeros_like(it.audio), it.rate, it.reference, it.reference_rate)
    n = int(0.1 * it.rate)
    tiny = MetricItem("tiny", it.audio[:n], it.rate, it.reference[:n], it.reference_rate)
    for name in ("pesq", "stoi", "estoi", "pesq_nb"):
        s_ok, s_silent, s_tiny = METRICS.get(name)().score([it, silent, tiny])
        assert s_ok.error is None, name
        assert s_silent.error and not s_silent.values, (name, s_silent)
        assert s_tiny.error and not s_tiny.values, (name, s_tiny)


def test_pesq_on_silence_is_a_clear_error_not_nan(pairs):
    it = pairs[0]
    zeros = np.zeros_like(it.audio)
    m = METRICS.get("pesq")()
    out_silent, ref_silent = m.score([MetricItem("a", zeros, it.rate, it.reference, it.reference_rate),
                                      MetricItem("b", it.audio, it.rate, zeros, it.rate)])
    assert out_silent.error == "processed audio is silent (all zeros): PESQ is undefined for silence"
    assert ref_silent.error == "reference is silent (all zeros): PESQ is undefined for silence"
    with pytest.raises(ValueError, match="NaN"):       # what the package itself does on silence
        pesq(16000, resample(it.reference, it.rate, 16000).astype(np.float64), np.zeros(32000), "wb")
