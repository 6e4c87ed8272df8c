"""DNSMOS's `sig_bak_ovr.onnx` on one 9.01 s window with its four full-resolution 3x3
convolutions computed by Winograd's minimal filtering F(4x4, 3x3) instead of directly.

Those four layers (1->128->64->64->32 channels on 900 x 161, zero padding 1, ReLU) are ~97 % of
the model's time, and onnxruntime already runs them near this CPU's fp32 peak, so the only exact
saving is arithmetic: F(4x4, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural
Networks", CVPR 2016, the matrices of their section 4) turns each 4x4 output tile of a 3x3
convolution into 36 channel-mixing products instead of 144: layers 2-4 become 36 matrix
products per row of tiles (numpy/BLAS, float32) between an input transform B^T d B and an
output transform A^T m A (numba, float32). Same arithmetic up to float32 rounding: the raw model
outputs differ from onnxruntime's by < 5e-6 on real speech (tests/test_metrics_dnsmos_winograd.py).
Layer 1 (1 input channel) is computed directly; the fourth layer's output is max-pooled
(the graph's next node) as it is produced, and the rest of the model (the "head", the graph's
own nodes from the pooled map on) runs in onnxruntime.

Rows stream through all layers one tile row (4 rows) at a time with ring buffers, so the
activations of a window never exist in full (a few MB instead of ~190 MB) and stay in cache.
The framing/DFT/log features are the graph's own constants (`_dnsmos_shared.LogPower`).
The numba kernels compile on first use (~5 s) and are cached by numba after that.
"""

from __future__ import annotations

from fractions import Fraction

import numba
import numpy as np

from metrics._dnsmos_shared import FRAME, HEAD_OUT, HOP, TRUNK_IN, LogPower

POOL_OUT = "mos_estimator_logpow/conv2d_3/Relu:0_pooling0"   # the 2x2 max pool after layer 4
TRUNK_CONVS = ("convolution_output6", "convolution_output5", "convolution_output4",
               "convolution_output3")
M = 4                  # output tile side: F(4x4, 3x3)
N = M + 2              # input tile side

# Lavin & Gray (2016), F(4x4, 3x3): Y = A^T [(G g G^T) . (B^T d B)] A, interpolation points
# 0, 1, -1, 2, -2 and infinity
AT = ((1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2, 0), (0, 1, 1, 4, 4, 0), (0, 1, -1, 8, -8, 1))
G = ((Fraction(1, 4), 0, 0), (Fraction(-1, 6), Fraction(-1, 6), Fraction(-1, 6)),
     (Fraction(-1, 6), Fraction(1, 6), Fraction(-1, 6)),
     (Fraction(1, 24), Fraction(1, 12), Fraction(1, 6)),
     (Fraction(1, 24), Fraction(-1, 12), Fraction(1, 6)), (0, 0, 1))
BT = ((4, 0, -5, 0, 1, 0), (0, -4, -4, 1, 1, 0), (0, 4, -4, -1, 1, 0), (0, -2, -1, 2, 1, 0),
      (0, 2, -1, -2, 1, 0), (0, 4, 0, -5, 0, 1))

_JIT = dict(nogil=True, error_model="numpy", boundscheck=False, cache=True)
_U = np.uint64       # offsets are unsigned: numba then emits plain vector loads (no wraparound)
_F2, _F4, _F5, _F8 = np.float32(2), np.float32(4), np.float32(5), np.float32(8)


@numba.njit(inline="always", **_JIT)
def _bt(src, o0, o1, o2, o3, o4, o5, dst, do, ds, n):
    """B^T along one axis for n lanes: six input vectors src[o_i:o_i+n] -> six outputs
    dst[do + y*ds : +n] (the rows of BT above, written out so each input is read once)."""
    for c in range(n):
        d0, d1, d2, d3, d4, d5 = (src[o0 + c], src[o1 + c], src[o2 + c], src[o3 + c],
                                  src[o4 + c], src[o5 + c])
        dst[do + c] = _F4 * d0 - _F5 * d2 + d4
        dst[do + ds + c] = d3 + d4 - _F4 * (d1 + d2)
        dst[do + _U(2) * ds + c] = d4 - d3 + _F4 * (d1 - d2)
        dst[do + _U(3) * ds + c] = d4 - d2 + _F2 * (d3 - d1)
        dst[do + _U(4) * ds + c] = d4 - d2 + _F2 * (d1 - d3)
        dst[do + _U(5) * ds + c] = _F4 * d1 - _F5 * d3 + d5


@numba.njit(**_JIT)
def _layer1_rows(fp, wt, b, y, wp, ring, h0, h1, w_len):
    """Rows [h0, h1) of layer 1 (1 -> C channels, 3x3, ReLU), computed directly, into the ring
    rows of y (flat, row stride wp * C, channels last, columns 1..w_len). fp: the zero-padded
    features (H + 2, W + 2); wt: the (9, C) weights, flat."""
    c_n = _U(b.shape[0])
    zero = np.float32(0)
    row = _U(wp) * c_n
    for h in range(h0, h1):
        yo = _U(h % ring) * row
        for w in range(w_len):
            o = yo + _U(w + 1) * c_n
            f0, f1, f2 = fp[h, w], fp[h, w + 1], fp[h, w + 2]
            f3, f4, f5 = fp[h + 1, w], fp[h + 1, w + 1], fp[h + 1, w + 2]
            f6, f7, f8 = fp[h + 2, w], fp[h + 2, w + 1], fp[h + 2, w + 2]
            for c in range(c_n):
                y[o + c] = max(b[c] + wt[c] * f0 + wt[c_n + c] * f1 + wt[_U(2) * c_n + c] * f2
                               + wt[_U(3) * c_n + c] * f3 + wt[_U(4) * c_n + c] * f4
                               + wt[_U(5) * c_n + c] * f5 + wt[_U(6) * c_n + c] * f6
                               + wt[_U(7) * c_n + c] * f7 + wt[_U(8) * c_n + c] * f8, zero)


@numba.njit(**_JIT)
def _input_transform(x, wp, c_in, ring, h_len, s, tw_n, z, zring, zdone, v):
    """V = B^T d B for the tiles of tile row s, as (36, tw_n, c_in) flat. x: ring rows of the
    zero-padded input, flat ((ring + 1) * wp * c_in, row `ring` all zeros); z: the rows'
    transforms along W ((zring + 1) rows of (6, tw_n, c_in), the last all zeros), each row
    transformed once (zdone[0]: the next row to transform)."""
    uc = _U(c_in)
    tc = _U(tw_n) * uc
    row = _U(wp) * uc
    top = s * M - 1
    for i in range(N):                           # along W: z[r, y] = d[r, :] B[:, y] per tile
        r = top + i
        if r < 0 or r >= h_len or r < zdone[0]:
            continue
        xo = _U(r % ring) * row
        zo = _U(r % zring) * _U(N) * tc
        for tw in range(tw_n):
            a = xo + _U(tw * M) * uc
            _bt(x, a, a + uc, a + _U(2) * uc, a + _U(3) * uc, a + _U(4) * uc, a + _U(5) * uc,
                z, zo + _U(tw) * uc, tc, uc)
        zdone[0] = r + 1
    zzero = _U(zring) * _U(N) * tc
    o = np.empty(N, np.uint64)
    for i in range(N):
        r = top + i
        o[i] = _U(r % zring) * _U(N) * tc if 0 <= r < h_len else zzero
    for yy in range(N):                          # along H: V[x, y] = sum_i B^T[x, i] z[top + i, y]
        k = _U(yy) * tc
        _bt(z, o[0] + k, o[1] + k, o[2] + k, o[3] + k, o[4] + k, o[5] + k,
            v, k, _U(N) * tc, tc)


@numba.njit(**_JIT)
def _along_rows(m, q, tc):
    """q[u, y] = sum_x A^T[u, x] m[x, y] for the (36, tiles, C) products m, flat."""
    for yy in range(N):
        o0 = _U(yy) * tc
        s = _U(N) * tc
        for c in range(tc):
            m0, m1, m2, m3, m4, m5 = (m[o0 + c], m[o0 + s + c], m[o0 + _U(2) * s + c],
                                      m[o0 + _U(3) * s + c], m[o0 + _U(4) * s + c],
                                      m[o0 + _U(5) * s + c])
            q[o0 + c] = m0 + m1 + m2 + m3 + m4
            q[o0 + s + c] = m1 - m2 + _F2 * (m3 - m4)
            q[o0 + _U(2) * s + c] = m1 + m2 + _F4 * (m3 + m4)
            q[o0 + _U(3) * s + c] = m1 - m2 + _F8 * (m3 - m4) + m5


@numba.njit(**_JIT)
def _output_transform(m, q, y, wp, ring, b, s, tw_n, h_len, w_len):
    """Y = A^T m A + bias, ReLU, for tile row s into the ring rows of y (flat, columns 1..w_len)."""
    c_n = _U(b.shape[0])
    tc = _U(tw_n) * c_n
    row = _U(wp) * c_n
    zero = np.float32(0)
    t = np.empty(M, np.float32)
    h0 = s * M
    _along_rows(m, q, tc)                        # q: (4 u, 6 y, tiles, C) as u-major below
    sq = _U(N) * tc
    for u in range(M):
        if h0 + u >= h_len:
            break
        yo = _U((h0 + u) % ring) * row
        qo = _U(u) * sq
        for tw in range(tw_n):
            a = qo + _U(tw) * c_n
            dst = yo + _U(tw * M + 1) * c_n
            vmax = min(M, w_len - tw * M)     # < M only in a row's last tile
            if vmax == M:
                for c in range(c_n):
                    q0, q1, q2, q3, q4, q5 = (q[a + c], q[a + tc + c], q[a + _U(2) * tc + c],
                                              q[a + _U(3) * tc + c], q[a + _U(4) * tc + c],
                                              q[a + _U(5) * tc + c])
                    y[dst + c] = max(q0 + q1 + q2 + q3 + q4 + b[c], zero)
                    y[dst + c_n + c] = max(q1 - q2 + _F2 * (q3 - q4) + b[c], zero)
                    y[dst + _U(2) * c_n + c] = max(q1 + q2 + _F4 * (q3 + q4) + b[c], zero)
                    y[dst + _U(3) * c_n + c] = max(q1 - q2 + _F8 * (q3 - q4) + q5 + b[c], zero)
            else:
                for c in range(c_n):
                    q0, q1, q2, q3, q4, q5 = (q[a + c], q[a + tc + c], q[a + _U(2) * tc + c],
                                              q[a + _U(3) * tc + c], q[a + _U(4) * tc + c],
                                              q[a + _U(5) * tc + c])
                    t[0] = q0 + q1 + q2 + q3 + q4 + b[c]
                    t[1] = q1 - q2 + _F2 * (q3 - q4) + b[c]
                    t[2] = q1 + q2 + _F4 * (q3 + q4) + b[c]
                    for j in range(vmax):
                        y[dst + _U(j) * c_n + c] = max(t[j], zero)


@numba.njit(**_JIT)
def _output_transform_pooled(m, q, p, ph_n, pw_n, b, s, tw_n):
    """Y = A^T m A + bias, ReLU, then the 2x2 max pool (stride 2, valid) for tile row s into
    p (ph_n, pw_n, C) flat. max(a + b, c + b) == max(a, c) + b exactly (rounding is monotonic),
    so the bias and ReLU are applied after the max."""
    c_n = _U(b.shape[0])
    tc = _U(tw_n) * c_n
    zero = np.float32(0)
    _along_rows(m, q, tc)
    sq = _U(N) * tc
    for pu in range(M // 2):
        ph = s * (M // 2) + pu
        if ph >= ph_n:
            break
        qa = _U(2 * pu) * sq
        qb = qa + sq
        for tw in range(tw_n):
            pw = tw * (M // 2)
            if pw >= pw_n:
                break
            two = pw + 1 < pw_n
            a = qa + _U(tw) * c_n
            bb = qb + _U(tw) * c_n
            dst = (_U(ph) * _U(pw_n) + _U(pw)) * c_n
            for c in range(c_n):
                q0, q1, q2, q3, q4, q5 = (q[a + c], q[a + tc + c], q[a + _U(2) * tc + c],
                                          q[a + _U(3) * tc + c], q[a + _U(4) * tc + c],
                                          q[a + _U(5) * tc + c])
                r0, r1, r2, r3, r4, r5 = (q[bb + c], q[bb + tc + c], q[bb + _U(2) * tc + c],
                                          q[bb + _U(3) * tc + c], q[bb + _U(4) * tc + c],
                                          q[bb + _U(5) * tc + c])
                left = max(max(q0 + q1 + q2 + q3 + q4, q1 - q2 + _F2 * (q3 - q4)),
                           max(r0 + r1 + r2 + r3 + r4, r1 - r2 + _F2 * (r3 - r4)))
                p[dst + c] = max(left + b[c], zero)
                if two:
                    right = max(max(q1 + q2 + _F4 * (q3 + q4), q1 - q2 + _F8 * (q3 - q4) + q5),
                                max(r1 + r2 + _F4 * (r3 + r4), r1 - r2 + _F8 * (r3 - r4) + r5))
                    p[dst + c_n + c] = max(right + b[c], zero)


class WinogradWindow:
    """`raw(window)`: the model's raw (3,) SIG/BAK/OVRL outputs for one 144160-sample window."""

    def __init__(self, onnx_path: str, session_options=None,
                 providers: tuple[str, ...] | list[str] = ("CPUExecutionProvider",)):
        import onnx
        import onnx.utils
        import onnxruntime as ort
        from onnx import numpy_helper

        model = onnx.load(onnx_path)
        init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        self.features = LogPower(init)
        nodes = {n.output[0]: n for n in model.graph.node}
        consumers = {i: n for n in model.graph.node for i in n.input}
        w, b = [], []
        src = TRUNK_IN
        for name in TRUNK_CONVS:           # the graph must be the chain this module assumes
            conv = nodes[name]
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in conv.attribute}
            assert conv.op_type == "Conv" and conv.input[0] == src, f"unexpected DNSMOS graph: {name}"
            assert list(attrs["kernel_shape"]) == [3, 3] and list(attrs["pads"]) == [1, 1, 1, 1]
            assert list(attrs.get("strides", [1, 1])) == [1, 1] and attrs.get("group", 1) == 1
            relu = consumers[name]
            assert relu.op_type == "Relu", f"unexpected DNSMOS graph after {name}"
            w.append(init[conv.input[1]].astype(np.float64))
            b.append(init[conv.input[2]].astype(np.float32))
            src = relu.output[0]
        pool = consumers[src]
        pattrs = {a.name: onnx.helper.get_attribute_value(a) for a in pool.attribute}
        assert pool.op_type == "MaxPool" and pool.output[0] == POOL_OUT
        assert list(pattrs["kernel_shape"]) == [2, 2] and list(pattrs["strides"]) == [2, 2]
        assert w[0].shape[1] == 1

        self.w1 = np.ascontiguousarray(w[0][:, 0].reshape(len(w[0]), 9).T, np.float32).ravel()
        self.b1 = b[0]
        g = np.array([[float(x) for x in r] for r in G])
        # U = G g G^T for every (out, in) filter pair, as (36, C_in, C_out) for the products
        self.u = [np.ascontiguousarray(np.einsum("xk,oikl,yl->xyio", g, wi, g)
                                       .reshape(N * N, wi.shape[1], wi.shape[0]), np.float32)
                  for wi in w[1:]]
        self.b = b[1:]
        head = onnx.utils.Extractor(onnx.shape_inference.infer_shapes(model)).extract_model(
            [POOL_OUT], [HEAD_OUT])
        self.head = ort.InferenceSession(head.SerializeToString(), session_options,
                                         providers=list(providers))

    def pooled(self, feats: np.ndarray) -> np.ndarray:
        """maxpool2x2(trunk(feats)) as (H // 2, W // 2, 32), channels last, for (H, W) features."""
        h_len, w_len = feats.shape
        th, tw_n = -(-h_len // M), -(-w_len // M)
        wp = tw_n * M + 2
        ring = 3 * M + 3                     # rows in flight between a layer and the next
        zring = 2 * N
        fp = np.zeros((h_len + 2, w_len + 2), np.float32)
        fp[1:-1, 1:-1] = feats
        chans = [len(self.b1)] + [u.shape[2] for u in self.u]
        layers = len(self.u)
        ph_n, pw_n = h_len // 2, w_len // 2
        tws = [tw_n] * (layers - 1) + [-(-2 * pw_n // M)]     # the pooled layer: pooled columns
        bufs = [np.zeros((ring + 1) * wp * c, np.float32) for c in chans[:-1]]
        ins = list(zip(tws, chans[:-1], strict=True))           # (tiles per row, C_in) per layer
        z = [np.zeros((zring + 1) * N * t * c, np.float32) for t, c in ins]
        zdone = [np.zeros(1, np.int64) for _ in range(layers)]
        v = [np.empty((N * N, t, c), np.float32) for t, c in ins]
        prod = [np.empty((N * N, t, c), np.float32) for t, c in zip(tws, chans[1:], strict=True)]
        q = [np.empty(M * N * t * c, np.float32) for t, c in zip(tws, chans[1:], strict=True)]
        p = np.zeros((ph_n, pw_n, chans[-1]), np.float32)
        for step in range(th + layers):
            if step < th:
                _layer1_rows(fp, self.w1, self.b1, bufs[0], wp, ring, step * M,
                             min(h_len, (step + 1) * M), w_len)
            for k in range(layers):          # layer k + 2 runs one tile row behind its input
                s = step - 1 - k
                if not 0 <= s < th:
                    continue
                _input_transform(bufs[k], wp, chans[k], ring, h_len, s, tws[k], z[k], zring,
                                 zdone[k], v[k].reshape(-1))
                np.matmul(v[k], self.u[k], out=prod[k])
                if k == layers - 1:
                    _output_transform_pooled(prod[k].reshape(-1), q[k], p.reshape(-1), ph_n,
                                             pw_n, self.b[k], s, tws[k])
                else:
                    _output_transform(prod[k].reshape(-1), q[k], bufs[k + 1], wp, ring,
                                      self.b[k], s, tws[k], h_len, w_len)
        return p

    def raw(self, window: np.ndarray) -> np.ndarray:
        feats = self.features(np.asarray(window, np.float32), (len(window) - FRAME) // HOP + 1)
        p = self.pooled(feats)
        return self.head.run(None, {POOL_OUT: np.ascontiguousarray(p.transpose(2, 0, 1))[None]})[0][0]
