"""`train`: the MaskSR / MaskSR2 trainer."""

from __future__ import annotations

import argparse

NAME = "train"
HELP = "train a MaskSR-family model (CPU, one GPU, or DDP via torchrun)"
DESCRIPTION = """\
Trains a MaskSR / MaskSR2 configuration with on-the-fly degradation of clean speech.
Re-running the same command resumes from the last checkpoint in --out.

example:
  python -m benchmark train masksr2_s --speech VCTK/wav48 --noise noise/ --out checkpoints/masksr2_s
  torchrun --nproc_per_node 4 -m benchmark train masksr2_l ...
  python -m benchmark train masksr2_tiny ... --steps 300 --config lr=1e-3 segments_per_file=1
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config_name", metavar="NAME", help="model configuration (e.g. masksr2_s)")
    p.add_argument("--speech", nargs="+", required=True, metavar="DIR")
    p.add_argument("--noise", nargs="+", required=True, metavar="DIR")
    p.add_argument("--rirs", nargs="+", metavar="DIR", help="RIR folders (default: simulate)")
    p.add_argument("--out", required=True, metavar="DIR", help="checkpoint folder")
    p.add_argument("--steps", type=int)
    p.add_argument("--batch", type=int, help="global batch size (split over DDP processes)")
    p.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")


def run(args: argparse.Namespace) -> int:
    from systems.masksr.config import get_config, override
    from systems.masksr.trainer import CHECKPOINT, train
    cfg = override(get_config(args.config_name), args.config)
    if args.steps is not None:
        cfg = override(cfg, {"steps": args.steps})
    if args.batch is not None:
        cfg = override(cfg, {"batch": args.batch})
    logs = train(cfg, args.speech, args.noise, args.rirs, args.out)
    import torch.distributed as dist
    if not dist.is_initialized() or dist.get_rank() == 0:
        last = logs[-1] if logs else None
        if last:
            acc = sum(last.accuracy) / len(last.accuracy)
            print(f"step {last.step}: loss {last.loss:.4f} (CE {last.ce:.4f}, KD {last.kd:.4f}), "
                  f"masked-token accuracy {acc:.3f}")
        print(f"checkpoint: {args.out}/{CHECKPOINT}; log: {args.out}/train_log.jsonl")
    if dist.is_initialized():
        dist.destroy_process_group()
    return 0
