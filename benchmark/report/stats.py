"""Summary statistics for report cells: mean with a 95 % confidence interval (Student t over
items) and corpus-level ratios (WER) with a bootstrap interval over items."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import stdtrit  # Student t quantile (scipy.stats is a slow import)

BOOTSTRAP_ROUNDS = 2000
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class Cell:
    mean: float
    ci: float        # half-width of the 95 % interval (nan when N < 2)
    n: int

    def to_dict(self) -> dict:
        return {"mean": _num(self.mean), "ci95": _num(self.ci), "n": self.n}


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def mean_ci(values: list[float], level: float = 0.95) -> Cell:
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    n = int(v.size)
    if n == 0:
        return Cell(float("nan"), float("nan"), 0)
    mean = float(v.mean())
    if n < 2:
        return Cell(mean, float("nan"), n)
    sem = float(v.std(ddof=1)) / math.sqrt(n)
    return Cell(mean, float(stdtrit(n - 1, 0.5 + level / 2)) * sem, n)


def corpus_ratio(numerators: list[float], denominators: list[float], scale: float = 1.0,
                 level: float = 0.95) -> Cell:
    """scale * sum(numerators) / sum(denominators) over items (a corpus-level metric such as WER),
    CI by bootstrap resampling of items."""
    e = np.asarray(numerators, dtype=np.float64)
    w = np.asarray(denominators, dtype=np.float64)
    n = int(e.size)
    if n == 0 or w.sum() <= 0:
        return Cell(float("nan"), float("nan"), n)
    value = scale * e.sum() / w.sum()
    if n < 2:
        return Cell(value, float("nan"), n)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    idx = rng.integers(0, n, size=(BOOTSTRAP_ROUNDS, n))
    tot_w = w[idx].sum(axis=1)
    boot = scale * e[idx].sum(axis=1) / np.where(tot_w > 0, tot_w, np.nan)
    lo, hi = np.nanpercentile(boot, [50 * (1 - level), 100 - 50 * (1 - level)])
    return Cell(value, float(hi - lo) / 2, n)
