"""DNSMOS with one trunk pass per clip (metrics/_dnsmos_shared.py) equals the original model run on
every window, on real speech: short clips (doubled until 9.01 s, several windows), a 30 s clip of
concatenated real utterances (its windows 7-20 skipped as dnsmos_local.py skips them), and the
P.808-free mode."""

from __future__ import annotations

import os

import numpy as np
import pytest
from corpora_support import dns_pair
from metrics_support import item, vctk_clips

from benchmark.core.audio import read_audio, resample
from metrics import METRICS, MetricItem
from metrics.dnsmos import SR, WIN, window_starts, windows


@pytest.fixture(scope="module")
def models():
    import onnxruntime as ort
    import speechmos

    from metrics._dnsmos_shared import SharedTrunk
    path = os.path.join(os.path.dirname(speechmos.__file__), "dnsmos_models", "sig_bak_ovr.onnx")
    return SharedTrunk(path), ort.InferenceSession(path, providers=["CPUExecutionProvider"])


def _speech16k(corpora, n):
    out = []
    for p in vctk_clips(corpora)[:n]:
        x, r = read_audio(p)
        out.append(resample(x, r, SR).astype(np.float32))
    return out


def test_window_starts_follow_dnsmos_local_including_its_skipped_windows():
    x = np.ones(30 * SR, np.float32)
    audio, starts = window_starts(x)
    num = int(np.floor(len(audio) / SR) - 9.01) + 1
    ref = [i * SR for i in range(num) if len(audio[i * SR: int((i + 9.01) * SR)]) >= WIN]
    assert starts == ref == [i * SR for i in range(7)]  # int((i + 9.01) * 16000) truncates, i = 7..20
    short, st = window_starts(np.ones(4 * SR, np.float32))
    assert len(short) == 16 * SR and st == [i * SR for i in range(7)]


def test_shared_trunk_equals_the_model_on_every_window(models, corpora):
    shared, full = models
    clips = _speech16k(corpora, 2)
    clips.append(np.concatenate(clips * 5)[: 30 * SR])          # 30 s of real speech
    for x in clips:
        audio, starts = window_starts(x)
        ref = full.run(None, {"input_1": windows(x)})[0]
        got = shared.raw(audio, starts)
        assert len(starts) >= 3 and got.shape == ref.shape
        assert np.abs(got - ref).max() < 2e-5, np.abs(got - ref).max()


def test_p808_can_be_skipped_without_changing_the_p835_scores(corpora):
    noisy, clean = dns_pair(corpora, 15)
    clips = [item(noisy), item(vctk_clips(corpora)[0])]
    full = METRICS.get("dnsmos")().score(clips)
    lean = METRICS.get("dnsmos")(p808=False).score(clips)
    for a, b in zip(full, lean, strict=True):
        assert "P808" in a.values and "P808" not in b.values
        for col in ("SIG", "BAK", "OVRL"):
            assert a.values[col] == b.values[col]


def test_single_and_multi_window_items_in_one_batch_keep_their_order(corpora):
    noisy, _ = dns_pair(corpora, 16)                 # 5 s: doubled to 10 s, one window
    x, r = read_audio(noisy)
    short = _speech16k(corpora, 1)[0]                # ~2-4 s: several windows
    items = [MetricItem("a", short, SR), MetricItem("b", x, r), MetricItem("c", short[::-1].copy(), SR)]
    m = METRICS.get("dnsmos")()
    together = m.score(items)
    alone = [m.score([it])[0] for it in items]
    # same windows, other batch shapes through the ONNX graph: float32 kernels may round
    # differently, so the scores (1-5 MOS) agree within 1e-5, not bit for bit
    for t, a in zip(together, alone, strict=True):
        assert t.values.keys() == a.values.keys()
        assert t.values == pytest.approx(a.values, abs=1e-5)
    assert together[1].aux["windows"] == 1 and together[0].aux["windows"] > 1
