"""Per-metric throughput on this machine (2 CPU cores in dev/CI), on real clips.

Items: the 6 VoiceBank-DEMAND p287 noisy/clean pairs (with transcripts) and the 3 DNS synthetic
noisy/clean pairs. Each metric (offline backend) scores all items in one `score` call after one
warm-up call on a single item (model loading excluded). DNSMOS is also timed the reference way,
`speechmos.dnsmos.run` one clip at a time, on the same 16 kHz signals.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = Path(os.environ.get("BENCHMARK_CORPORA", ROOT.parent / "shared" / "data" / "corpora"))
METRIC_NAMES = ("dnsmos", "lsd", "sispnr", "ssim", "si_snr", "pesq", "pesq_nb", "stoi", "estoi",
                "spk_sim", "nisqa", "wer")


def _items():
    from benchmark.core.audio import read_audio
    from metrics import MetricItem
    items = []
    vb = CORPORA / "VoiceBank-DEMAND"
    for clean in sorted((vb / "clean_testset_wav").glob("*.wav")):
        (x, r), (c, rc) = read_audio(vb / "noisy_testset_wav" / clean.name), read_audio(clean)
        text = (vb / "testset_txt" / f"{clean.stem}.txt").read_text().strip()
        items.append(MetricItem(clean.stem, x, r, c, rc, text))
    dns = next(CORPORA / d / "synthetic/no_reverb" for d in
               ("DNS-Challenge/datasets/test_set", "DNS-Challenge/test_set")
               if (CORPORA / d).is_dir())
    for i in (15, 16, 72):
        (x, r) = read_audio(next((dns / "noisy").glob(f"*_fileid_{i}.wav")))
        (c, rc) = read_audio(dns / "clean" / f"clean_fileid_{i}.wav")
        items.append(MetricItem(f"dns{i}", x, r, c, rc, None))
    return items


def main() -> dict:
    os.environ.setdefault("BENCHMARK_ASSET_MIRROR", str(CORPORA.parent / "assets"))
    from benchmark.core.audio import resample
    from metrics import METRICS
    items = _items()
    audio_s = sum(len(it.audio) / it.rate for it in items)
    results = {"cpu_count": os.cpu_count(), "items": len(items), "audio_seconds": round(audio_s, 2),
               "metrics": {}}
    for name in METRIC_NAMES:
        m = METRICS.get(name)()
        todo = [it for it in items if it.transcript] if m.info.needs_transcript else items
        m.load()
        m.score(todo[:1])                                   # warm-up (JIT, caches, sessions)
        t0 = time.perf_counter()
        scores = m.score(todo)
        dt = time.perf_counter() - t0
        secs = sum(len(it.audio) / it.rate for it in todo)
        results["metrics"][name] = {
            "backend": m.backend, "items": len(todo), "errors": sum(s.error is not None for s in scores),
            "seconds": round(dt, 3), "items_per_s": round(len(todo) / dt, 3),
            "audio_s_per_s": round(secs / dt, 2), "set_value": m.aggregate(scores)}
        print(f"   {name:8s} {len(todo) / dt:7.2f} items/s {secs / dt:8.2f} audio-s/s", flush=True)
    import speechmos.dnsmos as ref
    sig16 = [resample(it.audio, it.rate, 16000) for it in items]
    ref.run(sig16[0], 16000)
    t0 = time.perf_counter()
    for x in sig16:
        ref.run(x, 16000)
    dt = time.perf_counter() - t0
    ours = results["metrics"]["dnsmos"]
    results["dnsmos_vs_speechmos"] = {
        "ours_batched_items_per_s": ours["items_per_s"],
        "speechmos_one_by_one_items_per_s": round(len(items) / dt, 3),
        "speechmos_audio_s_per_s": round(audio_s / dt, 2), "speedup": round(dt / ours["seconds"], 2)}
    print(f"   speechmos.dnsmos.run one clip at a time: {len(items) / dt:.2f} items/s "
          f"(ours {ours['items_per_s']:.2f})")
    return results


if __name__ == "__main__":
    import json
    print(json.dumps(main(), indent=1))
