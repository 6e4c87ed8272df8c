"""DNSMOS single windows by Winograd F(4x4, 3x3) (metrics/_dnsmos_winograd.py): the matrices
compute a 3x3 correlation exactly (in rationals), the streamed layers equal a float64 direct
convolution on sizes that are not multiples of the tile, and whole windows of real speech of
random lengths give the original onnxruntime model's scores within 2e-5 (1e-5 measured here)."""

from __future__ import annotations

import os
from fractions import Fraction

import numpy as np
import pytest
from corpora_support import dns_pair
from metrics_support import vctk_clips

from benchmark.core.audio import read_audio, resample
from metrics.dnsmos import POLY, SR, WIN, window_starts


def _path(personalized: bool) -> str:
    import speechmos
    return os.path.join(os.path.dirname(speechmos.__file__),
                        "pdnsmos_models" if personalized else "dnsmos_models", "sig_bak_ovr.onnx")


@pytest.fixture(scope="module")
def wino():
    from metrics._dnsmos_winograd import WinogradWindow
    return WinogradWindow(_path(False))


def test_lavin_matrices_compute_a_3_tap_correlation_exactly():
    from metrics._dnsmos_winograd import AT, BT, G
    rng = np.random.default_rng(0)
    for _ in range(20):
        d = [Fraction(int(v)) for v in rng.integers(-50, 50, 6)]
        g = [Fraction(int(v), 7) for v in rng.integers(-50, 50, 3)]
        gt = [sum(G[j][k] * g[k] for k in range(3)) for j in range(6)]
        dt = [sum(BT[j][i] * d[i] for i in range(6)) for j in range(6)]
        y = [sum(AT[i][j] * gt[j] * dt[j] for j in range(6)) for i in range(4)]
        assert y == [sum(d[i + k] * g[k] for k in range(3)) for i in range(4)]


def test_streamed_layers_equal_a_float64_direct_convolution_at_odd_sizes(wino, corpora):
    import torch
    x, r = read_audio(vctk_clips(corpora)[3])
    import onnx
    from onnx import numpy_helper

    from metrics._dnsmos_winograd import TRUNK_CONVS
    model = onnx.load(_path(False))
    init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    nodes = {n.output[0]: n for n in model.graph.node}
    weights = [(init[nodes[c].input[1]], init[nodes[c].input[2]]) for c in TRUNK_CONVS]
    x = resample(x, r, SR).astype(np.float32)
    feats = wino.features(window_starts(x)[0][:WIN], 900)
    for a, h, w in ((100, 37, 29), (0, 900, 161), (300, 14, 10)):   # partial tiles, odd pools
        f = feats[a:a + h, :w]
        y = torch.from_numpy(f.astype(np.float64))[None, None]
        for wk, bk in weights:
            y = torch.nn.functional.conv2d(y, torch.from_numpy(np.asarray(wk, np.float64)),
                                           torch.from_numpy(bk.astype(np.float64)), padding=1).relu()
        ref = torch.nn.functional.max_pool2d(y, 2)[0].numpy().transpose(1, 2, 0)
        got = wino.pooled(np.ascontiguousarray(f))
        assert got.shape == ref.shape == (h // 2, w // 2, 32)
        # float32 Winograd: ~20x onnxruntime's direct-convolution rounding (measured 1e-5 on
        # values up to ~3), far below any score's resolution
        assert np.abs(got - ref).max() < 1e-4 * max(1.0, np.abs(ref).max()), np.abs(got - ref).max()


@pytest.mark.parametrize("personalized", [False, True])
def test_single_windows_give_the_original_models_scores(personalized, corpora):
    import onnxruntime as ort

    from metrics._dnsmos_winograd import WinogradWindow
    path = _path(personalized)
    wino = WinogradWindow(path)
    full = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    x, r = read_audio(dns_pair(corpora, 15)[0])
    clips = [x.astype(np.float32)]
    for p in vctk_clips(corpora)[:4]:
        y, ry = read_audio(p)
        clips.append(resample(y, ry, SR).astype(np.float32))
    stream = np.concatenate(clips)
    rng = np.random.default_rng(1)
    polys = [np.poly1d(c) for c in POLY[personalized]]
    worst = 0.0
    # arbitrary lengths (not multiples of the hop) that DNSMOS doubles to exactly one window
    for lo, hi in ((4.51, 5.0), (4.51, 5.0), (2.26, 2.5), (1.13, 1.25), (4.51, 5.0)):
        n = int(rng.integers(int(lo * SR), int(hi * SR)))
        a = int(rng.integers(0, len(stream) - n))
        audio, starts = window_starts(stream[a:a + n])
        assert len(starts) == 1
        got = wino.raw(audio[:WIN])
        ref = full.run(None, {"input_1": audio[None, :WIN]})[0][0]
        # 1e-5 is the agreement; measured here up to 8.9e-6 raw / 8.5e-6 on a score.
        # The tolerance is 2e-5: another CPU's BLAS sums the Winograd products in another order
        # and its rounding is amplified by the output transform (bench_dnsmos.py measures 1e-5).
        assert np.abs(got - ref).max() < 2e-5
        worst = max(worst, max(abs(polys[i](float(got[i])) - polys[i](float(ref[i])))
                               for i in range(3)))
    assert worst < 2e-5, worst
