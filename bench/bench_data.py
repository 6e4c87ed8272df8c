"""MaskSR training degradation (issue 25): pairs/s of the old path (`testsets.distortions`
sample + render, 1-Hz cutoffs) and the new one (`systems.masksr.augment`, 50-Hz cutoff grid,
cached designs) side by side in one run, one thread, 4 s segments of real VCTK speech with the real
noise recordings and RIRs of ../shared/data; KS tests of 2,000 parameter draws of old and new for
the same distribution; workers per GPU needed for MaskSR-S / L at the papers' batches.

Rates are given per CPU second of this process (time.process_time: what one core delivers,
whatever else runs on the machine) and per wall second (depends on the load, recorded)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "data" / "corpora"
RESULTS = Path(__file__).parent / "results"

# GPU step estimate (no GPU on the machine that ran this: an estimate, not a measurement)
H100_BF16_DENSE_TFLOPS = 989.0          # NVIDIA H100 SXM datasheet, bf16 dense tensor core peak
ASSUMED_MFU = 0.40                      # model FLOPs utilisation assumed for the estimate
PAPER_SETUPS = {                        # config, global batch, GPUs in the paper
    "MaskSR-S (001)": ("masksr_s", 64, 4),
    "MaskSR2-S (002)": ("masksr2_s", 128, 8),
    "MaskSR-L (002)": ("masksr_l", 256, 8),
    "MaskSR2-L (002)": ("masksr2_l", 256, 8),
}


def _segments(n: int) -> list[np.ndarray]:
    from systems.masksr.segments import load_at
    out = []
    for f in sorted((CORPORA / "VCTK-Corpus-0.92").rglob("*.flac")):
        x = load_at(f, 44100)
        x = np.tile(x, -(-n // len(x)))[:n]
        out.append((x / np.abs(x).max()).astype(np.float32))
    return out


def _pools(cfg, noise_cache_mb: float = 256.0):
    from systems.masksr.data import NoiseRirPools
    from systems.masksr.segments import list_audio
    return NoiseRirPools(cfg, list_audio([str(CORPORA / "noise")], "noise"),
                         list_audio([str(CORPORA / "rirs")], "rir"), 0, 0, noise_cache_mb=noise_cache_mb)


def _old_pair(k, segs, pools, dcfg):
    from testsets.distortions import render, sample_params
    rng = np.random.default_rng([1, k])
    p = sample_params(rng, dcfg)
    rir = pools.rir_for(rng) if p.reverb else None
    noise = pools.noise_for(rng, len(segs[0])) if p.snr_db is not None else None
    out = render(segs[k % len(segs)], 44100, p, noise=noise, rir=rir)
    return out.degraded


def _new_pair(k, segs, pools, dist):
    from systems.masksr.augment import render, sample
    rng = np.random.default_rng([1, k])
    p = sample(rng, dist)
    rir = pools.rir_for(rng) if p.reverb else None
    noise = pools.noise_for(rng, len(segs[0])) if p.snr_db is not None else None
    return render(segs[k % len(segs)], 44100, p, dist, noise=noise, rir=rir)[0]


def _design_for(dist, seeds: list[int], rate: int) -> int:
    """Make the IIR designs and resampler plans the items of `seeds` will use (cached, as after
    the first ~10^4 items of a run: 4 types x 8 orders x 422 cutoffs, 842 resampler passes)."""
    from systems.masksr.augment import IIR_TYPES, iir_sos, polyphase_plan, sample
    n = 0
    for k in seeds:
        p = sample(np.random.default_rng([1, k]), dist)
        for lp in (p.lowpass, p.noise_lowpass):
            if lp is not None and lp.filter_type in IIR_TYPES and lp.cutoff < rate / 2:
                iir_sos(lp.filter_type, lp.order, float(lp.cutoff), rate, dist.bessel_norm)
                n += 1
            if lp is not None and (lp.resample or lp.filter_type == "stft") and lp.cutoff < rate / 2:
                low = int(round(2 * lp.cutoff))
                g = math.gcd(low, rate)
                polyphase_plan(low // g, rate // g)
                polyphase_plan(rate // g, low // g)
                n += 2
    return n


def throughput(rounds: int = 3, old_items: int = 16, new_items: int = 64) -> dict:
    """A B A B: each round renders `old_items` pairs by the old path and `new_items` by the new one
    (same Algorithm-1 distribution), then `new_items` of the new training distribution, with the
    noise files kept resampled and, as for a noise set larger than the cache, resampled per draw. The new
    path's filter designs and resampler plans are made first (its steady state in a long run; the
    one-off CPU cost is recorded) and it keeps the noise files resampled (`noise_cache_mb`); the
    old path designs per item and resamples noise per draw, as it always did."""
    from systems.masksr.augment import ALGORITHM1, VOICEFIXER_CODE, warm_designs
    from systems.masksr.config import get_config
    from systems.masksr.data import distortion_config
    cfg = get_config("masksr2_s")
    load_start = [round(v, 2) for v in os.getloadavg()]
    segs = _segments(int(cfg.segment_seconds * cfg.rate))
    pools = _pools(cfg)
    old_pools = _pools(cfg, noise_cache_mb=0)        # the old path read and resampled noise per draw
    old_cfg = distortion_config(cfg)
    same = dataclasses.replace(ALGORITHM1, cutoff_step=50.0, clip_range=tuple(cfg.clip),
                               cutoff_range=tuple(cfg.bandwidth_hz), snr_range=tuple(cfg.snr_db))
    t0 = time.process_time()
    designs = warm_designs(VOICEFIXER_CODE, cfg.rate) + warm_designs(same, cfg.rate)
    for dist in (same, VOICEFIXER_CODE):          # a long run's steady state: every design cached
        designs += _design_for(dist, [r * 1000 + k for r in range(rounds) for k in range(new_items)], cfg.rate)
    warm_s = time.process_time() - t0
    sides = {"old": (lambda k: _old_pair(k, segs, old_pools, old_cfg), old_items),
             "new_same_distribution": (lambda k: _new_pair(k, segs, pools, same), new_items),
             "new_training_distribution": (lambda k: _new_pair(k, segs, pools, VOICEFIXER_CODE), new_items),
             # a noise set larger than noise_cache_mb (e.g. DNS's): every draw resamples its noise
             "new_training_distribution_noise_uncached":
                 (lambda k: _new_pair(k, segs, old_pools, VOICEFIXER_CODE), new_items)}
    cpu = dict.fromkeys(sides, 0.0)
    wall = dict.fromkeys(sides, 0.0)
    count = dict.fromkeys(sides, 0)
    for r in range(rounds):
        for name, (fn, n) in sides.items():
            c0, w0 = time.process_time(), time.perf_counter()
            for k in range(n):
                fn(r * 1000 + k)
            cpu[name] += time.process_time() - c0
            wall[name] += time.perf_counter() - w0
            count[name] += n
        print(f"   round {r + 1}/{rounds}:", {k: round(count[k] / cpu[k], 1) for k in sides}, flush=True)
    rates = {k: {"items": count[k], "pairs_per_cpu_s": round(count[k] / cpu[k], 1),
                 "pairs_per_wall_s": round(count[k] / wall[k], 1),
                 "ms_cpu_per_pair": round(1000 * cpu[k] / count[k], 2)} for k in sides}
    out = {"segment_seconds": cfg.segment_seconds, "rate": cfg.rate, "threads": torch.get_num_threads(),
           "load_average_start": load_start, "load_average": [round(v, 2) for v in os.getloadavg()],
           "design_warmup_cpu_s": round(warm_s, 2), "designs_cached": designs,
           "rates": rates,
           "ratio_new_over_old_same_distribution": round(rates["new_same_distribution"]["pairs_per_cpu_s"]
                                                         / rates["old"]["pairs_per_cpu_s"], 2),
           "ratio_training_over_old": round(rates["new_training_distribution"]["pairs_per_cpu_s"]
                                            / rates["old"]["pairs_per_cpu_s"], 2),
           "ratio_training_noise_uncached_over_old": round(
               rates["new_training_distribution_noise_uncached"]["pairs_per_cpu_s"]
               / rates["old"]["pairs_per_cpu_s"], 2)}
    print("   ratio new/old (same distribution):", out["ratio_new_over_old_same_distribution"],
          " training distribution/old:", out["ratio_training_over_old"], flush=True)
    return out


def segment_read(reads: int = 200) -> dict:
    """CPU s per item of what a worker does besides degrading: decode one 4 s 16-bit FLAC segment
    and its codegram (8 gains) from bytes, as `ShardReader.read` does (a prepared shard needs the
    DAC, too slow here; the members' bytes are built the same way `write_shard` builds them)."""
    import io

    from systems.masksr.shards import _flac, _npy
    seg = _segments(int(4 * 44100))[0]
    flac = _flac(np.round(seg * 32767).astype(np.int16), 44100)
    codes = _npy(np.zeros((8, 9, 345), dtype=np.int16))
    import soundfile as sf
    c0 = time.process_time()
    for _ in range(reads):
        sf.read(io.BytesIO(flac), dtype="int16")
        np.load(io.BytesIO(codes), allow_pickle=False)
    per = (time.process_time() - c0) / reads
    out = {"ms_cpu_per_item": round(1000 * per, 3), "flac_bytes": len(flac)}
    print("   segment read:", out, flush=True)
    return out


def torch_path(batches: int = 3, batch: int = 16) -> dict:
    """The batched torch path (`augment_torch.render_batch`) on this CPU, one thread: the worker
    side (draw parameters, read noise and RIRs) and the device side (render the batch) timed
    apart, per CPU second; on a GPU the device side is not measured here (no GPU)."""
    from systems.masksr.augment import VOICEFIXER_CODE, sample
    from systems.masksr.augment_torch import render_batch
    from systems.masksr.config import get_config
    cfg = get_config("masksr2_s")
    n = int(cfg.segment_seconds * cfg.rate)
    segs = _segments(n)
    pools = _pools(cfg)
    worker = device = 0.0
    for r in range(batches + 1):                    # the first batch warms up (not counted)
        c0 = time.process_time()
        params, noises, rirs = [], [], []
        for k in range(batch):
            rng = np.random.default_rng([1, r * 1000 + k])
            p = sample(rng, VOICEFIXER_CODE)
            rirs.append(pools.rir_for(rng) if p.reverb else None)
            noises.append(pools.noise_for(rng, n) if p.snr_db is not None else np.zeros(n, np.float32))
            params.append(p)
        clean = torch.from_numpy(np.stack([segs[k % len(segs)] for k in range(batch)]))
        c1 = time.process_time()
        render_batch(clean, params, VOICEFIXER_CODE, cfg.rate, torch.from_numpy(np.stack(noises)), rirs)
        c2 = time.process_time()
        if r:
            worker += c1 - c0
            device += c2 - c1
    items = batches * batch
    out = {"batch": batch, "items": items, "worker_side_pairs_per_cpu_s": round(items / worker, 1),
           "render_on_cpu_pairs_per_cpu_s": round(items / device, 1),
           "note": "worker side = what DataLoader workers still do when the device renders; the render "
                   "itself was timed on this CPU (1 thread), not on a GPU"}
    print("   torch path:", out, flush=True)
    return out


def _record(p, noise_lowpass: float) -> dict:
    """A draw's recorded parameters (old `sample_params` and new `sample` differ only in how the
    noise low-pass is stored: a flag, or its parameters or None)."""
    lp = p.lowpass
    return {"reverb": float(p.reverb), "clip_on": float(p.clip_eta is not None), "clip_eta": p.clip_eta,
            "lowpass_on": float(lp is not None), "cutoff_hz": lp.cutoff if lp else None,
            "filter_order": lp.order if lp else None,
            "filter_type": ("butter", "cheby1", "bessel", "ellip").index(lp.filter_type) if lp else None,
            "noise_lowpass": noise_lowpass, "snr_db": p.snr_db, "gain": p.gain}


def _old_record(p) -> dict:
    return _record(p, float(p.noise_lowpass))


def _new_record(p) -> dict:
    return _record(p, float(p.noise_lowpass is not None))


def ks_table(draws: int = 2000) -> dict:
    """Two-sample KS p-value per recorded parameter: old sampler (1-Hz cutoffs) vs new sampler
    (50-Hz grid), same distribution, independent seeds."""
    from scipy.stats import ks_2samp

    from systems.masksr.augment import ALGORITHM1, sample
    from systems.masksr.config import get_config
    from systems.masksr.data import distortion_config
    from testsets.distortions import sample_params
    cfg = get_config("masksr2_s")
    same = dataclasses.replace(ALGORITHM1, cutoff_step=50.0, clip_range=tuple(cfg.clip),
                               cutoff_range=tuple(cfg.bandwidth_hz), snr_range=tuple(cfg.snr_db))
    old = [_old_record(sample_params(np.random.default_rng([2, k]), distortion_config(cfg))) for k in range(draws)]
    new = [_new_record(sample(np.random.default_rng([3, k]), same)) for k in range(draws)]
    rows = {}
    for key in old[0]:
        a = np.array([r[key] for r in old if r[key] is not None], dtype=float)
        b = np.array([r[key] for r in new if r[key] is not None], dtype=float)
        res = ks_2samp(a, b)
        rows[key] = {"n_old": len(a), "n_new": len(b), "mean_old": round(float(a.mean()), 4),
                     "mean_new": round(float(b.mean()), 4), "ks_statistic": round(float(res.statistic), 4),
                     "p_value": round(float(res.pvalue), 4)}
    print("   KS p-values:", {k: v["p_value"] for k, v in rows.items()}, flush=True)
    return {"draws": draws, "distribution": "Algorithm 1 probabilities with 001/002 ranges (the trainer's "
            "distribution before issue 25), old = testsets.distortions.sample_params, new = "
            "systems.masksr.augment.sample with cutoff_step 50 Hz", "rows": rows}


def _flops_per_item(name: str) -> tuple[float, dict]:
    """Training FLOPs of one item (forward + backward = 3 x forward): 6 x matmul parameters x
    frames, plus attention scores and values (12 x frames^2 x d per block). Embedding tables are
    lookups (not counted); DAC and HuBERT are pre-extracted (not in the step)."""
    from systems.masksr.config import get_config
    from systems.masksr.model import MaskSRModel
    cfg = get_config(name)
    model = MaskSRModel(cfg)
    params = sum(p.numel() for p in model.parameters())
    emb = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding))
    frames = cfg.segment_frames
    blocks = cfg.encoder_blocks + cfg.lm_blocks
    flops = 6 * (params - emb) * frames + 12 * blocks * frames ** 2 * cfg.d_model
    del model
    return float(flops), {"params_m": round(params / 1e6, 1), "matmul_params_m": round((params - emb) / 1e6, 1),
                          "frames": frames, "segment_seconds": cfg.segment_seconds}


def workers_table(pairs_per_worker: dict[str, float]) -> dict:
    eff = H100_BF16_DENSE_TFLOPS * 1e12 * ASSUMED_MFU
    rows = []
    for label, (name, batch, gpus) in PAPER_SETUPS.items():
        flops, info = _flops_per_item(name)
        per_gpu = batch // gpus
        step_s = per_gpu * flops / eff
        items_s = per_gpu / step_s
        row = {"model": label, "config": name, **info, "global_batch": batch, "paper_gpus": gpus,
               "batch_per_gpu": per_gpu, "gflop_per_item": round(flops / 1e9, 1),
               "est_step_s": round(step_s, 4), "est_items_per_s_per_gpu": round(items_s, 1)}
        for path, rate in pairs_per_worker.items():
            row[f"workers_{path}"] = math.ceil(items_s / rate)
        rows.append(row)
    return {"estimate": f"GPU step time ESTIMATED from FLOPs (no GPU measured): H100 SXM bf16 dense peak "
                        f"{H100_BF16_DENSE_TFLOPS:.0f} TFLOP/s x assumed MFU {ASSUMED_MFU}; items/s per GPU "
                        f"do not depend on the batch at a fixed MFU",
            "pairs_per_worker": pairs_per_worker, "rows": rows}


def _markdown(t: dict) -> str:
    paths = list(t["pairs_per_worker"])
    head = ("| model | segment | batch (global / per GPU, GPUs) | GFLOP per item | est. step (s) | "
            "est. items/s per GPU | " + " | ".join(f"workers per GPU, {p} ({t['pairs_per_worker'][p]:.0f} pairs/s)"
                                                  for p in paths) + " |")
    lines = [head, "|" + " --- |" * (6 + len(paths))]
    for r in t["rows"]:
        lines.append(f"| {r['model']} | {r['segment_seconds']:.0f} s | {r['global_batch']} / {r['batch_per_gpu']}, "
                     f"{r['paper_gpus']} | {r['gflop_per_item']} | {r['est_step_s']} | {r['est_items_per_s_per_gpu']} | "
                     + " | ".join(str(r[f'workers_{p}']) for p in paths) + " |")
    return "\n".join(lines) + "\n\n" + t["estimate"] + ".\n"


def main() -> dict:
    os.environ.setdefault("BENCHMARK_NO_PROGRESS", "1")
    torch.set_num_threads(1)
    result = {"throughput": throughput(), "torch_path": torch_path(), "segment_read": segment_read(),
              "ks": ks_table()}
    rates = result["throughput"]["rates"]
    read_s = result["segment_read"]["ms_cpu_per_item"] / 1000

    def with_read(pairs_per_s: float) -> float:         # a worker also reads the segment
        return round(1.0 / (1.0 / pairs_per_s + read_s), 1)
    table = workers_table({"old": with_read(rates["old"]["pairs_per_cpu_s"]),
                           "new": with_read(rates["new_training_distribution"]["pairs_per_cpu_s"]),
                           "device_render": with_read(result["torch_path"]["worker_side_pairs_per_cpu_s"])})
    table["note"] = ("pairs/s per worker = 1 / (degradation + segment read) CPU s; 'device_render': "
                     "workers only draw parameters and read audio, the batch is rendered on the GPU by "
                     "augment_torch (its GPU time is not measured and not in the step estimate)")
    result["workers_per_gpu"] = table
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "workers_per_gpu.md").write_text(_markdown(table))
    print(_markdown(table), flush=True)
    return result


if __name__ == "__main__":
    out = main()
    (RESULTS / "bench_data.json").write_text(json.dumps({"benchmark": "bench_data", **out}, indent=2))
