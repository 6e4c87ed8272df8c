"""MaskSR trainer data path on CPU (issue 16): pre-extraction throughput, degradation throughput
per worker, the data-wait fraction of a tiny model's CPU step with 0/1/2 DataLoader workers, and
peak RSS of one rank (main process and its workers) training on 1x / 4x / 16x a tiled corpus.

Real audio: VCTK excerpts, noise and RIR files from ../shared/data. Pre-extraction is timed for
the tiny test setup (random small DAC, tiny HuBERT) and for the papers' sizes (the DAC 44.1 kHz
architecture and the HuBERT-base architecture with random weights: same compute as the released
weights, which are not available offline), 4 s segments, 8 gains."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "data" / "corpora"
SPEECH = CORPORA / "VCTK-Corpus-0.92" / "wav48_silence_trimmed"
NOISE, RIRS = CORPORA / "noise", CORPORA / "rirs"


def _files(n: int) -> list[Path]:
    return sorted(SPEECH.rglob("*.flac"))[:n]


def _cfg(**changes):
    from systems.masksr.config import get_config, override
    return override(get_config("masksr2_tiny"), changes)


def prepare_throughput(tmp: Path) -> dict:
    """segments/s of `prepare` (1 process, 1 thread) for the tiny setup, and of the papers' sizes'
    codec + teacher compute per 4 s segment (8 gains: 8 DAC encodes, 1 HuBERT-base pass)."""
    from systems.masksr.prepare import Extractor, PrepareOptions, prepare
    out = {}
    cfg = _cfg(segments_per_file=2)
    files = _files(6)
    t0 = time.perf_counter()
    index = prepare(cfg, files, tmp / "tiny", PrepareOptions(files_per_shard=2, batch=4))
    dt = time.perf_counter() - t0
    n = sum(e["items"] for e in index["splits"]["train"])
    out["tiny_0.5s"] = {"segments": n, "seconds": round(dt, 2), "segments_per_s": round(n / dt, 3),
                        "note": "includes codec/teacher construction, audio reads, FLAC/tar writes"}
    # the papers' sizes: DAC 44.1 kHz architecture (dac.DAC() defaults) + HuBERT-base architecture
    import transformers

    from systems.masksr.codec import Codec, _import_dac
    cfg4 = _cfg(segment_seconds=4.0, segments_per_file=1)
    codec = Codec("dac_random_small")
    codec.model = _import_dac().DAC().eval()
    for p in codec.model.parameters():
        p.requires_grad_(False)
    ex = Extractor(cfg4, PrepareOptions(batch=2), codec=codec)
    ex.teacher.model = transformers.HubertModel(transformers.HubertConfig()).eval()
    rng = np.random.default_rng(0)
    pcm = (rng.standard_normal((1, int(4 * cfg4.rate))) * 3000).astype(np.int16)
    import torch as _t
    x = _t.from_numpy(pcm.astype(np.float32) / 32767.0)
    codec.encode(x[:, : cfg4.rate])                           # warm-up
    t0 = time.perf_counter()
    codec.encode(x)                                           # one gain of one 4 s segment
    t_code = time.perf_counter() - t0
    t0 = time.perf_counter()
    ex.kd(pcm)
    t_kd = time.perf_counter() - t0
    per_segment = 8 * t_code + t_kd                           # 8 gains: 8 encodes, 1 teacher pass
    out["papers_sizes_4s"] = {"dac_encode_4s_s": round(t_code, 3), "hubert_base_4s_s": round(t_kd, 3),
                              "seconds_per_segment_8_gains": round(per_segment, 3),
                              "segments_per_s": round(1 / per_segment, 4),
                              "note": "one DAC encode and one HuBERT pass measured; 8 gains = 8 encodes"}
    print("   prepare:", json.dumps(out), flush=True)
    return out


def degradation_throughput(tmp: Path) -> dict:
    """Items/s of one worker building 4 s training pairs with the training distribution (augment.py:
    voicefixer_main@0c206f7 probabilities, 001 ranges), reading segments from shards and noise/RIRs from disk."""
    from systems.masksr.data import ItemMaker, NoiseRirPools, ShardSource, list_audio
    from systems.masksr.prepare import PrepareOptions, prepare
    cfg = _cfg(segment_seconds=4.0, segments_per_file=1, gain_bins=8)
    prepare(cfg, _files(8), tmp / "four", PrepareOptions(files_per_shard=4, batch=4))
    maker = ItemMaker(cfg, ShardSource(tmp / "four"),
                      NoiseRirPools(cfg, list_audio([str(NOISE)], "noise"), list_audio([str(RIRS)], "rir"), 0, 0))
    n = 48
    t0 = time.perf_counter()
    for k in range(n):
        maker(k % len(maker.source), np.random.default_rng([0, k]))
    dt = time.perf_counter() - t0
    out = {"items": n, "seconds": round(dt, 2), "items_per_s_per_worker": round(n / dt, 2),
           "ms_per_item": round(1000 * dt / n, 1)}
    print("   degradation:", out, flush=True)
    return out


def data_wait(tmp: Path) -> dict:
    """data-wait fraction (time blocked on the next batch / wall time) of masksr2_tiny CPU steps
    (batch 4, 0.5 s segments, 1 intra-op thread) with 0, 1 and 2 workers."""
    from systems.masksr.prepare import PrepareOptions, prepare
    from systems.masksr.train_options import TrainOptions
    from systems.masksr.trainer import train
    cfg = _cfg(segments_per_file=2, steps=24, log_every=24, checkpoint_every=1000, simulated_rirs=2)
    data = tmp / "wait_data"
    prepare(cfg, _files(8), data, PrepareOptions(files_per_shard=4))
    rows = []
    torch.set_num_threads(1)
    for workers in (0, 1, 2):
        out = tmp / f"wait_{workers}"
        t0 = time.perf_counter()
        train(cfg, None, [str(NOISE)], [str(RIRS)], out, options=TrainOptions(workers=workers, tensorboard=False),
              data=data)
        wall = time.perf_counter() - t0
        last = json.loads((out / "train_log.jsonl").read_text().splitlines()[-1])
        rows.append({"workers": workers, "data_wait_fraction": round(last["data_wait_fraction"], 3),
                     "steps_per_s": round(last["steps_per_s"], 3), "wall_s": round(wall, 1)})
        print("   data wait:", rows[-1], flush=True)
    return {"config": "masksr2_tiny batch 4, 24 steps", "rows": rows}


_RSS_CHILD = r"""
import json, os, sys, threading, time, torch
sys.path.insert(0, sys.argv[1])
torch.set_num_threads(1)
from systems.masksr.config import get_config, override
from systems.masksr.train_options import TrainOptions
from systems.masksr.trainer import train

def rss_kb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0

def children(pid):
    out = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            out += [int(c) for c in open(f"/proc/{pid}/task/{tid}/children").read().split()]
        except OSError:
            pass
    return out

peak = {"main_kb": 0, "worker_kb": 0, "rank_kb": 0}
done = False
def sample():
    me = os.getpid()
    while not done:
        m = rss_kb(me); w = [rss_kb(c) for c in children(me)]
        peak["main_kb"] = max(peak["main_kb"], m); peak["worker_kb"] = max([peak["worker_kb"], *w])
        peak["rank_kb"] = max(peak["rank_kb"], m + sum(w))
        time.sleep(0.05)
t = threading.Thread(target=sample, daemon=True); t.start()
cfg = override(get_config("masksr2_tiny"), {"segments_per_file": 2, "steps": int(sys.argv[4]), "batch": 8,
              "log_every": 1000, "checkpoint_every": 100000, "simulated_rirs": 2})
train(cfg, None, [sys.argv[5]], [sys.argv[6]], sys.argv[3], options=TrainOptions(workers=2, tensorboard=False),
      data=sys.argv[2])
done = True; t.join()
print(json.dumps(peak))
"""


def _tile(src: Path, dst: Path, times: int) -> int:
    """A prepared folder holding every shard of `src` `times` times (copies under new names)."""
    index = json.loads((src / "index.json").read_text())
    dst.mkdir(parents=True)
    shutil.copy(src / "prepare.json", dst / "prepare.json")
    entries = []
    for t in range(times):
        for e in index["splits"]["train"]:
            name = f"tile{t:03d}-{e['shard']}"
            shutil.copy(src / e["shard"], dst / name)
            side = json.loads((src / (e["shard"] + ".json")).read_text())
            (dst / (name + ".json")).write_text(json.dumps({**side, "shard": name}))
            entries.append({**e, "shard": name})
    (dst / "index.json").write_text(json.dumps({"key": index["key"], "splits": {"train": entries, "dev": []}}))
    return sum(e["items"] for e in entries)


def rss_scaling(tmp: Path) -> dict:
    """Peak RSS of one rank (main process; largest DataLoader worker) for the same number of steps
    on 1x, 4x and 16x a tiled corpus; the steps cover one whole epoch of the 16x corpus."""
    from systems.masksr.prepare import PrepareOptions, prepare
    cfg = _cfg(segments_per_file=2)
    base = tmp / "rss_base"
    prepare(cfg, _files(8), base, PrepareOptions(files_per_shard=2))
    rows = []
    for times in (1, 4, 16):
        data = tmp / f"rss_x{times}"
        items = _tile(base, data, times)
        steps = 16 * 16 // 8                     # one epoch of the 16x corpus (256 items, batch 8)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "BENCHMARK_NO_PROGRESS": "1"}
        proc = subprocess.run([sys.executable, "-c", _RSS_CHILD, str(ROOT), str(data), str(tmp / f"rss_out{times}"),
                               str(steps), str(NOISE), str(RIRS)], env=env, capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(proc.stderr[-2000:])
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append({"tiling": times, "items": items, "steps": steps, "main_peak_mb": round(r["main_kb"] / 1024, 1),
                     "worker_peak_mb": round(r["worker_kb"] / 1024, 1),
                     "rank_peak_mb": round(r["rank_kb"] / 1024, 1)})
        print("   rss:", rows[-1], flush=True)
    peaks = [r["rank_peak_mb"] for r in rows]
    return {"rows": rows, "max_over_min": round(max(peaks) / min(peaks), 3),
            "note": "VmRSS sampled every 50 ms; rank_peak_mb = peak of main + its 2 DataLoader workers "
                    "(shared copy-on-write pages counted in each: an upper bound)"}


def main(parts: tuple[str, ...] = ("prepare", "degradation_4s", "data_wait", "rss")) -> dict:
    os.environ.setdefault("BENCHMARK_NO_PROGRESS", "1")
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        funcs = {"prepare": prepare_throughput, "degradation_4s": degradation_throughput,
                 "data_wait": data_wait, "rss": rss_scaling}
        result = {"cpu_threads": torch.get_num_threads(), "load_average_at_start": round(load, 2),
                  **{k: funcs[k](tmp) for k in parts}}
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
