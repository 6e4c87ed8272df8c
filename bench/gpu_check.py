"""What a first real MaskSR run needs to know, measured on one machine with CUDA GPUs in under
8 minutes and without the internet (run through bench/gpu_check.sh, which installs the wheels of
.whl/ first). Writes bench/results/gpu_check.json after every section:

1. `table2`: 001 Table 2's protocol, masksr_s sampling time for 4/8/12/16 s inputs (all windows
   as one batch, CFG batched, DAC decoder excluded), fp32 and bf16, against 001's A100 seconds;
2. `train`: 200 real `trainer.train()` steps of masksr2_s (S size, the papers' 4 s segments,
   per-GPU batch 16 = 002's 128 over 8 GPUs) in bf16 with 8 DataLoader workers on prepared shards:
   steps/s, data-wait fraction, peak GPU memory, and the preparation's segments/s; then 60 steps
   with `render_on="device"` (workers only read and draw, the step renders on the GPU), the same
   numbers under `train.render_on_device`;
3. `restore`: the masksr_s system plugin restoring a 16 s and a 5-minute item in fp32 and bf16
   (peak GPU memory, seconds, real-time factor);
4. `ddp` (2+ GPUs): torchrun/NCCL training on all GPUs, then a resumed run to more steps.

Weights are random (the DAC 44.1 kHz and HuBERT-base architectures: `dac_44khz_random`,
`hubert_base_random`): compute and memory are the real models', the audio is not. Speech, noise
and RIRs are the ../shared/data excerpts when present, else synthetic (recorded in `data`).

`--cpu-smoke` runs the same code tiny on the CPU (masksr2_tiny, a few steps, 1 and 3 s items,
DDP with gloo) so CI rehearses the script; `GPU_CHECK_OUT` overrides the output file and
`GPU_CHECK_SECTIONS=table2,prepare,train,restore,ddp` chooses sections (default: all)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "corpora"
PAPER_TABLE2 = {4: 2.72, 8: 4.10, 12: 4.92, 16: 5.22}      # 001 Table 2, MaskSR-S on an A100, s


@dataclass(frozen=True)
class Plan:
    device: str
    train_config: str
    restore_config: str
    overrides: dict
    train_steps: int
    device_render_steps: int          # a second, shorter train timing with render_on="device"
    per_gpu_batch: int
    workers: int
    files: int
    table2_seconds: tuple[int, ...]
    table2_repeats: int
    restore_seconds: tuple[float, ...]
    ddp_steps: tuple[int, int]
    budget_s: float


GPU = Plan("cuda", "masksr2_s", "masksr_s",
           {"codec": "dac_44khz_random", "kd_teacher": "hubert_base_random"},
           train_steps=200, device_render_steps=60, per_gpu_batch=16, workers=8, files=16, table2_seconds=(4, 8, 12, 16),
           table2_repeats=3, restore_seconds=(16.0, 300.0), ddp_steps=(20, 30), budget_s=450)
SMOKE = Plan("cpu", "masksr2_tiny", "masksr2_tiny", {"segments_per_file": 2, "simulated_rirs": 1},
             train_steps=4, device_render_steps=2, per_gpu_batch=2, workers=2, files=3, table2_seconds=(1,), table2_repeats=1, restore_seconds=(1.0, 3.0),
             ddp_steps=(2, 3), budget_s=120)


class Check:
    def __init__(self, plan: Plan, out: Path, smoke: bool):
        self.plan, self.out, self.smoke = plan, out, smoke
        self.t0 = time.perf_counter()
        self.result: dict = {"mode": "cpu-smoke" if smoke else "gpu", "torch": torch.__version__,
                             "device": torch.cuda.get_device_name(0) if plan.device == "cuda" else "cpu",
                             "gpus": torch.cuda.device_count() if plan.device == "cuda" else 0,
                             "weights": "random (real architectures where the plan names them)",
                             "sections_s": {}}

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def save(self) -> None:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.out.with_name(self.out.name + ".part")
        tmp.write_text(json.dumps(self.result, indent=1))
        os.replace(tmp, self.out)

    def section(self, name: str, fn) -> None:
        wanted = os.environ.get("GPU_CHECK_SECTIONS", "").split(",")
        if wanted != [""] and name not in wanted:
            self.result[name] = {"skipped": "not in GPU_CHECK_SECTIONS"}
        elif self.elapsed() > self.plan.budget_s:
            self.result[name] = {"skipped": f"time budget {self.plan.budget_s:.0f} s spent"}
        else:
            t = time.perf_counter()
            try:
                self.result[name] = fn()
            except Exception as exc:          # one section's failure is recorded, the rest run
                import traceback
                self.result[name] = {"error": f"{type(exc).__name__}: {exc}",
                                     "traceback": traceback.format_exc()[-2000:]}
            self.result["sections_s"][name] = round(time.perf_counter() - t, 1)
        print(f"== {name}: {json.dumps(self.result[name])[:600]}", flush=True)
        self.save()


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def peak_gb(device: str) -> float | None:
    return round(torch.cuda.max_memory_allocated() / 2**30, 3) if device == "cuda" else None


def reset_peak(device: str) -> None:
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def cfg_of(plan: Plan, name: str, **extra):
    from systems.masksr.config import get_config, override
    return override(get_config(name), {**plan.overrides, **extra})


# --- data ----------------------------------------------------------------------------------------
def make_data(plan: Plan, tmp: Path) -> dict:
    """Speech, noise and RIR folders: the shared excerpts when present, else synthetic files."""
    import soundfile as sf
    if SHARED.exists():
        speech = sorted((SHARED / "VCTK-Corpus-0.92" / "wav48_silence_trimmed").rglob("*.flac"))
        return {"source": "../shared/data excerpts", "speech": [str(f) for f in speech[:plan.files]],
                "noise": [str(SHARED / "noise")], "rirs": [str(SHARED / "rirs")]}
    g = np.random.default_rng(1)
    for sub in ("s", "n", "r"):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    t = np.arange(6 * 44100) / 44100
    for i in range(plan.files):
        f0 = 100 + 9 * i + 20 * np.sin(2 * np.pi * 0.7 * t)
        phase = 2 * np.pi * np.cumsum(f0) / 44100
        voiced = sum(np.sin(k * phase) / k for k in range(1, 30)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) ** 2
        sf.write(tmp / "s" / f"{i}.wav", (0.2 * voiced + 0.01 * g.standard_normal(len(t))).astype(np.float32), 44100)
    sf.write(tmp / "n" / "n.wav", (0.1 * g.standard_normal(30 * 44100)).astype(np.float32), 44100)
    for i in range(2):
        n = int(0.4 * 44100)
        rir = g.standard_normal(n) * np.exp(-np.arange(n) / (0.05 * 44100 * (i + 1)))
        rir[0] = 1.0
        sf.write(tmp / "r" / f"r{i}.wav", (rir / np.abs(rir).max()).astype(np.float32), 44100)
    return {"source": "synthetic (no ../shared/data)", "speech": [str(f) for f in sorted((tmp / "s").glob("*.wav"))],
            "noise": [str(tmp / "n")], "rirs": [str(tmp / "r")]}


def speech_item(data: dict, seconds: float) -> np.ndarray:
    from benchmark.core.audio import read_audio, resample
    parts = [resample(*read_audio(f), 44100) for f in data["speech"]]
    return np.resize(np.concatenate(parts), int(seconds * 44100)).astype(np.float32)


# --- sections ------------------------------------------------------------------------------------
def table2(plan: Plan) -> dict:
    from systems.masksr.model import MaskSRModel
    from systems.masksr.sampler import precision_context, sample_codegrams, split_windows
    cfg = cfg_of(plan, plan.restore_config)
    dev = torch.device(plan.device)
    torch.manual_seed(0)
    model = MaskSRModel(cfg).to(dev).eval()
    window = cfg.window_frames * cfg.hop
    rng = np.random.default_rng(0)
    rows = []
    with torch.inference_mode():
        for precision in ("fp32", "bf16"):
            with precision_context(precision, dev):
                w = torch.from_numpy(split_windows(rng.standard_normal(window).astype(np.float32), window)[0])
                sample_codegrams(model, w.to(dev), iterations=2)
                for seconds in plan.table2_seconds:
                    x = (0.1 * rng.standard_normal(seconds * cfg.rate)).astype(np.float32)
                    w = torch.from_numpy(split_windows(x, window)[0]).to(dev)
                    times = []
                    for r in range(plan.table2_repeats):
                        sync(plan.device)
                        t0 = time.perf_counter()
                        sample_codegrams(model, w, seed=r)
                        sync(plan.device)
                        times.append(time.perf_counter() - t0)
                    rows.append({"precision": precision, "seconds_audio": seconds, "windows": int(w.shape[0]),
                                 "sampling_s": round(float(np.median(times)), 4),
                                 "paper_a100_s": PAPER_TABLE2.get(seconds)})
    return {"config": cfg.name, "iterations": cfg.iterations, "rows": rows}


def prepare_data(plan: Plan, data: dict, tmp: Path) -> tuple[Path, dict]:
    from systems.masksr.prepare import PrepareOptions, prepare
    cfg = cfg_of(plan, plan.train_config)
    t0 = time.perf_counter()
    index = prepare(cfg, [Path(f) for f in data["speech"]], tmp / "prepared",
                    PrepareOptions(files_per_shard=4, batch=16, dev_fraction=0.0), device=plan.device)
    dt = time.perf_counter() - t0
    n = sum(e["items"] for e in index["splits"]["train"])
    return tmp / "prepared", {"segments": n, "gains": len(index["key"]["gains"]), "seconds": round(dt, 1),
                              "segments_per_s": round(n / dt, 2)}


def train_run(plan: Plan, data: dict, prepared: Path, tmp: Path) -> dict:
    """`train_steps` steps with the workers rendering, then `device_render_steps` more with
    `render_on="device"` (a fresh run: the same batches rendered on the GPU in the step)."""
    out = timed_train(plan, data, prepared, tmp / "ckpt", plan.train_steps, "workers")
    if plan.device_render_steps:
        out["render_on_device"] = timed_train(plan, data, prepared, tmp / "ckpt_device",
                                              plan.device_render_steps, "device")
    return out


def timed_train(plan: Plan, data: dict, prepared: Path, ckpt: Path, steps: int, render_on: str) -> dict:
    from systems.masksr.train_options import TrainOptions
    from systems.masksr.trainer import train
    cfg = cfg_of(plan, plan.train_config, steps=steps, batch=plan.per_gpu_batch,
                 log_every=max(1, steps // 4), checkpoint_every=steps)
    opts = TrainOptions(precision="bf16", workers=plan.workers, tensorboard=False, render_on=render_on)
    reset_peak(plan.device)
    t0 = time.perf_counter()
    train(cfg, None, data["noise"], data["rirs"], ckpt, device=plan.device, options=opts, data=prepared)
    wall = time.perf_counter() - t0
    rows = [json.loads(x) for x in (ckpt / "train_log.jsonl").read_text().splitlines()]
    first, last = rows[0], rows[-1]
    # the rate after the first log row (warm-up, workers starting) from the cumulative rates
    t_first, t_last = first["step"] / first["steps_per_s"], last["step"] / last["steps_per_s"]
    return {"config": cfg.name, "segment_seconds": cfg.segment_seconds, "batch_per_gpu": plan.per_gpu_batch,
            "precision": "bf16", "workers": plan.workers, "render_on": render_on, "steps": steps,
            "wall_s": round(wall, 1),
            "steps_per_s": round(last["steps_per_s"], 3),
            "steps_per_s_after_first_log": round((last["step"] - first["step"]) / max(t_last - t_first, 1e-9), 3),
            "data_wait_fraction": round(last["data_wait_fraction"], 4), "final_loss": round(last["loss"], 4),
            "peak_gpu_gb": peak_gb(plan.device)}


def restore_items(plan: Plan, data: dict, tmp: Path) -> dict:
    from systems import SYSTEMS
    from systems.base import RestoreItem
    from systems.masksr.checkpoint import CHECKPOINT, save_checkpoint
    from systems.masksr.model import MaskSRModel
    cfg = cfg_of(plan, plan.restore_config)
    torch.manual_seed(0)
    save_checkpoint(tmp / "restore" / CHECKPOINT, cfg, MaskSRModel(cfg), None, step=0)
    rows = []
    for precision in ("fp32", "bf16"):
        system = SYSTEMS.get(plan.restore_config)(device=plan.device,
                                                  config={"checkpoint": str(tmp / "restore"), "precision": precision})
        system.load()                        # the checkpoint's codec: random weights, no asset
        for seconds in plan.restore_seconds:
            x = speech_item(data, seconds)
            reset_peak(plan.device)
            sync(plan.device)
            t0 = time.perf_counter()
            [y] = system.restore([RestoreItem("x", x)])
            sync(plan.device)
            dt = time.perf_counter() - t0
            rows.append({"precision": precision, "item_seconds": seconds, "seconds": round(dt, 2),
                         "real_time_factor": round(dt / seconds, 3), "peak_gpu_gb": peak_gb(plan.device),
                         "finite": bool(np.isfinite(y).all()), "same_length": len(y) == len(x),
                         "version": system.info.version})
            print(f"   restore {rows[-1]}", flush=True)
        del system
    return {"config": cfg.name, "codec": cfg.codec, "rows": rows}


def ddp_run(plan: Plan, data: dict, prepared: Path, tmp: Path) -> dict:
    import socket
    n = torch.cuda.device_count() if plan.device == "cuda" else 2
    if plan.device == "cuda" and n < 2:
        return {"skipped": f"{n} GPU: DDP needs 2+"}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = cfg_of(plan, plan.train_config)
    overrides = [f"{k}={v}" for k, v in plan.overrides.items()]
    out = tmp / "ddp"
    runs = []
    for steps in plan.ddp_steps:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(n),
               "--master_port", str(port), "-m", "benchmark", "train", cfg.name, "--data", str(prepared),
               "--noise", *data["noise"], "--rirs", *data["rirs"], "--out", str(out), "--steps", str(steps),
               "--batch", str(plan.per_gpu_batch * n), "--workers", str(max(1, plan.workers // 2)),
               "--precision", "bf16", "--no-tensorboard",
               "--config", f"checkpoint_every={plan.ddp_steps[0]}", "log_every=1", *overrides]
        t0 = time.perf_counter()
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        runs.append({"steps": steps, "rc": proc.returncode, "seconds": round(time.perf_counter() - t0, 1),
                     **({"stderr": proc.stderr[-1500:]} if proc.returncode else {})})
        if proc.returncode:
            break
    from systems.masksr.checkpoint import CHECKPOINT, load_checkpoint
    ok = all(r["rc"] == 0 for r in runs)
    logged = [json.loads(x)["step"] for x in (out / "train_log.jsonl").read_text().splitlines()] if ok else []
    step = int(load_checkpoint(out / CHECKPOINT)["step"]) if ok else None
    return {"processes": n, "backend": "nccl" if plan.device == "cuda" else "gloo", "runs": runs,
            "checkpoint_step": step, "resumed_ok": ok and step == plan.ddp_steps[-1]
            and logged == list(range(1, plan.ddp_steps[-1] + 1))}


def main(argv: list[str]) -> int:
    smoke = "--cpu-smoke" in argv
    plan = SMOKE if smoke else GPU
    default = "gpu_check_cpu_smoke.json" if smoke else "gpu_check.json"
    out = Path(os.environ.get("GPU_CHECK_OUT", ROOT / "bench" / "results" / default))
    if not smoke and not torch.cuda.is_available():
        print("error: bench/gpu_check.sh needs a CUDA GPU (or --cpu-smoke); nothing written", file=sys.stderr)
        return 2
    torch.set_num_threads(1 if smoke else max(1, (os.cpu_count() or 1) // 2))
    check = Check(plan, out, smoke)
    with tempfile.TemporaryDirectory(prefix="gpu_check.") as tmpdir:
        tmp = Path(tmpdir)
        data = make_data(plan, tmp)
        check.result["data"] = data["source"]
        check.section("table2", lambda: table2(plan))
        prepared: dict = {}

        def prep():
            prepared["path"], info = prepare_data(plan, data, tmp)
            return info
        check.section("prepare", prep)
        if "path" in prepared:
            check.section("train", lambda: train_run(plan, data, prepared["path"], tmp))
        check.section("restore", lambda: restore_items(plan, data, tmp))
        if "path" in prepared:
            check.section("ddp", lambda: ddp_run(plan, data, prepared["path"], tmp))
    check.result["total_s"] = round(check.elapsed(), 1)
    check.save()
    failed = [k for k, v in check.result.items() if isinstance(v, dict) and "error" in v]
    print(f"{out}: {len(failed)} section(s) failed {failed}" if failed else f"{out}: every section ran")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
