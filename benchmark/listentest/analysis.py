"""Listener screening, MOS with 95 % confidence intervals, and paired tests against the best system.

- MOS ± 95 % CI per condition: the mean of every kept rating of that condition with the Student
  t interval over ratings (`benchmark.report.stats.mean_ci`: t quantile with N-1 degrees of
  freedom times the standard error), as the papers report MOS ± CI (001 Table 3, 002 Table II;
  neither says how the interval was computed; the t interval over ratings is the usual reading).
  P.808's own parser uses 1.96 x SE per clip (result_parser.py, 5b8c00a); with N ratings in the
  hundreds the two agree to the third decimal.
- Bootstrap (option): a crossed resampling of listeners and items (both drawn with replacement,
  each rating weighted by how often its listener and its item were drawn), 2000 rounds, seed 0,
  95 % percentile interval; it widens the interval by the between-listener and between-item
  variance the t interval over ratings ignores.
- Paired test: the best system is the "system" condition (not the Unprocessed anchor or the
  hidden reference) with the highest MOS; every other condition is compared with it on the
  ratings paired by (listener, item) by a two-sided Wilcoxon signed-rank test (zero differences
  dropped; exact null distribution when the |differences| are untied and n <= 50, else the
  normal approximation with the tie correction, no continuity correction), p-values
  Holm-adjusted over the comparisons. Chosen because ACR
  scores are ordinal and the same listener rated both stimuli of a pair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from benchmark.listentest.db import RatingsDB
from benchmark.listentest.design import TestDesign
from benchmark.report.stats import Cell, mean_ci

BOOTSTRAP_ROUNDS = 2000
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class RatingRow:
    listener: str
    trial: int
    stimulus: str
    score: int
    kind: str
    condition: str | None
    system: str | None
    item: str
    answer: int | None


@dataclass
class ListenerCheck:
    listener: str
    source: str
    n_trials: int
    n_rated: int
    gold: list[tuple[int, int]] = field(default_factory=list)     # (expected, given)
    traps: list[tuple[int, int]] = field(default_factory=list)
    variance: float = float("nan")
    reasons: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.n_rated >= self.n_trials

    @property
    def kept(self) -> bool:
        return not self.reasons


@dataclass(frozen=True)
class SystemMOS:
    code: str
    system: str
    role: str
    cell: Cell
    n_listeners: int
    n_items: int
    boot_lo: float = float("nan")
    boot_hi: float = float("nan")


@dataclass(frozen=True)
class Comparison:
    system: str
    n_pairs: int
    mean_diff: float        # best minus this system
    statistic: float
    p: float
    p_holm: float


@dataclass
class Analysis:
    design: TestDesign
    listeners: list[ListenerCheck]
    rows: list[RatingRow]                  # every rating, joined with its stimulus
    mos: list[SystemMOS]
    best: str | None
    comparisons: list[Comparison]
    bootstrap: bool

    @property
    def kept(self) -> list[str]:
        return [c.listener for c in self.listeners if c.kept]


def rows(design: TestDesign, db: RatingsDB) -> list[RatingRow]:
    by_id = design.by_id()
    out = []
    for r in db.ratings():
        s = by_id.get(r.stimulus)
        if s is None:
            continue
        out.append(RatingRow(r.listener, r.trial, r.stimulus, r.score, s.kind, s.condition,
                             design.system_of(s.condition), s.item, s.answer))
    return out


def screen(design: TestDesign, db: RatingsDB, all_rows: list[RatingRow]) -> list[ListenerCheck]:
    rule = design.screening
    known = db.listeners()
    checks: dict[str, ListenerCheck] = {}
    for lst, (source, n) in sorted(known.items()):
        checks[lst] = ListenerCheck(lst, source, n, 0)
    for r in all_rows:
        c = checks.setdefault(r.listener, ListenerCheck(r.listener, "?", len(design.stimuli), 0))
        c.n_rated += 1
        if r.kind == "gold":
            c.gold.append((r.answer, r.score))
        elif r.kind == "trap":
            c.traps.append((r.answer, r.score))
    for c in checks.values():
        scores = [r.score for r in all_rows if r.listener == c.listener and r.kind == "rating"]
        c.variance = float(np.var(scores, ddof=1)) if len(scores) > 1 else float("nan")
        if not c.finished:
            c.reasons.append(f"unfinished ({c.n_rated} of {c.n_trials} trials)")
        bad_traps = [(a, g) for a, g in c.traps if abs(g - a) > rule.trap_tolerance]
        if bad_traps:
            c.reasons.append("trap failed (" + ", ".join(f"asked {a}, gave {g}" for a, g in bad_traps) + ")")
        bad_gold = [(a, g) for a, g in c.gold if abs(g - a) > rule.gold_tolerance]
        if bad_gold:
            c.reasons.append("gold failed (" + ", ".join(f"expected {a}, gave {g}" for a, g in bad_gold) + ")")
        if not (c.variance >= rule.min_variance):
            c.reasons.append(f"rating variance {c.variance:.3g} < {rule.min_variance:g}")
    return list(checks.values())


def _bootstrap(sel: list[RatingRow], listeners: list[str], items: list[str],
               rounds: int = BOOTSTRAP_ROUNDS, seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    if not sel or len(listeners) < 2 or len(items) < 2:
        return float("nan"), float("nan")
    li = {x: k for k, x in enumerate(listeners)}
    ii = {x: k for k, x in enumerate(items)}
    L = np.array([li[r.listener] for r in sel])
    I_ = np.array([ii[r.item] for r in sel])
    S = np.array([r.score for r in sel], dtype=np.float64)
    rng = np.random.default_rng(seed)
    out = np.empty(rounds)
    for b in range(rounds):
        wl = np.bincount(rng.integers(0, len(listeners), len(listeners)), minlength=len(listeners))
        wi = np.bincount(rng.integers(0, len(items), len(items)), minlength=len(items))
        w = wl[L] * wi[I_]
        out[b] = (w * S).sum() / w.sum() if w.sum() else np.nan
    lo, hi = np.nanpercentile(out, [2.5, 97.5])
    return float(lo), float(hi)


def _holm(ps: list[float]) -> list[float]:
    m = len(ps)
    order = sorted(range(m), key=lambda k: ps[k])
    adj = [float("nan")] * m
    running = 0.0
    for rank, k in enumerate(order):
        if not math.isfinite(ps[k]):
            continue
        running = max(running, min(1.0, (m - rank) * ps[k]))
        adj[k] = running
    return adj


def paired(kept_rows: list[RatingRow], best: str, other: str) -> tuple[int, float, float, float]:
    """(pairs, mean difference best - other, Wilcoxon statistic, two-sided p)."""
    from scipy.stats import wilcoxon

    a = {(r.listener, r.item): r.score for r in kept_rows if r.system == best}
    b = {(r.listener, r.item): r.score for r in kept_rows if r.system == other}
    keys = sorted(set(a) & set(b))
    d = np.array([a[k] - b[k] for k in keys], dtype=np.float64)
    if d.size == 0:
        return 0, float("nan"), float("nan"), float("nan")
    if not np.any(d):
        return int(d.size), 0.0, 0.0, 1.0
    nz = np.abs(d[d != 0])
    # Exact null distribution only where it is exact (no ties, no zeros, n <= 50); ACR scores
    # tie constantly, then the normal approximation with the tie correction.
    exact = nz.size == d.size and np.unique(nz).size == nz.size and nz.size <= 50
    res = wilcoxon(d, method="exact" if exact else "asymptotic")
    return int(d.size), float(d.mean()), float(res.statistic), float(res.pvalue)


def analyse(design: TestDesign, db: RatingsDB, bootstrap: bool = False) -> Analysis:
    all_rows = rows(design, db)
    checks = screen(design, db, all_rows)
    kept = {c.listener for c in checks if c.kept}
    kept_rows = [r for r in all_rows if r.listener in kept and r.kind == "rating"]
    mos = []
    for c in design.conditions:
        sel = [r for r in kept_rows if r.condition == c.code]
        lst = sorted({r.listener for r in sel})
        its = sorted({r.item for r in sel})
        lo, hi = _bootstrap(sel, lst, its) if bootstrap else (float("nan"), float("nan"))
        mos.append(SystemMOS(c.code, c.system, c.role, mean_ci([r.score for r in sel]),
                             len(lst), len(its), lo, hi))
    systems = [m for m in mos if m.role == "system" and m.cell.n] or \
              [m for m in mos if m.role != "reference" and m.cell.n]
    best = max(systems, key=lambda m: m.cell.mean).system if systems else None
    comps: list[Comparison] = []
    if best is not None:
        raw = [(m.system, *paired(kept_rows, best, m.system)) for m in mos if m.system != best]
        adj = _holm([p for *_, p in raw])
        comps = [Comparison(s, n, md, st, p, pa) for (s, n, md, st, p), pa in zip(raw, adj, strict=True)]
    return Analysis(design, checks, all_rows, mos, best, comps, bootstrap)
