"""Run under torchrun by tests/test_masksr_train_ddp.py: one DDP training step of a tiny MaskSR on
prepared shards; each rank saves its batch, masks and CFG drops, rank 0 the averaged gradients.

usage: torchrun --nproc_per_node 2 tests/masksr_train_support.py DATA NOISE_DIR OUT
       torchrun --nproc_per_node 2 tests/masksr_train_support.py fit KILL_AFTER NAME ARGS...
the second form runs `train NAME ARGS...` with a step callback that SIGKILLs the whole job once
step KILL_AFTER is finished and its checkpoint written (a crash between two steps)."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.distributed as dist

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# no BatchNorm (MaskSR's input path): per-rank BatchNorm statistics differ from those of the
# concatenated batch by construction, and SyncBatchNorm has no CPU implementation
OVERRIDES = {"input_norm": "none", "segments_per_file": 2, "batch": 4, "simulated_rirs": 1}


def tiny_cfg():
    from systems.masksr.config import get_config, override
    return override(get_config("masksr2_tiny"), OVERRIDES)


def main(data: str, noise: str, out: str) -> None:
    from systems.masksr.data import ItemMaker, NoiseRirPools, ShardSource, StepBatches, list_audio
    from systems.masksr.model import MaskSRModel
    from systems.masksr.strategies import get_strategy
    from systems.masksr.trainer import _dist_setup, draw_masks, step_loss
    torch.set_num_threads(1)
    cfg = tiny_cfg()
    rank, world, _ = _dist_setup()
    pools = NoiseRirPools(cfg, list_audio([noise], "noise"), [], cfg.simulated_rirs, cfg.seed)
    batch = StepBatches(ItemMaker(cfg, ShardSource(data), pools), cfg.batch // world, rank, world)[0]
    torch.manual_seed(cfg.seed)
    model = MaskSRModel(cfg)
    net = torch.nn.parallel.DistributedDataParallel(model)
    strategy = get_strategy(cfg.codebook_modelling)
    mask, drop = draw_masks(strategy, batch["codes"], cfg, 0, rank)
    loss, *_ = step_loss(net, cfg, strategy, batch["wave"], batch["codes"], batch["kd"], mask, drop,
                         "fp32", world)
    loss.backward()
    torch.save({**batch, "mask": mask, "drop": drop}, Path(out) / f"batch{rank}.pt")
    if rank == 0:
        torch.save({n: p.grad for n, p in model.named_parameters() if p.grad is not None},
                   Path(out) / "ddp_grads.pt")
    dist.barrier()
    dist.destroy_process_group()


def kill_after(step: int):
    import os
    import signal

    def on_step(state) -> None:
        if state.step == step:
            state.writer.wait()                    # the checkpoint of this step is on disk
            if state.is_main:
                os.killpg(os.getpgrp(), signal.SIGKILL)
            dist.barrier()                         # the other ranks go down with the group
    return on_step


def fit(kill: str, name: str, *argv: str) -> int:
    from benchmark.commands.train import _run_fit
    return _run_fit(name, list(argv), on_step=kill_after(int(kill)))


if __name__ == "__main__":
    if sys.argv[1] == "fit":
        sys.exit(fit(*sys.argv[2:]))
    main(*sys.argv[1:4])
