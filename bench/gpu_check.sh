#!/usr/bin/env bash
# GPU check of the MaskSR family (issue 16), for a machine with one CUDA GPU; under 8 minutes.
# Writes bench/results/gpu.json:
#   - 001 Table 2 protocol: masksr_s sampling time for 4/8/12/16 s inputs, fp32 and bf16
#     (random weights: timing only; all windows as one batch, CFG batched, DAC decoder excluded)
#   - training steps/s and peak GPU memory for masksr2_s and masksr2_l in bf16 at the papers'
#     per-GPU batch (002: 128 and 256 over 8 V100s -> 16 and 32 per GPU), 4 s segments
#   - pre-extraction segments/s on the GPU (DAC 44.1 kHz architecture x 8 gains + HuBERT-base
#     architecture, random weights: the released weights' compute)
#   - data-loader items/s (4 s items, real noise/RIR files when ../shared/data exists, else
#     synthetic files) with 2/4/8 workers, against the items/s the training steps consume
# usage: bash bench/gpu_check.sh            (PYTHON=... to choose the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
mkdir -p bench/results
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" BENCHMARK_NO_PROGRESS=1
if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "error: bench/gpu_check.sh needs a CUDA GPU (torch.cuda.is_available() is False); nothing written" >&2
  exit 2
fi
exec timeout 470 "$PY" - <<'EOF'
import json, os, tempfile, time
from pathlib import Path

import numpy as np
import torch

from systems.masksr.config import get_config, override

dev = "cuda"
out = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}
RESULT = Path("bench/results/gpu.json")


def save():
    RESULT.write_text(json.dumps(out, indent=1))


def sync():
    torch.cuda.synchronize()


# 1. Table 2 protocol ------------------------------------------------------------------------
from systems.masksr.model import MaskSRModel
from systems.masksr.sampler import sample_codegrams, split_windows

PAPER = {4: 2.72, 8: 4.10, 12: 4.92, 16: 5.22}      # 001 Table 2, MaskSR-S on an A100, seconds
cfg = get_config("masksr_s")
torch.manual_seed(0)
model = MaskSRModel(cfg).to(dev).eval()
window = cfg.window_frames * cfg.hop
rows = []
rng = np.random.default_rng(0)
with torch.inference_mode():
    for precision in ("fp32", "bf16"):
        ctx = lambda: torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16")
        with ctx():
            w = torch.from_numpy(split_windows(rng.standard_normal(window).astype(np.float32), window)[0]).to(dev)
            sample_codegrams(model, w, iterations=4)
        for seconds in (4, 8, 12, 16):
            x = (0.1 * rng.standard_normal(seconds * cfg.rate)).astype(np.float32)
            w = torch.from_numpy(split_windows(x, window)[0]).to(dev)
            times = []
            for r in range(3):
                sync(); t0 = time.perf_counter()
                with ctx():
                    sample_codegrams(model, w, seed=r)
                sync(); times.append(time.perf_counter() - t0)
            rows.append({"precision": precision, "seconds_audio": seconds, "sampling_s": round(float(np.median(times)), 4),
                         "paper_a100_s": PAPER[seconds]})
            print(rows[-1], flush=True)
out["table2_masksr_s"] = rows
del model
torch.cuda.empty_cache()
save()

# 2. training steps/s, bf16 --------------------------------------------------------------------
from systems.masksr.strategies import get_strategy
from systems.masksr.trainer import draw_masks, step_loss

train_rows = []
for name, per_gpu in (("masksr2_s", 16), ("masksr2_l", 32)):
    cfg = get_config(name)
    torch.manual_seed(0)
    model = MaskSRModel(cfg).to(dev).train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    strategy = get_strategy(cfg.codebook_modelling)
    n = int(cfg.segment_seconds * cfg.rate)
    T = -(-n // cfg.hop)
    wave = 0.1 * torch.randn(per_gpu, n, device=dev)
    codes = torch.randint(0, cfg.codebook_size, (per_gpu, cfg.n_codebooks, T), device=dev)
    kd = torch.randn(per_gpu, int(cfg.segment_seconds * 50) - 1, 768, device=dev)
    torch.cuda.reset_peak_memory_stats()

    def step(s):
        mask, drop = draw_masks(strategy, codes, cfg, s, 0)
        loss, *_ = step_loss(model, cfg, strategy, wave, codes, kd, mask, drop, "bf16")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for s in range(3):
        step(s)
    sync(); t0 = time.perf_counter(); k = 0
    while time.perf_counter() - t0 < 20 and k < 50:
        step(10 + k); k += 1
    sync(); dt = time.perf_counter() - t0
    train_rows.append({"config": name, "batch_per_gpu": per_gpu, "steps_per_s": round(k / dt, 3),
                       "items_per_s": round(k * per_gpu / dt, 1),
                       "peak_gpu_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2)})
    print(train_rows[-1], flush=True)
    del model, opt
    torch.cuda.empty_cache()
out["training_bf16"] = train_rows
save()

# 3. pre-extraction on the GPU -------------------------------------------------------------------
import transformers

from systems.masksr.codec import Codec, _import_dac
from systems.masksr.prepare import Extractor, PrepareOptions

cfg4 = override(get_config("masksr2_s"), {"kd_teacher": "hubert_random_tiny"})
codec = Codec("dac_random_small", dev)
codec.model = _import_dac().DAC().to(dev).eval()
ex = Extractor(cfg4, PrepareOptions(batch=16), dev, codec)
ex.teacher.model = transformers.HubertModel(transformers.HubertConfig()).to(dev).eval()
pcm = (np.random.default_rng(0).standard_normal((16, int(4 * cfg4.rate))) * 3000).astype(np.int16)
ex.codes(pcm[:2]); ex.kd(pcm[:2])
sync(); t0 = time.perf_counter()
for _ in range(3):
    ex.codes(pcm); ex.kd(pcm)
sync(); dt = time.perf_counter() - t0
out["prepare_gpu"] = {"segments": 48, "gains": 8, "segments_per_s": round(48 / dt, 2),
                      "note": "codec + teacher compute only (audio decode, resampling and writes run on CPU)"}
print(out["prepare_gpu"], flush=True)
del ex, codec
torch.cuda.empty_cache()
save()

# 4. data-loader items/s against training demand -------------------------------------------------
from systems.masksr.data import ItemMaker, NoiseRirPools, ShardSource, StepBatches, list_audio
from systems.masksr.prepare import prepare

shared = Path("..") / "shared" / "data" / "corpora"
tmp = Path(tempfile.mkdtemp())
if shared.exists():
    speech = sorted((shared / "VCTK-Corpus-0.92" / "wav48_silence_trimmed").rglob("*.flac"))[:16]
    noise, rirs = list_audio([str(shared / "noise")], "noise"), list_audio([str(shared / "rirs")], "rir")
    source = "real excerpts"
else:
    import soundfile as sf
    g = np.random.default_rng(1)
    (tmp / "s").mkdir(); (tmp / "n").mkdir()
    for i in range(16):
        t = np.arange(5 * 44100) / 44100
        sf.write(tmp / "s" / f"{i}.wav", (0.3 * np.sin(2 * np.pi * (120 + 10 * i) * t) * (1 + np.sin(3 * t))).astype(np.float32), 44100)
    sf.write(tmp / "n" / "n.wav", (0.1 * g.standard_normal(60 * 44100)).astype(np.float32), 44100)
    speech, noise, rirs, source = sorted((tmp / "s").glob("*.wav")), [tmp / "n" / "n.wav"], [], "synthetic"
cfgd = override(get_config("masksr2_tiny"), {"segment_seconds": 4.0, "segments_per_file": 1, "gain_bins": 2})
prepare(cfgd, speech, tmp / "data", PrepareOptions(files_per_shard=4), device=dev)
maker = ItemMaker(cfgd, ShardSource(tmp / "data"), NoiseRirPools(cfgd, noise, rirs, 64, 0))
loader_rows = []
for workers in (2, 4, 8):
    ds = StepBatches(maker, 16, steps=10**6)
    dl = torch.utils.data.DataLoader(ds, batch_size=None, sampler=range(10**6), num_workers=workers,
                                     worker_init_fn=lambda _: torch.set_num_threads(1), prefetch_factor=2)
    it = iter(dl); next(it)
    t0 = time.perf_counter(); k = 0
    while time.perf_counter() - t0 < 15:
        next(it); k += 1
    dt = time.perf_counter() - t0
    loader_rows.append({"workers": workers, "items_per_s": round(16 * k / dt, 1)})
    print(loader_rows[-1], flush=True)
    del it, dl
out["data_loader_4s"] = {"source": source, "rows": loader_rows,
                         "training_items_per_s": {r["config"]: r["items_per_s"] for r in train_rows}}
save()
print(json.dumps(out, indent=1))
EOF
