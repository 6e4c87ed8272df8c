"""DNSMOS throughput and memory, side by side in one process, on real audio from ../shared/data
(every speech and noise file, at 16 kHz, joined end to end and cut into clips of two kinds):

- `single`: SINGLE_N clips of 5.0 s. DNSMOS doubles a clip shorter than 9.01 s until it is long
  enough, so each gives exactly one 9.01 s window: nothing to share between windows.
- `long`: LONG_N clips of LONG_S seconds (LONG_S - 8 windows each, overlapping by 8 s).

Variants:
- `official`: the DNS Challenge `dnsmos_local.py` algorithm (microsoft/DNS-Challenge
  DNSMOS/dnsmos_local.py@6412bc5: a ThreadPoolExecutor task per clip, every window through
  sig_bak_ovr.onnx and the P.808 model one at a time), written out here on the same ONNX files.
- `ours`: metrics/dnsmos.py with P.808 (trunk shared between a clip's windows, BATCH windows per
  call), and `ours_no_p808`.
- `torchmetrics` (peak memory only, when torchmetrics is importable, e.g. from
  BENCH_TORCHMETRICS_PATH): torchmetrics' `deep_noise_suppression_mean_opinion_score` one clip at
  a time on the speechmos ONNX files.

Timings (wall, and CPU seconds of the process) alternate the variants (official, ours, ours_no_p808) REPEATS times on each clip kind and
keep the best, so a busy machine slows all alike; the ratio official/ours is the number to read.
Peak memory: each variant scores the single-window clips in a fresh subprocess (VmHWM). Scores
must agree with `official` within 1e-5.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPORA = Path(os.environ.get("BENCHMARK_CORPORA", ROOT.parent / "shared" / "data" / "corpora"))
REPEATS = int(os.environ.get("BENCH_DNSMOS_REPEATS", "2"))
SINGLE_N, SINGLE_S = int(os.environ.get("BENCH_DNSMOS_SINGLE_N", "21")), 5.0
LONG_N, LONG_S = int(os.environ.get("BENCH_DNSMOS_LONG_N", "2")), 30.0
TORCHMETRICS_PATH = os.environ.get("BENCH_TORCHMETRICS_PATH", "")


def _stream() -> np.ndarray:
    from benchmark.core.audio import read_audio, resample
    files = sorted(p for p in CORPORA.rglob("*") if p.suffix in (".wav", ".flac")
                   and "rirs" not in p.parts)
    out = []
    for f in files:
        x, r = read_audio(f)
        out.append(resample(x, r, 16000) if r != 16000 else x)
    return np.concatenate(out).astype(np.float32)


def clips(kind: str) -> list[np.ndarray]:
    x = _stream()
    n, seconds = (SINGLE_N, SINGLE_S) if kind == "single" else (LONG_N, LONG_S)
    size = int(seconds * 16000)
    if n * size > x.size:
        raise SystemExit(f"only {x.size / 16000:.0f} s of audio for {n} x {seconds:g} s clips")
    return [x[k * size:(k + 1) * size] for k in range(n)]


class Official:
    """dnsmos_local.py's per-window loop (sig_bak_ovr + P.808), one thread-pool task per clip."""

    def __init__(self):
        import onnxruntime as ort
        import speechmos
        root = Path(speechmos.__file__).parent / "dnsmos_models"
        self.sess = ort.InferenceSession(str(root / "sig_bak_ovr.onnx"),
                                         providers=["CPUExecutionProvider"])
        self.p808 = ort.InferenceSession(str(root / "model_v8.onnx"),
                                         providers=["CPUExecutionProvider"])

    def clip(self, audio: np.ndarray) -> dict:
        import librosa

        from metrics.dnsmos import INPUT_LENGTH, POLY, SR
        length = int(INPUT_LENGTH * SR)
        while len(audio) < length:
            audio = np.append(audio, audio)
        num = int(np.floor(len(audio) / SR) - INPUT_LENGTH) + 1
        sig, bak, ovr, p808 = [], [], [], []
        for idx in range(num):
            seg = audio[int(idx * SR): int((idx + INPUT_LENGTH) * SR)]
            if len(seg) < length:
                continue
            raw = self.sess.run(None, {"input_1": seg[None].astype("float32")})[0][0]
            mel = librosa.feature.melspectrogram(y=seg[:-160], sr=SR, n_fft=321, hop_length=160,
                                                 n_mels=120)
            feat = ((librosa.power_to_db(mel, ref=np.max) + 40) / 40).T
            p808.append(self.p808.run(None, {"input_1": feat[None].astype("float32")})[0][0][0])
            fs, fb, fo = (np.poly1d(c) for c in POLY[False])
            sig.append(fs(raw[0]))
            bak.append(fb(raw[1]))
            ovr.append(fo(raw[2]))
        return {"SIG": float(np.mean(sig)), "BAK": float(np.mean(bak)),
                "OVRL": float(np.mean(ovr)), "P808": float(np.mean(p808))}

    def __call__(self, xs: list[np.ndarray]) -> list[dict]:
        with concurrent.futures.ThreadPoolExecutor() as ex:
            return list(ex.map(self.clip, xs))


def ours(p808: bool):
    from metrics import METRICS, MetricItem
    m = METRICS.get("dnsmos")(p808=p808)
    m.load()

    def run(xs: list[np.ndarray]) -> list[dict]:
        return [s.values for s in m.score([MetricItem(str(i), x, 16000) for i, x in enumerate(xs)])]
    return run


def torchmetrics_run(rate: int = 16000):
    """torchmetrics 1.9.0's functional DNSMOS, one clip at a time, on the speechmos ONNX files
    (copied where torchmetrics looks for its downloads; nothing is downloaded)."""
    if TORCHMETRICS_PATH:
        sys.path.append(TORCHMETRICS_PATH)
    import speechmos
    import torch
    from torchmetrics.functional.audio import dnsmos as tm
    src = Path(speechmos.__file__).parent
    tmp = Path(tempfile.mkdtemp(prefix="tm_dnsmos_"))
    for a, b in (("dnsmos_models/model_v8.onnx", "DNSMOS/model_v8.onnx"),
                 ("dnsmos_models/sig_bak_ovr.onnx", "DNSMOS/sig_bak_ovr.onnx"),
                 ("pdnsmos_models/sig_bak_ovr.onnx", "pDNSMOS/sig_bak_ovr.onnx")):
        (tmp / b).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src / a, tmp / b)
    tm.DNSMOS_DIR = str(tmp)

    def run(xs: list[np.ndarray]) -> list[dict]:
        out = []
        for x in xs:
            p808, sig, bak, ovr = tm.deep_noise_suppression_mean_opinion_score(
                torch.from_numpy(np.asarray(x, np.float32)), rate, False).tolist()
            out.append({"SIG": sig, "BAK": bak, "OVRL": ovr, "P808": p808})
        return out
    return run


def _variant(name: str):
    return {"official": Official, "ours": lambda: ours(True), "ours_no_p808": lambda: ours(False),
            "torchmetrics": torchmetrics_run}[name]()


def _torchmetrics_available() -> bool:
    code = (f"import sys; sys.path.append({TORCHMETRICS_PATH!r}); "
            "import torchmetrics.functional.audio.dnsmos")
    return subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def _peak_rss(name: str) -> float:
    """MB of peak RSS (VmHWM) of a fresh process that loads the variant and scores the
    single-window clips. VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's RSS."""
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from bench.bench_dnsmos import "
            f"_variant, clips; xs = clips('single'); f = _variant({name!r}); f(xs); "
            "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env=dict(os.environ, BENCHMARK_NO_PROGRESS="1"))
    if res.returncode:
        raise RuntimeError(res.stderr[-2000:])
    return int(res.stdout.strip().splitlines()[-1]) / 1024


def _timed(fns: dict, xs: list[np.ndarray]) -> tuple[dict, dict]:
    best = {n: float("inf") for n in fns}
    cpu = {n: float("inf") for n in fns}
    scores = {}
    for _ in range(REPEATS):
        for n, f in fns.items():                 # alternate: load drifts hit every variant
            t0, c0 = time.perf_counter(), time.process_time()
            scores[n] = f(xs)
            best[n] = min(best[n], time.perf_counter() - t0)
            cpu[n] = min(cpu[n], time.process_time() - c0)
    return best, cpu, scores


def graph_gflop(path: Path) -> dict:
    """GFLOP (2 per multiply-add) of one window through an ONNX graph, counted from its Conv and
    MatMul nodes and their inferred output shapes: the four full-resolution 3x3 layers of
    sig_bak_ovr.onnx (`TRUNK_CONVS`) and the rest."""
    import onnx
    from onnx import numpy_helper

    from metrics._dnsmos_winograd import TRUNK_CONVS
    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    init = {i.name: numpy_helper.to_array(i).shape for i in model.graph.initializer}
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(model.graph.value_info) + list(model.graph.output)}
    out = {"trunk_3x3": 0.0, "rest": 0.0}
    for n in model.graph.node:
        if n.op_type == "Conv":
            w = init[n.input[1]]                               # (out, in, k...)
            macs = int(np.prod(shapes[n.output[0]][1:])) * int(np.prod(w[1:]))
        elif n.op_type == "MatMul" and n.input[1] in init:
            macs = int(np.prod(shapes[n.output[0]][1:])) * init[n.input[1]][0]
        else:
            continue
        out["trunk_3x3" if n.output[0] in TRUNK_CONVS else "rest"] += 2 * macs / 1e9
    return {k: round(v, 2) for k, v in out.items()}


def one_thread_evidence(reps: int = 5) -> dict:
    """Why single windows stay near the official speed: per window, on one thread (CPU time of
    the calling thread, best of `reps`, so other processes' load counts less): onnxruntime's
    sig_bak_ovr.onnx, our Winograd path, the P.808 parts, and this core's fp32 peak as the best
    of a 4096^2 numpy sgemm (OpenBLAS) and torch.mm (MKL/oneDNN)."""
    import onnxruntime as ort
    import speechmos
    import threadpoolctl
    import torch

    from metrics._dnsmos_winograd import WinogradWindow
    from metrics.dnsmos import p808_features
    root = Path(speechmos.__file__).parent / "dnsmos_models"
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    full = ort.InferenceSession(str(root / "sig_bak_ovr.onnx"), opts, providers=["CPUExecutionProvider"])
    p808 = ort.InferenceSession(str(root / "model_v8.onnx"), opts, providers=["CPUExecutionProvider"])
    wino = WinogradWindow(str(root / "sig_bak_ovr.onnx"), opts)
    win = clips("single")[0]
    win = np.concatenate([win, win])[:144160]
    feats = p808_features(win[None])

    def best(f) -> float:
        f()
        ts = []
        for _ in range(reps):
            t = time.thread_time()
            f()
            ts.append(time.thread_time() - t)
        return min(ts)
    a = np.random.default_rng(0).standard_normal((4096, 4096)).astype(np.float32)
    ta = torch.from_numpy(a)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpoolctl.threadpool_limits(1):
        t_ort = best(lambda: full.run(None, {"input_1": win[None]}))
        t_wino = best(lambda: wino.raw(win))
        t_feat = best(lambda: p808_features(win[None]))
        t_p808 = best(lambda: p808.run(None, {"input_1": feats}))
        t_gemm = min(best(lambda: a @ a), best(lambda: torch.mm(ta, ta)))
    torch.set_num_threads(threads)
    flop = graph_gflop(root / "sig_bak_ovr.onnx")
    total = flop["trunk_3x3"] + flop["rest"]
    peak = 2 * 4096 ** 3 / t_gemm / 1e9
    # Winograd: layers 2-4 need 36 products per 16 outputs instead of 144 (a quarter)
    layer1 = 2 * 900 * 161 * 128 * 9 / 1e9
    wino_flop = layer1 + (flop["trunk_3x3"] - layer1) / 4 + flop["rest"]
    return {
        "load_average_1min": round(os.getloadavg()[0], 2),
        "sig_bak_ovr_gflop_per_window": {**flop, "total": round(total, 2)},
        "winograd_gflop_per_window": round(wino_flop, 2),
        "fp32_sgemm_peak_gflops_one_thread": round(peak, 1),
        "seconds_per_window_one_thread": {
            "onnxruntime_sig_bak_ovr": round(t_ort, 4), "winograd_sig_bak_ovr": round(t_wino, 4),
            "p808_features": round(t_feat, 4), "p808_model": round(t_p808, 4)},
        "onnxruntime_gflops_one_thread": round(total / t_ort, 1),
        "onnxruntime_fraction_of_sgemm_peak": round(total / t_ort / peak, 2),
        "winograd_speedup_sig_bak_ovr": round(t_ort / t_wino, 2),
        # the official per-window work is onnxruntime + P.808; ours replaces only the first
        "single_window_bound_with_same_p808": round((t_ort + t_feat + t_p808)
                                                     / (t_wino + t_feat + t_p808), 2),
    }


def main() -> dict:
    names = ["official", "ours", "ours_no_p808"]
    fns = {n: _variant(n) for n in names}
    result: dict = {"repeats": REPEATS, "cpus": os.cpu_count()}
    for kind in ("single", "long"):
        xs = clips(kind)
        load0 = os.getloadavg()[0]
        best, cpu, scores = _timed(fns, xs)
        diff = {n: max(abs(a[c] - b[c]) for a, b in zip(scores["official"], scores[n], strict=True)
                       for c in a if c in b) for n in names[1:]}
        result[kind] = {
            "clips": len(xs), "clip_seconds": SINGLE_S if kind == "single" else LONG_S,
            "load_average_1min": [round(load0, 2), round(os.getloadavg()[0], 2)],
            "seconds": {n: round(best[n], 2) for n in names},
            "speedup_vs_official": {n: round(best["official"] / best[n], 2) for n in names},
            "cpu_seconds": {n: round(cpu[n], 2) for n in names},
            "cpu_ratio_official_over_ours": {n: round(cpu["official"] / cpu[n], 2) for n in names},
            "max_abs_score_difference_vs_official": {n: float(f"{d:.2e}") for n, d in diff.items()},
        }
        print(json.dumps({kind: result[kind]}, indent=1), flush=True)
    result["one_thread"] = one_thread_evidence()
    print(json.dumps({"one_thread": result["one_thread"]}, indent=1), flush=True)
    if os.environ.get("BENCH_DNSMOS_RSS", "1") != "0":
        rss_names = ["official", "ours"] + (["torchmetrics"] if _torchmetrics_available() else [])
        result["peak_rss_mb_single_clips"] = {n: round(_peak_rss(n)) for n in rss_names}
        print(json.dumps({"peak_rss_mb_single_clips": result["peak_rss_mb_single_clips"]}), flush=True)
    return result


if __name__ == "__main__":
    main()
