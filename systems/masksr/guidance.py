"""The dev-set choice of the classifier-free guidance level w, as both papers make it (001 Sec. 4.1
/ Fig. 2: "the effects of the guidance level w on a heldout dev set", w = 2 at the peak speaker
similarity; 002 Sec. II-B: "We optimize w on a held-out dev set for each model independently").

The dev items are the first N items of the prepared dev split, each with the fixed degradation
the validation uses (seeded by the item). Each w restores them with the model's sampler; scoring
is injected (the command passes the harness's metrics), and the chosen w is written into the
checkpoint: `config.guidance` (what the sampler and the system plugin use) and
`guidance_sweep` (every w's scores, the selection rule, the items)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from benchmark.core.errors import BenchmarkError

# scorer(restored, targets, rate) -> {column: value}
Scorer = Callable[[list[np.ndarray], list[np.ndarray], int], dict[str, float]]


@dataclass(frozen=True)
class SweepResult:
    ws: list[float]
    scores: dict[str, dict[str, float]]      # str(w) -> {"metric:column": value}
    select: str                              # "metric:column"
    higher_is_better: bool
    chosen: float
    items: int
    weights: str                             # "ema" or "model" (checkpoint.select_weights)

    def to_dict(self) -> dict:
        return asdict(self)


def dev_pairs(cfg, data: str | Path, pools, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(degraded input, target waveform) of the first n dev items, fixed degradations."""
    from systems.masksr.data import ItemMaker, ShardSource
    src = ShardSource(data, "dev")
    if len(src) == 0:
        raise BenchmarkError(f"{data} has no dev split: prepare it with --dev-fraction or --dev-speech")
    maker = ItemMaker(cfg, src, pools)
    return [maker.pair(p, np.random.default_rng([cfg.seed, 3, p]))[:2] for p in range(min(n, len(src)))]


def sweep_guidance(checkpoint: str | Path, data: str | Path, pools_factory, ws: list[float],
                   scorers: dict[str, tuple[Scorer, bool]], select: str, items: int = 16,
                   seed: int = 0, device: str = "cpu") -> SweepResult:
    """Restore the dev items with every w, score them, choose by `select` ("metric:column") and
    record the choice in the checkpoint file (atomically)."""
    from systems.masksr.checkpoint import checkpoint_path, load_model, write_checkpoint
    from systems.masksr.codec import Codec
    from systems.masksr.sampler import restore
    path = checkpoint_path(checkpoint)
    metric = select.split(":")[0]
    if metric not in scorers:
        raise BenchmarkError(f"--select {select}: metric '{metric}' is not among the scored metrics "
                             f"{', '.join(scorers)}")
    # the weights the system plugin restores with (the EMA when the checkpoint has one)
    loaded = load_model(path, device)
    model, cfg, ckpt, weights = loaded.model, loaded.cfg, loaded.checkpoint, loaded.weights
    codec = Codec(cfg.codec, device)
    pairs = dev_pairs(cfg, data, pools_factory(cfg), items)
    targets = [t for _, t in pairs]
    scores: dict[str, dict[str, float]] = {}
    for w in ws:
        with torch.no_grad():
            restored = [restore(model, codec, x, seed=seed, guidance=w) for x, _ in pairs]
        restored = [r[: len(t)] for r, t in zip(restored, targets, strict=True)]
        row = {}
        for name, (scorer, _) in scorers.items():
            row.update({f"{name}:{col}": float(v) for col, v in scorer(restored, targets, cfg.rate).items()})
        scores[str(w)] = row
    if select not in next(iter(scores.values())):
        raise BenchmarkError(f"--select {select}: no such column; scored columns: "
                             f"{', '.join(next(iter(scores.values())))}")
    higher = scorers[metric][1]
    values = [scores[str(w)][select] for w in ws]
    if not np.isfinite(values).any():
        raise BenchmarkError(f"every {select} score is NaN: cannot choose w")
    best = int(np.nanargmax(values) if higher else np.nanargmin(values))
    result = SweepResult(list(map(float, ws)), scores, select, higher, float(ws[best]), len(pairs), weights)
    ckpt["config"] = replace(cfg, guidance=float(ws[best])).to_dict()
    ckpt["guidance_sweep"] = result.to_dict()
    write_checkpoint(path, ckpt)
    return result
