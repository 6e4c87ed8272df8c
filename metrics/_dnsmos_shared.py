"""DNSMOS's `sig_bak_ovr.onnx` evaluated once per clip instead of once per window, with the
same numbers.

The model (read from the ONNX graph shipped in the `speechmos` wheel) is, per 9.01 s window:
frames of 320 samples every 160 (900 frames) -> a DFT as two 1x1 convolutions (161 bins) ->
log10 power (max 1e-12) -> four 3x3 convolutions with ReLU at full resolution (1->128->64->64->32
channels on 900 x 161: about 97 % of the model's time) -> max-pool/conv stages -> global max ->
three dense layers. DNSMOS windows start every second (100 frames) and overlap by 8 s, and a
short clip is doubled until it is 9.01 s long, so a 4 s clip gives 7 windows of one 16 s signal.

Everything before the first max-pool is translation-equivariant along time, with zero padding
only at a window's two ends. So the full-resolution stack ("trunk") is computed once over the
whole clip's frames, in chunks, and each window takes its frames [4, 896) from there; its first
and last 4 frames (where the window's own zero padding reaches after four 3x3 layers) are
computed from 16-frame pieces of that window alone. The rest of the model ("head") runs per
window on the assembled 32 x 900 x 161 map. Trunk and head are the original graph's own nodes
and weights (extracted with `onnx.utils.Extractor`), run by onnxruntime; only the framing, DFT
and log are recomputed in numpy from the graph's own constants.

Clips with one window have nothing to share: on the CPU they go through metrics/_dnsmos_winograd.py.
"""

from __future__ import annotations

import numpy as np

HOP = 160                   # samples per frame step
FRAME = 320                 # samples per frame
WIN_FRAMES = 900            # frames per 9.01 s window
STEP_FRAMES = 100           # window start step (1 s)
HALO = 4                    # frames a window's zero padding reaches after four 3x3 convolutions
PIECE = 16                  # frames of a window computed alone for each border (>= 2 * HALO)
CHUNK = 600                 # trunk frames per onnxruntime call (bounded memory: ~50 MB)

TRUNK_IN = "adjusted_input6"
TRUNK_OUT = "mos_estimator_logpow/conv2d_3/Relu:0"
HEAD_OUT = "Identity:0"


def _dynamic(model, names: list[str]) -> None:
    """Make every dimension of the named graph inputs symbolic (frames vary per call)."""
    for inp in model.graph.input:
        if inp.name in names:
            for k, d in enumerate(inp.type.tensor_type.shape.dim):
                d.ClearField("dim_value")
                d.dim_param = f"d{k}"
    for out in model.graph.output:
        for k, d in enumerate(out.type.tensor_type.shape.dim):
            d.ClearField("dim_value")
            d.dim_param = f"o{k}"


class LogPower:
    """The model's input features, computed in numpy from the graph's own framing/DFT/log
    constants: `(audio, n_frames)` -> (n_frames, 161) log10 power, frame k = samples
    [160k, 160k + 320); in blocks of 4096 frames (a 30-minute clip needs 116 MB of features,
    not 0.7 GB of frames)."""

    def __init__(self, init: dict):
        self.w_real = init["time2freq/stft-real/kernel:0"][:, :, 0].T.astype(np.float32)  # (320,161)
        self.w_imag = init["time2freq/stft-imag/kernel:0"][:, :, 0].T.astype(np.float32)
        self.eps = np.float32(init["mos_estimator_logpow/Maximum/x:0"])
        self.power = np.float32(init["mos_estimator_logpow/pow/y:0"])
        self.log_div = np.float32(init["mos_estimator_logpow/truediv/y:0"])
        assert init["shape_tensor"].tolist()[1:] == [WIN_FRAMES, HOP], "unexpected DNSMOS graph"

    def __call__(self, audio: np.ndarray, n_frames: int) -> np.ndarray:
        out = np.empty((n_frames, self.w_real.shape[1]), np.float32)
        for a in range(0, n_frames, 4096):
            b = min(n_frames, a + 4096)
            frames = np.lib.stride_tricks.sliding_window_view(
                audio[HOP * a: HOP * (b - 1) + FRAME], FRAME)[::HOP]      # (b - a, 320), a view
            re, im = frames @ self.w_real, frames @ self.w_imag
            mag = np.sqrt(re * re + im * im)
            out[a:b] = np.log(np.maximum(self.eps, mag ** self.power)) / self.log_div
        return out


class SharedTrunk:
    """`raw(audio_windows_source)`: the model's raw (N, 3) outputs for a clip's windows."""

    def __init__(self, onnx_path: str, session_options=None,
                 providers: tuple[str, ...] | list[str] = ("CPUExecutionProvider",)):
        import onnx
        import onnx.utils
        import onnxruntime as ort
        from onnx import numpy_helper

        model = onnx.load(onnx_path)
        init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        self.features = LogPower(init)

        inferred = onnx.shape_inference.infer_shapes(model)

        def sub(inputs: list[str], outputs: list[str]):
            m = onnx.utils.Extractor(inferred).extract_model(inputs, outputs)
            del m.graph.value_info[:]          # static 900-frame shapes: not true for pieces
            _dynamic(m, inputs)
            return ort.InferenceSession(m.SerializeToString(), session_options,
                                        providers=list(providers))

        self.trunk = sub([TRUNK_IN], [TRUNK_OUT])
        self.head = sub([TRUNK_OUT], [HEAD_OUT])

    def _trunk(self, feats: np.ndarray) -> np.ndarray:
        """(32, F, 161) trunk output for a (F, 161) feature sequence (zero padded at its ends)."""
        return self.trunk.run(None, {TRUNK_IN: feats[None, None]})[0][0]

    def trunk_chunks(self, feats: np.ndarray):
        """Yield (start, (32, n, 161)) exact trunk outputs over the sequence, chunk by chunk."""
        total = len(feats)
        for a in range(0, total, CHUNK):
            b = min(total, a + CHUNK)
            lo, hi = max(0, a - HALO), min(total, b + HALO)
            out = self._trunk(feats[lo:hi])
            yield a, out[:, a - lo: a - lo + (b - a)]

    def raw(self, audio: np.ndarray, starts: list[int], batch: int = 4) -> np.ndarray:
        """Raw model outputs (len(starts), 3) for windows starting at `starts` (in samples,
        multiples of 16000), equal to running the whole model on each 144160-sample window."""
        assert all(s % (HOP * STEP_FRAMES) == 0 for s in starts)
        first = [s // HOP for s in starts]
        n_frames = max(first) + WIN_FRAMES
        feats = self.features(np.asarray(audio, dtype=np.float32), n_frames)
        need_lo = {f: f + HALO for f in first}
        # Stream the trunk; assemble a window as soon as its interior frames are computed.
        buf: list[tuple[int, np.ndarray]] = []
        pending = sorted(range(len(first)), key=lambda k: first[k])
        maps, order, out = [], [], np.zeros((len(first), 3), np.float32)

        def flush():
            if maps:
                res = self.head.run(None, {TRUNK_OUT: np.stack(maps)})[0]
                out[order] = res
                maps.clear()
                order.clear()

        chunks = self.trunk_chunks(feats)
        computed_to = 0
        for g in range(0, len(pending), batch):
            group = pending[g:g + batch]
            # the group's border pieces (first/last PIECE frames of each window, alone) in one call
            pieces = np.stack([p for k in group for p in
                               (feats[first[k]: first[k] + PIECE],
                                feats[first[k] + WIN_FRAMES - PIECE: first[k] + WIN_FRAMES])])
            border = self.trunk.run(None, {TRUNK_IN: pieces[:, None]})[0]   # (2g, 32, PIECE, 161)
            for j, k in enumerate(group):
                f0 = first[k]
                while computed_to < f0 + WIN_FRAMES - HALO:
                    a, arr = next(chunks)
                    buf.append((a, arr))
                    computed_to = a + arr.shape[1]
                buf = [(a, arr) for a, arr in buf if a + arr.shape[1] > need_lo[f0]]
                lo, hi = f0 + HALO, f0 + WIN_FRAMES - HALO
                interior = np.concatenate(
                    [arr[:, max(0, lo - a): max(0, min(arr.shape[1], hi - a))] for a, arr in buf
                     if a < hi and a + arr.shape[1] > lo], axis=1)
                left, right = border[2 * j][:, :HALO], border[2 * j + 1][:, -HALO:]
                maps.append(np.concatenate([left, interior, right], axis=1))
                order.append(k)
            flush()
        return out
