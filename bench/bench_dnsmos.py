"""DNSMOS throughput and memory, side by side on the same real clips (every speech and noise file
of ../shared/data, at 16 kHz).

- `official`: the DNS Challenge `dnsmos_local.py` algorithm (microsoft/DNS-Challenge,
  DNSMOS/dnsmos_local.py, with P.808 as in speechmos' port): one clip per task of a
  ThreadPoolExecutor, every window through both ONNX models one at a time.
- `speechmos`: `speechmos.dnsmos.run`, one clip at a time.
- `ours`: metrics/dnsmos.py (trunk shared per clip, 4-window batches), with and without P.808.

Timings alternate the variants in one process (best of REPEATS) so a busy machine slows all of
them alike; the ratio official/ours is the number to read. Peak memory: each variant scores the
clips in a fresh subprocess (ru_maxrss). Scores must agree within 1e-4.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPORA = Path(os.environ.get("BENCHMARK_CORPORA", ROOT.parent / "shared" / "data" / "corpora"))
REPEATS = int(os.environ.get("BENCH_DNSMOS_REPEATS", "2"))


def clips() -> list[np.ndarray]:
    from benchmark.core.audio import read_audio, resample
    files = sorted(p for p in CORPORA.rglob("*") if p.suffix in (".wav", ".flac")
                   and "rirs" not in p.parts)
    out = []
    for f in files:
        x, r = read_audio(f)
        out.append(resample(x, r, 16000).astype(np.float32) if r != 16000 else x.astype(np.float32))
    return out


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


def speechmos_run(xs: list[np.ndarray]) -> list[dict]:
    from speechmos import dnsmos
    out = []
    for x in xs:
        r = dnsmos.run(np.clip(x, -1, 1), sr=16000)
        out.append({"SIG": r["sig_mos"], "BAK": r["bak_mos"], "OVRL": r["ovrl_mos"],
                    "P808": r["p808_mos"]})
    return out


def ours(p808: bool):
    from metrics import METRICS, MetricItem
    m = METRICS.get("dnsmos")(p808=p808)
    m.load()

    def run(xs: list[np.ndarray]) -> list[dict]:
        return [s.values for s in m.score([MetricItem(str(i), x, 16000) for i, x in enumerate(xs)])]
    return run


def _variant(name: str):
    return {"official": lambda: Official(), "speechmos": lambda: speechmos_run,
            "ours": lambda: ours(True), "ours_no_p808": lambda: ours(False)}[name]()


def _peak_rss(name: str) -> float:
    """MB of peak RSS (VmHWM) of a fresh process that loads the variant and scores every clip.
    VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's RSS at fork time."""
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from bench.bench_dnsmos import "
            f"_variant, clips; xs = clips(); f = _variant({name!r}); f(xs); "
            "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env=dict(os.environ, BENCHMARK_NO_PROGRESS="1"))
    if res.returncode:
        raise RuntimeError(res.stderr[-2000:])
    return int(res.stdout.strip().splitlines()[-1]) / 1024


def main() -> dict:
    xs = clips()
    names = ["official", "speechmos", "ours", "ours_no_p808"]
    fns = {n: _variant(n) for n in names}
    best = {n: float("inf") for n in names}
    scores = {}
    for _ in range(REPEATS):
        for n in names:                         # alternate: load drifts hit every variant
            t0 = time.perf_counter()
            scores[n] = fns[n](xs)
            best[n] = min(best[n], time.perf_counter() - t0)
    diff = {n: max(abs(a[c] - b[c]) for a, b in zip(scores["official"], scores[n], strict=True)
                   for c in a if c in b) for n in names[1:]}
    audio_s = sum(len(x) for x in xs) / 16000
    result = {
        "clips": len(xs), "audio_seconds": round(audio_s, 1), "repeats": REPEATS,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "seconds": {n: round(best[n], 2) for n in names},
        "speedup_vs_official": {n: round(best["official"] / best[n], 2) for n in names},
        "max_abs_score_difference_vs_official": {n: float(f"{d:.2e}") for n, d in diff.items()},
        "peak_rss_mb": ({n: round(_peak_rss(n)) for n in names}
                        if os.environ.get("BENCH_DNSMOS_RSS", "1") != "0" else "not measured"),
    }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
