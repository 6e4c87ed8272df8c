"""Evaluation helpers of the MaskSR overfit tests (moved out of `systems.masksr`, whose training
code never called them): an in-memory bank of a prepared folder's segments, batches of fresh
degradations drawn from it, and the masked-token / sampler accuracies of a model on them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from systems.masksr.config import MaskSRConfig


@dataclass
class SegmentBank:
    """Clean segments (S, N) peak-normalised, their codegrams (S, G, K, T) on the gain grid
    `gains` (G,), and KD targets (S, Th[, C]) or None, in memory: a source for `ItemMaker`."""
    waves: torch.Tensor
    codes: torch.Tensor
    kd: torch.Tensor | None
    gains: np.ndarray

    def __len__(self) -> int:
        return self.waves.shape[0]

    def item(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        return (self.waves[i].numpy(), self.codes[i].numpy(),
                self.kd[i].numpy() if self.kd is not None else None)


def build_segment_bank(cfg: MaskSRConfig, speech: list[Path], cache: Path, codec=None,
                       device: str = "cpu") -> SegmentBank:
    """Prepare (or reuse: `train --speech` prepares the same folder) the shards of `speech` under
    `cache` and load them into memory."""
    from systems.masksr.data import ShardSource, prepared_dir
    from systems.masksr.prepare import prepare
    root = prepared_dir(cfg, speech, cache)
    prepare(cfg, speech, root, device=device, codec=codec)
    src = ShardSource(root)
    items = [src.item(i) for i in range(len(src))]
    kd = torch.from_numpy(np.stack([k for *_, k in items])) if items[0][2] is not None else None
    return SegmentBank(torch.from_numpy(np.stack([w for w, *_ in items])),
                       torch.from_numpy(np.stack([c for _, c, _ in items])), kd, src.gains)


class BatchMaker:
    """batch(step, rank) -> (degraded (B, N), codes (B, K, T), kd targets or None), items drawn
    with replacement from an in-memory bank (evaluation on fresh degradations)."""

    def __init__(self, cfg: MaskSRConfig, bank: SegmentBank, pools, batch: int):
        from systems.masksr.data import ItemMaker
        self.cfg, self.bank, self.pools, self.batch = cfg, bank, pools, batch
        self.items = ItemMaker(cfg, bank, pools)

    def __call__(self, step: int, rank: int = 0):
        rng = np.random.default_rng([self.cfg.seed, step, rank])
        idx = rng.integers(len(self.bank), size=self.batch)
        b = self.items.batch(idx, [rng] * self.batch)
        return b["wave"], b["codes"], b["kd"]


def overfit_maker(cfg: MaskSRConfig, corpora: Path, speech: list[str], cache: Path) -> BatchMaker:
    """The batches an overfit test evaluates on: the bank of `speech` (as `train --speech DIR`
    prepared it under `cache`) degraded with the real noise and RIR mini corpora."""
    from systems.masksr.codec import Codec
    from systems.masksr.data import NoiseRirPools, list_audio
    bank = build_segment_bank(cfg, [Path(s) for s in speech], cache, Codec(cfg.codec))
    pools = NoiseRirPools(cfg, list_audio([str(corpora / "noise")], "noise"),
                          list_audio([str(corpora / "rirs")], "rir"), 0, cfg.seed)
    return BatchMaker(cfg, bank, pools, cfg.batch)


@torch.no_grad()
def evaluate(model, maker, cfg: MaskSRConfig, batches: int = 4, first_step: int = 10**7) -> dict:
    """Masked-token accuracy (training mask distribution) and sampler token accuracy on fresh
    degradations of the bank's segments (steps from `first_step` are never used in training)."""
    from systems.masksr.sampler import sample_codegrams
    from systems.masksr.strategies import get_strategy
    from systems.masksr.trainer import step_generator
    strategy = get_strategy(cfg.codebook_modelling)
    model.eval()
    device = next(model.parameters()).device
    hits = total = s_hits = s_total = 0
    for i in range(batches):
        wave, codes, _ = maker(first_step + i)
        wave, codes = wave.to(device), codes.to(device)
        mask = strategy.training_mask(codes, cfg, step_generator(cfg.seed, first_step + i, 0, device))
        logits, _ = model(wave, strategy.lm_inputs(codes, mask, cfg.codebook_size))
        hits += int(((logits.argmax(-1) == codes) & mask).sum())
        total += int(mask.sum())
        sampled = sample_codegrams(model, wave, seed=i)
        s_hits += int((sampled == codes).sum())
        s_total += codes.numel()
    return {"masked_accuracy": hits / total, "sampler_accuracy": s_hits / s_total}
