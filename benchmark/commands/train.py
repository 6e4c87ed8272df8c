"""`train`: the MaskSR / MaskSR2 trainer (`train NAME`), its data preparation (`train prepare`)
and the dev-set guidance sweep (`train sweep-guidance`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

NAME = "train"
HELP = "train a MaskSR-family model (CPU, one GPU, or DDP via torchrun); prepare its data; choose w"
DESCRIPTION = """\
  train prepare NAME --speech DIR... --out DATA   pre-extract DAC codegrams (int16) and KD targets
                  (fp16) of the clean segments into webdataset shards; resumable, several processes
                  (--workers) or GPUs (torchrun); `train prepare --help` for its options
  train NAME (--data DATA | --speech DIR...) --noise DIR... --out CKPT
                  train; re-running the same command resumes from the last checkpoint in --out;
                  `train NAME --help` for the training options
  train sweep-guidance --checkpoint CKPT --data DATA --noise DIR...
                  restore the dev split with each guidance level w, score it and record the
                  chosen w in the checkpoint (both papers choose w on a dev set)

example:
  python -m benchmark train prepare masksr2_s --speech DNS/read_speech VCTK/wav48 --out data/train44k \\
      --dev-fraction 0.01 --workers 8
  torchrun --nproc_per_node 8 -m benchmark train prepare masksr2_s ... --out data/train44k
  torchrun --nproc_per_node 4 -m benchmark train masksr2_s --data data/train44k --noise noise/ \\
      --rirs rirs/ --out checkpoints/masksr2_s --val-every 5000
  python -m benchmark train sweep-guidance --checkpoint checkpoints/masksr2_s --data data/train44k \\
      --noise noise/ --w 0 0.5 1 2 3
  python -m benchmark train masksr2_tiny --speech VCTK/ --noise noise/ --out /tmp/t --steps 300
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config_name", metavar="NAME|prepare|sweep-guidance",
                   help="model configuration (e.g. masksr2_s) or a sub-action")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="arguments of the action")


def _fit_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmark train NAME")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", metavar="DIR", help="a folder made by `train prepare`")
    src.add_argument("--speech", nargs="+", metavar="DIR", help="speech folders, prepared on the spot")
    p.add_argument("--noise", nargs="+", required=True, metavar="DIR")
    p.add_argument("--rirs", nargs="+", metavar="DIR", help="RIR folders (default: simulate)")
    p.add_argument("--out", required=True, metavar="DIR", help="checkpoint folder")
    p.add_argument("--steps", type=int)
    p.add_argument("--batch", type=int, help="global batch size (split over DDP processes)")
    p.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    p.add_argument("--warmup-steps", type=int, default=0, help="linear LR warmup (paper: none)")
    p.add_argument("--clip-grad-norm", type=float, default=0.0, help="max gradient norm (paper: none)")
    p.add_argument("--ema-decay", type=float, default=0.0, help="EMA of the weights (paper: none)")
    p.add_argument("--precision", default="auto", help="auto (bf16 on CUDA, fp32 on CPU), fp32, bf16, fp16")
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers per rank (degradation)")
    p.add_argument("--render-on", choices=("workers", "device"), default="workers",
                   help="where the degraded inputs are rendered: in the DataLoader workers (default, the "
                        "reference path) or on the training device, batched (when CPU workers cannot feed "
                        "the GPU; the workers then only read segments and draw the parameters)")
    p.add_argument("--grad-accum", type=int, default=1, metavar="N",
                   help="micro-batches per optimizer step: the global --batch is reached on fewer GPUs "
                        "(batch must be divisible by processes x N)")
    p.add_argument("--val-every", type=int, default=0, help="validate on the dev split every N steps")
    p.add_argument("--val-items", type=int, default=64)
    p.add_argument("--no-tensorboard", action="store_true")
    return p


def _prepare_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmark train prepare")
    p.add_argument("config_name", metavar="NAME", help="the configuration whose codec / KD target to use")
    p.add_argument("--speech", nargs="+", required=True, metavar="DIR")
    p.add_argument("--dev-speech", nargs="+", metavar="DIR", help="dev split folders (else --dev-fraction)")
    p.add_argument("--dev-fraction", type=float, default=0.0, help="share of files held out as dev")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--workers", type=int, default=1, help="processes (CPU); under torchrun one per rank")
    p.add_argument("--files-per-shard", type=int, default=64)
    p.add_argument("--batch", type=int, default=8, help="segments per codec / teacher call")
    p.add_argument("--gains", type=int, help="gain bins for Algorithm 1's q (default: the config's "
                   "gain_bins, 8 for the papers' configs)")
    p.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    return p


def _sweep_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmark train sweep-guidance")
    p.add_argument("--checkpoint", required=True, metavar="PATH")
    p.add_argument("--data", required=True, metavar="DIR", help="the prepared folder (its dev split)")
    p.add_argument("--noise", nargs="+", required=True, metavar="DIR")
    p.add_argument("--rirs", nargs="+", metavar="DIR")
    p.add_argument("--w", nargs="+", type=float, default=[0.0, 0.5, 1.0, 2.0, 3.0])
    p.add_argument("--metrics", nargs="+", default=["spk_sim", "dnsmos"], help="metrics scored per w")
    p.add_argument("--select", default="spk_sim:SpkSim",
                   help="METRIC:COLUMN that chooses w (001 chose w at the peak speaker similarity)")
    p.add_argument("--items", type=int, default=16, help="dev items")
    p.add_argument("--device", default=None)
    return p


def _cfg(name: str, items: list[str], **fixed):
    from systems.masksr.config import get_config, override
    cfg = override(get_config(name), items)
    fixed = {k: v for k, v in fixed.items() if v is not None}
    return override(cfg, fixed) if fixed else cfg


def _run_prepare(argv: list[str]) -> int:
    from pathlib import Path

    from systems.masksr.data import list_audio
    from systems.masksr.prepare import PrepareOptions, prepare
    a = _prepare_parser().parse_args(argv)
    cfg = _cfg(a.config_name, a.config, gain_bins=a.gains)
    opts = PrepareOptions(files_per_shard=a.files_per_shard, batch=a.batch, workers=a.workers,
                          dev_fraction=a.dev_fraction)
    dev = list_audio(a.dev_speech, "dev speech") if a.dev_speech else None
    index = prepare(cfg, list_audio(a.speech, "speech"), Path(a.out), opts, dev)
    if index is None:
        print(f"this rank's shards are done; {a.out}/index.json is written when the last rank finishes")
    else:
        n = {k: sum(e["items"] for e in v) for k, v in index["splits"].items()}
        print(f"{a.out}: {n['train']} training and {n['dev']} dev segments in "
              f"{len(index['splits']['train']) + len(index['splits']['dev'])} shards")
    return 0


def _run_fit(name: str, argv: list[str], on_step=None) -> int:
    """Train NAME; `on_step(state)` runs after every step (tests stop a run there)."""
    import torch.distributed as dist

    from systems.masksr.checkpoint import CHECKPOINT
    from systems.masksr.train_options import TrainOptions
    from systems.masksr.trainer import train
    a = _fit_parser().parse_args(argv)
    cfg = _cfg(name, a.config, steps=a.steps, batch=a.batch)
    opts = TrainOptions(warmup_steps=a.warmup_steps, clip_grad_norm=a.clip_grad_norm, ema_decay=a.ema_decay,
                        precision=a.precision, workers=a.workers, grad_accum=a.grad_accum, val_every=a.val_every,
                        render_on=a.render_on,
                        val_items=a.val_items, tensorboard=not a.no_tensorboard)
    logs = train(cfg, a.speech, a.noise, a.rirs, a.out, options=opts, data=a.data, on_step=on_step)
    if not dist.is_initialized() or dist.get_rank() == 0:
        last = logs[-1] if logs else None
        if last:
            acc = sum(last.accuracy) / len(last.accuracy)
            print(f"step {last.step}: loss {last.loss:.4f} (CE {last.ce:.4f}, KD {last.kd:.4f}), "
                  f"masked-token accuracy {acc:.3f}")
        print(f"checkpoint: {a.out}/{CHECKPOINT}; log: {a.out}/train_log.jsonl")
    if dist.is_initialized():
        dist.destroy_process_group()
    return 0


def _scorer(metric):
    from metrics.base import MetricItem

    def score(restored, targets, rate):
        items = [MetricItem(id=str(i), audio=r, rate=rate, reference=t, reference_rate=rate)
                 for i, (r, t) in enumerate(zip(restored, targets, strict=True))]
        return metric.aggregate(metric.score(items))
    return score


def _run_sweep(argv: list[str]) -> int:
    from metrics.base import METRICS
    from systems.masksr.data import NoiseRirPools, list_audio
    from systems.masksr.guidance import sweep_guidance
    a = _sweep_parser().parse_args(argv)
    noise = list_audio(a.noise, "noise")
    rirs = list_audio(a.rirs, "RIR") if a.rirs else []
    scorers = {}
    for name in a.metrics:
        m = METRICS.get(name)()
        m.load()
        scorers[name] = (_scorer(m), m.info.higher_is_better)
    res = sweep_guidance(a.checkpoint, a.data, lambda cfg: NoiseRirPools(cfg, noise, rirs, cfg.simulated_rirs, cfg.seed),
                         a.w, scorers, a.select, a.items, device=a.device or "cpu")
    for w in res.ws:
        print(f"w={w:g}: " + ", ".join(f"{k} {v:.4f}" for k, v in res.scores[str(w)].items()))
    print(f"chosen w = {res.chosen:g} by {res.select} ({'max' if res.higher_is_better else 'min'}) "
          f"on {res.items} dev items; recorded in {a.checkpoint}")
    return 0


ACTIONS: dict[str, Callable[[list[str]], int]] = {"prepare": _run_prepare, "sweep-guidance": _run_sweep}


def run(args: argparse.Namespace) -> int:
    action = ACTIONS.get(args.config_name)
    if action is not None:
        return action(args.rest)
    from systems.masksr.config import get_config
    get_config(args.config_name)            # an unknown name is one clear error
    return _run_fit(args.config_name, args.rest)
