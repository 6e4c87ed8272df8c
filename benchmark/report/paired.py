"""Paired comparisons: which differences between two systems scored on the same items are real.

Per metric column, one system against a reference (the column's best, a chosen baseline, or the
same system in another run): the paired difference with a 95 % bootstrap CI over items, a p-value
(Wilcoxon signed-rank on per-item differences; for a corpus-level column such as WER, a paired
bootstrap of the ratio over utterances), Holm's correction within a table, and the smallest
difference the test could detect at this N (power note). Pure functions over typed samples;
`samples` reads them from the results API's records.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

# normal and Student t quantiles (scipy.stats is slow to import; wilcoxon imports it when called)
from scipy.special import ndtri, stdtrit

from benchmark.core.markdown import markdown_table
from benchmark.report.results import RunData, select
from benchmark.report.stats import BOOTSTRAP_ROUNDS, BOOTSTRAP_SEED, Cell
from benchmark.run.store import ItemScoreRow

ALPHA = 0.05            # two-sided significance level, after Holm's correction within a table
POWER = 0.8             # the power the minimum detectable effect is stated at
LEVEL = 0.95            # confidence level of the paired interval
MARK = "≈"              # on a cell not significantly different from its column's reference
# Per-item differences within this share of the values count as ties (0): most metrics compute in
# float32 (epsilon 1.2e-7), and a scale-invariant metric of a scaled copy differs by ~1e-7 on
# every item, which a signed-rank test would call significant.
RESOLUTION = 1e-6


@dataclass(frozen=True)
class Samples:
    """One system's scores in one column, per item: the values, and for a corpus-level column
    (`MetricInfo.corpus`) the numerator and denominator of each item's share of the ratio (WER:
    edits and reference words), `scale` times their sums' ratio being the set value."""
    values: dict[str, float]
    ratio: dict[str, tuple[float, float]] | None = None
    scale: float = 1.0


@dataclass(frozen=True)
class Comparison:
    """`system` against `reference` in one column over the `n` items both scored: the set values
    over those items, the difference (system - reference, column units) with its 95 % CI, the
    p-value of `test` ("wilcoxon" or "bootstrap"; "none" when n is too small), Holm's adjusted
    p-value (= p until `holm` is applied over a family) and the minimum detectable effect."""
    system: str
    reference: str
    column: str
    n: int
    value: float
    reference_value: float
    diff: float
    ci_low: float
    ci_high: float
    p: float
    test: str
    mde: float
    p_holm: float = float("nan")
    alpha: float = ALPHA

    @property
    def significant(self) -> bool:
        return math.isfinite(self.p_holm) and self.p_holm < self.alpha

    def to_dict(self) -> dict:
        return {"system": self.system, "reference": self.reference, "column": self.column,
                "n": self.n, "value": _num(self.value), "reference_value": _num(self.reference_value),
                "diff": _num(self.diff), "ci95": [_num(self.ci_low), _num(self.ci_high)],
                "p": _num(self.p), "p_holm": _num(self.p_holm), "test": self.test,
                "mde": _num(self.mde), "detectable": self.mde != float("inf"),
                "alpha": self.alpha, "power": POWER,
                "significant": self.significant}


def _num(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def _aux(aux: dict, name: str) -> float | None:
    v = aux.get(name)
    return float(v) if isinstance(v, int | float) and math.isfinite(v) else None


def samples(records: list[ItemScoreRow], info: dict | None, column: str) -> Samples:
    """The per-item scores of one system in one column, as `results.summarize` aggregates them: a
    corpus column keeps each item's (numerator, denominator) when every scored item has them."""
    good = [r for r in records if r.error is None and r.value is not None and math.isfinite(r.value)]
    values = {r.item_id: float(r.value) for r in good}
    ratio = next((c for c in (info or {}).get("corpus", ()) if c["column"] == column), None)
    if ratio is not None and good:
        pairs = {r.item_id: (_aux(r.aux, ratio["numerator"]), _aux(r.aux, ratio["denominator"]))
                 for r in good}
        if all(a is not None and b is not None for a, b in pairs.values()):
            return Samples(values, pairs, float(ratio["scale"]))
    return Samples(values)


@lru_cache(maxsize=1)
def resample_counts(n: int, rounds: int = BOOTSTRAP_ROUNDS, seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """How often each of n items is drawn in each of `rounds` resamples with replacement (rows sum
    to n), from one seeded generator: the same n, rounds and seed give the same resamples, so the
    comparisons of a table over the same items share them (and a statistic summed over a resample
    is one matrix product). Drawn once per n: 48 MB at 3000 items and 2000 rounds."""
    idx = np.random.default_rng(seed).integers(0, n, size=(rounds, n))
    counts = np.stack([np.bincount(row, minlength=n) for row in idx]).astype(np.float64)
    counts.setflags(write=False)
    return counts


def bootstrap_mean_diffs(d: np.ndarray, rounds: int = BOOTSTRAP_ROUNDS,
                         seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """The mean of the paired differences d over `rounds` resamples of the items."""
    return resample_counts(d.size, rounds, seed) @ d / d.size


def bootstrap_ratio_diffs(num_a: np.ndarray, den_a: np.ndarray, num_b: np.ndarray,
                          den_b: np.ndarray, scale: float = 1.0, rounds: int = BOOTSTRAP_ROUNDS,
                          seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """scale * (sum num_a / sum den_a - sum num_b / sum den_b) over resamples of the utterances,
    both systems resampled together (the same utterances in each round). NaN where a resample's
    denominator sums to 0."""
    w = resample_counts(num_a.size, rounds, seed)
    da, db = w @ den_a, w @ den_b
    with np.errstate(divide="ignore", invalid="ignore"):
        return scale * (np.where(da > 0, (w @ num_a) / da, np.nan)
                        - np.where(db > 0, (w @ num_b) / db, np.nan))


def wilcoxon_p(d: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p of paired differences (scipy.stats.wilcoxon, its default
    zero handling and its exact/normal choice); 1 when every difference is 0, NaN for no items."""
    if d.size == 0:
        return float("nan")
    if not np.any(d):
        return 1.0
    from scipy.stats import wilcoxon
    return float(wilcoxon(d).pvalue)


def min_exact_p(n: int) -> float:
    """The smallest two-sided p an exact paired test over n items can give: 2 / 2^n, the share of
    the 2^n sign patterns as extreme as all differences of one sign (the exact signed-rank test
    gives exactly this). At n <= 5 it is >= 0.0625: no difference, however large, reaches 0.05;
    the paired bootstrap of a corpus ratio, which can claim p = 1/(B+1) from 2 utterances, is
    held to the same floor."""
    return 2.0 * 0.5 ** n


def mde_mean(d: np.ndarray, alpha: float = ALPHA, power: float = POWER) -> float:
    """Smallest true mean difference a two-sided paired test at `alpha` detects with `power` at
    this N, from the paired SD: (t_{1-a/2,n-1} + t_{power,n-1}) * sd / sqrt(n), the paired t
    test's approximation (Wilcoxon's efficiency against it is 3/pi = 0.955 for normal data);
    infinite where the signed-rank test cannot reach `alpha` at this N at all."""
    n = d.size
    if n < 2:
        return float("nan")
    if min_exact_p(n) >= alpha:
        return float("inf")
    t = float(stdtrit(n - 1, 1 - alpha / 2)) + float(stdtrit(n - 1, power))
    return t * float(d.std(ddof=1)) / math.sqrt(n)


def mde_bootstrap(diffs: np.ndarray, alpha: float = ALPHA, power: float = POWER) -> float:
    """The same for a corpus ratio: (z_{1-a/2} + z_{power}) * the bootstrap SD of the difference."""
    ok = diffs[np.isfinite(diffs)]
    if ok.size < 2:
        return float("nan")
    return (float(ndtri(1 - alpha / 2)) + float(ndtri(power))) * float(ok.std(ddof=1))


def bootstrap_p(diffs: np.ndarray, observed: float) -> float:
    """Two-sided p of an observed difference from its bootstrap distribution, shifted to the null
    (Hall & Wilson 1991): the share of rounds with |diff* - observed| >= |observed|, counted as
    (1 + k) / (1 + B) so that it is never 0."""
    ok = diffs[np.isfinite(diffs)]
    if ok.size == 0 or not math.isfinite(observed):
        return float("nan")
    k = int(np.count_nonzero(np.abs(ok - observed) >= abs(observed) - 1e-12 * max(1.0, abs(observed))))
    return (1 + k) / (1 + ok.size)


def _percentiles(x: np.ndarray, level: float) -> tuple[float, float]:
    ok = x[np.isfinite(x)]
    if ok.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.percentile(ok, [50 * (1 - level), 100 - 50 * (1 - level)])
    return float(lo), float(hi)


def compare(a: Samples, b: Samples, system: str = "", reference: str = "", column: str = "",
            rounds: int = BOOTSTRAP_ROUNDS, seed: int = BOOTSTRAP_SEED) -> Comparison:
    """`a` (system) against `b` (reference) over the items both scored. Corpus columns (both sides
    with per-item ratio parts): the difference of corpus ratios, CI and p from the paired bootstrap
    over utterances. Others: the mean difference, CI by paired bootstrap, p by Wilcoxon."""
    ids = sorted(set(a.values) & set(b.values))
    n = len(ids)
    nan = float("nan")
    if a.ratio is not None and b.ratio is not None and n:
        na, da = (np.array([a.ratio[i][k] for i in ids], dtype=np.float64) for k in (0, 1))
        nb, db = (np.array([b.ratio[i][k] for i in ids], dtype=np.float64) for k in (0, 1))
        va = float(a.scale * na.sum() / da.sum()) if da.sum() > 0 else nan
        vb = float(b.scale * nb.sum() / db.sum()) if db.sum() > 0 else nan
        if n < 2:
            return Comparison(system, reference, column, n, va, vb, va - vb, nan, nan, nan, "none", nan)
        boot = bootstrap_ratio_diffs(na, da, nb, db, a.scale, rounds, seed)
        lo, hi = _percentiles(boot, LEVEL)
        floor = min_exact_p(n)
        return Comparison(system, reference, column, n, va, vb, va - vb, lo, hi,
                          max(bootstrap_p(boot, va - vb), floor), "bootstrap",
                          mde_bootstrap(boot) if floor < ALPHA else float("inf"))
    xa = np.array([a.values[i] for i in ids], dtype=np.float64)
    xb = np.array([b.values[i] for i in ids], dtype=np.float64)
    d = xa - xb
    d[np.abs(d) <= RESOLUTION * np.maximum(np.abs(xa), np.abs(xb))] = 0.0
    if n < 2:
        m = float(d.mean()) if n else nan
        return Comparison(system, reference, column, n, float(xa.mean()) if n else nan,
                          float(xb.mean()) if n else nan, m, nan, nan, nan, "none", nan)
    lo, hi = _percentiles(bootstrap_mean_diffs(d, rounds, seed), LEVEL)
    return Comparison(system, reference, column, n, float(xa.mean()), float(xb.mean()),
                      float(d.mean()), lo, hi, wilcoxon_p(d), "wilcoxon", mde_mean(d))


def holm(ps: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaN entries are not tests and stay NaN)."""
    idx = [k for k, p in enumerate(ps) if math.isfinite(p)]
    m = len(idx)
    adj = [float("nan")] * len(ps)
    running = 0.0
    for rank, k in enumerate(sorted(idx, key=lambda k: ps[k])):
        running = max(running, min(1.0, (m - rank) * ps[k]))
        adj[k] = running
    return adj


def with_holm(comps: Sequence[Comparison]) -> list[Comparison]:
    """The comparisons of one table (one family) with Holm's adjusted p-values filled in."""
    return [replace(c, p_holm=p) for c, p in zip(comps, holm([c.p for c in comps]), strict=True)]


# --- a report table's paired analysis ----------------------------------------------------------

@dataclass(frozen=True)
class TableColumn:
    """A table column as the paired analysis needs it (the report's `tables.Column` has more)."""
    id: str
    header: str
    higher_is_better: bool
    digits: int = 3


@dataclass
class PairedTable:
    """Every non-reference, non-oracle system against each column's reference, Holm-corrected
    over the table. `references[j]` is the reference system of column j (None: nothing to test)."""
    columns: list[TableColumn]
    systems: list[str]
    references: list[str | None]
    baseline: str | None
    oracle: set[str]
    comparisons: dict[tuple[str, int], Comparison] = field(default_factory=dict)

    def mark(self, system: str, j: int) -> str:
        """MARK for a tested cell whose difference from the reference is not significant."""
        c = self.comparisons.get((system, j))
        return f" {MARK}" if c is not None and not c.significant else ""

    def cell_dict(self, system: str, j: int) -> dict | None:
        if self.references[j] == system:
            return {"reference": True, "role": "baseline" if self.baseline else "best"}
        c = self.comparisons.get((system, j))
        return c.to_dict() if c is not None else None

    def to_dict(self) -> dict:
        return {"baseline": self.baseline, "alpha": ALPHA, "power": POWER, "level": LEVEL,
                "references": {c.id: r for c, r in zip(self.columns, self.references, strict=True)},
                "comparisons": [c.to_dict() for c in self.comparisons.values()]}


def reference_system(cells: dict[str, Cell | None], higher_is_better: bool, oracle: set[str]) -> str | None:
    """The column's best measured system by its set value (oracle rows excluded, as from the bold);
    the first in row order on an exact tie. None when fewer than two systems have a value."""
    cand = [(s, c.mean) for s, c in cells.items()
            if c is not None and c.n and math.isfinite(c.mean) and s not in oracle]
    if len(cand) < 2:
        return None
    top = (max if higher_is_better else min)(v for _, v in cand)
    return next(s for s, v in cand if v == top)


def analyse_table(columns: list[TableColumn], cells: dict[str, list[Cell | None]],
                  scores: dict[str, list[Samples | None]], oracle: set[str],
                  baseline: str | None = None) -> PairedTable:
    """The paired analysis of one measured table: rows are systems (in `cells` order), `cells`
    their set values per column (choosing the best), `scores` their per-item scores. With a
    baseline, every system is compared with it instead of the best (it may be an oracle row)."""
    systems = list(cells)
    refs: list[str | None] = []
    for j, col in enumerate(columns):
        if baseline is not None:
            ok = baseline in cells and scores[baseline][j] is not None and scores[baseline][j].values
            refs.append(baseline if ok else None)
        else:
            refs.append(reference_system({s: cells[s][j] for s in systems}, col.higher_is_better, oracle))
    keys, comps = [], []
    for j, col in enumerate(columns):
        ref = refs[j]
        if ref is None:
            continue
        for s in systems:
            if s == ref or s in oracle or scores[s][j] is None or not scores[s][j].values:
                continue
            keys.append((s, j))
            comps.append(compare(scores[s][j], scores[ref][j], s, ref, col.id))
    return PairedTable(columns, systems, refs, baseline, oracle,
                       dict(zip(keys, with_holm(comps), strict=True)))


def _fmt_p(p: float) -> str:
    if not math.isfinite(p):
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _fmt_num(x: float, digits: int) -> str:
    return "–" if not math.isfinite(x) else f"{x:.{digits}f}"


def _fmt_mde(mde: float, digits: int) -> str:
    return "∞" if mde == float("inf") else _fmt_num(mde, digits)


def _fmt_cell(c: Comparison, digits: int) -> str:
    if c.test == "none":
        return f"{c.diff:+.{digits}f} (n={c.n}: no test)" if math.isfinite(c.diff) else "–"
    mark = "" if c.significant else f" {MARK}"
    return (f"{c.diff:+.{digits}f} [{c.ci_low:+.{digits}f}, {c.ci_high:+.{digits}f}] "
            f"p={_fmt_p(c.p_holm)}{mark}, MDE {_fmt_mde(c.mde, digits)}")


def markdown(table: PairedTable, nrow: dict[str, int] | None = None) -> str:
    """The paired block under a measured table: the mark's meaning, the table of differences
    against each column's reference, and the power note. Empty when nothing was tested."""
    if not table.comparisons:
        if table.baseline and table.baseline not in table.systems:
            return f"Baseline `{table.baseline}` has no scores in this table: no paired tests."
        return ""
    who = f"the baseline `{table.baseline}`" if table.baseline else "the best measured system of its column"
    tests = sorted({c.test for c in table.comparisons.values()} - {"none"})
    how = {"wilcoxon": "Wilcoxon signed-rank on the per-item differences",
           "bootstrap": "paired bootstrap over utterances for corpus-level columns (WER)"}
    lines = [f"{MARK} = not significantly different from {who} (paired test, Holm-corrected over "
             f"the cells of this table, α = {ALPHA:g}; oracle rows are not tested).", "",
             f"Paired differences (system − {'baseline' if table.baseline else 'best'}, over the "
             f"items both scored; [95 % CI] by paired bootstrap over items, {BOOTSTRAP_ROUNDS} "
             f"rounds, seed {BOOTSTRAP_SEED}, per cell (not adjusted); p: {'; '.join(how[t] for t in tests) or 'no test'}, "
             "Holm-adjusted):", ""]
    head = ["System", "N"] + [f"Δ {c.header}" for c in table.columns]
    rows = []
    for s in table.systems:
        texts = []
        for j, col in enumerate(table.columns):
            if table.references[j] == s:
                texts.append("baseline" if table.baseline else "best")
            elif s in table.oracle:
                texts.append("oracle")
            else:
                c = table.comparisons.get((s, j))
                texts.append(_fmt_cell(c, col.digits) if c else "–")
        rows.append([s, str((nrow or {}).get(s, "–"))] + texts)
    lines.append(markdown_table(head, rows))
    lines += ["", f"Power: MDE is the smallest true difference each pair's test detects with "
              f"probability {POWER:g} at its N (two-sided α = {ALPHA:g}, before Holm), from the "
              "pair's paired SD (corpus columns: the bootstrap SD); a gap below it is no evidence "
              "either way. MDE ∞: with 5 or fewer items the signed-rank test cannot "
              f"reach p < {ALPHA:g} (its smallest p is 2/2^N; the corpus bootstrap is held to the same floor)."]
    return "\n".join(lines)


# --- two runs: `compare` -----------------------------------------------------------------------

def build_fingerprints(data: RunData, testset: str) -> dict[str, str]:
    """item id -> the identity of what the run scored for it: the build of its set the store
    records for the item (`items.build`: the CHECKSUMS sha256, or `manifest:<sha256>` for a set
    without one; the set's CHECKSUMS hash for a store from before builds were recorded) with the
    item's input, reference and transcript. The one place the pairing check reads builds from."""
    checksums = next((t.checksums_sha256 for t in data.testsets if t.name == testset), None)
    out = {}
    for (ts, iid), item in data.items.items():
        if ts == testset:
            text = "|".join([item.build or checksums or "", item.degraded_sha256 or "",
                             item.target_sha256 or "", item.manifest.get("transcript") or ""])
            out[iid] = hashlib.sha256(text.encode()).hexdigest()
    return out


PAIR_FIELDS = ("testset", "system", "metric", "column", "higher_is_better", "n", "value_a", "value_b",
               "diff", "ci_low", "ci_high", "p", "p_holm", "test", "mde", "significant", "verdict")


@dataclass(frozen=True)
class RunPair:
    """One system's column in run B against the same in run A (`comparison.diff` = B - A)."""
    testset: str
    system: str
    metric: str
    column: str
    higher_is_better: bool
    comparison: Comparison

    @property
    def verdict(self) -> str:
        c = self.comparison
        if c.test == "none":
            return "no test"
        if not c.significant:
            return f"{MARK} n.s."
        return "B better" if (c.diff > 0) == self.higher_is_better else "B worse"

    def to_dict(self) -> dict:
        c = self.comparison
        return {"testset": self.testset, "system": self.system, "metric": self.metric,
                "column": self.column, "higher_is_better": self.higher_is_better, "n": c.n,
                "value_a": _num(c.reference_value), "value_b": _num(c.value), "diff": _num(c.diff),
                "ci_low": _num(c.ci_low), "ci_high": _num(c.ci_high), "p": _num(c.p),
                "p_holm": _num(c.p_holm), "test": c.test, "mde": _num(c.mde),
                "significant": c.significant, "verdict": self.verdict}


@dataclass
class RunComparison:
    run_a: str
    run_b: str
    pairs: list[RunPair]          # Holm-corrected within each test set
    shared_items: dict[str, int]  # test set -> items both runs restored
    notes: list[str]

    def to_dict(self) -> dict:
        return {"run_a": self.run_a, "run_b": self.run_b, "alpha": ALPHA, "power": POWER,
                "level": LEVEL, "bootstrap_rounds": BOOTSTRAP_ROUNDS, "seed": BOOTSTRAP_SEED,
                "shared_items": self.shared_items, "notes": self.notes,
                "pairs": [p.to_dict() for p in self.pairs]}


def build_mismatch(a: RunData, b: RunData, testset: str) -> str | None:
    """Why runs a and b did not score one build of `testset` (None: they did, on every item id
    both hold)."""
    fa, fb = build_fingerprints(a, testset), build_fingerprints(b, testset)
    differ = sorted(i for i in set(fa) & set(fb) if fa[i] != fb[i])
    if not differ:
        return None
    ca, cb = ({t.name: t.checksums_sha256 for t in d.testsets}.get(testset) for d in (a, b))
    return (f"runs '{a.run}' and '{b.run}' scored different builds of test set '{testset}' "
            f"(build {str(ca)[:21]} vs {str(cb)[:21]}; {len(differ)} of the item ids both hold "
            f"differ in build, input, reference or transcript, e.g. '{differ[0]}'): their scores "
            "are not paired. Compare runs made on one build of the set.")


def _restored(data: RunData, testset: str) -> set[str]:
    return {o.item_id for o in data.outputs if o.testset == testset and o.sha256}


def _pick(wanted: list[str] | None, a: list[str], b: list[str], what: str, ra: str, rb: str) -> list[str]:
    if not wanted:
        return [x for x in a if x in b]
    for x in wanted:
        missing = [r for r, have in ((ra, a), (rb, b)) if x not in have]
        if missing:
            raise _error(f"{what} '{x}' is not in run {' or '.join(repr(m) for m in missing)} "
                         f"(run '{ra}' has: {', '.join(a) or 'none'}; run '{rb}' has: "
                         f"{', '.join(b) or 'none'})")
    return list(dict.fromkeys(wanted))


def _error(msg: str):
    from benchmark.core.errors import BenchmarkError
    return BenchmarkError(msg)


def compare_runs(a: RunData, b: RunData, systems: list[str] | None = None,
                 metrics: list[str] | None = None) -> RunComparison:
    """Run B against run A: each system both ran, each metric column both scored with one metric
    key (name, backend and version), over the items both restored and scored; Holm within each
    test set. Refused (BenchmarkError) when the runs scored different builds of a set they share,
    share no restored item, or lack a requested system or metric."""
    sets = [t.name for t in a.testsets if t.name in {u.name for u in b.testsets}]
    for ts in sets:
        why = build_mismatch(a, b, ts)
        if why:
            raise _error(why)
    shared = {ts: len(_restored(a, ts) & _restored(b, ts)) for ts in sets}
    if not any(shared.values()):
        raise _error(f"runs '{a.run}' and '{b.run}' share no restored item (test sets "
                     f"{', '.join(t.name for t in a.testsets) or 'none'} vs "
                     f"{', '.join(t.name for t in b.testsets) or 'none'}): nothing to pair")
    names = _pick(systems, a.systems, b.systems, "system", a.run, b.run)
    notes: list[str] = []
    both = [m for m in a.metrics if m in b.metrics]
    mets = _pick(metrics, list(a.metrics), list(b.metrics), "metric", a.run, b.run)
    for m in list(mets):
        ka, kb = a.metrics[m], b.metrics[m]
        if ka.key != kb.key:
            why = (f"metric '{m}': run '{a.run}' scored backend {ka.backend} {ka.backend_version}, "
                   f"run '{b.run}' {kb.backend} {kb.backend_version}: not the same measurement")
            if metrics:
                raise _error(why)
            notes.append(why + "; not compared")
            mets.remove(m)
    if not metrics:
        mets = [m for m in mets if m in both]
    pairs: list[RunPair] = []
    for ts in sets:
        ids = _restored(a, ts) & _restored(b, ts)
        family: list[tuple[str, str, str, bool, Comparison]] = []
        for s in names:
            for m in mets:
                info = a.info(m)
                for col in a.columns(m):
                    sa, sb = (samples([r for r in _records(d, ts, s, m, col) if r.item_id in ids],
                                      info, col) for d in (a, b))
                    if not sa.values or not sb.values:     # not run on this set in one of them
                        continue
                    family.append((s, m, col, a.higher_is_better(m),
                                   compare(sb, sa, s, a.run, f"{m}/{col}")))
        for (s, m, col, hib, _), c in zip(family, with_holm([f[4] for f in family]), strict=True):
            pairs.append(RunPair(ts, s, m, col, hib, c))
    return RunComparison(a.run, b.run, pairs, shared, notes)


def _records(data: RunData, testset: str, system: str, metric: str, column: str) -> list[ItemScoreRow]:
    return select(data.records, testset=testset, system=system, metric=metric, column=column)


def compare_markdown(rc: RunComparison, digits: int = 3) -> str:
    """One table per test set: A and B's values over the paired items, B - A with its 95 % CI,
    Holm-adjusted p, the minimum detectable effect, and the verdict."""
    out = [f"# `{rc.run_b}` (B) against `{rc.run_a}` (A)", ""]
    for ts in dict.fromkeys(p.testset for p in rc.pairs):
        out += [f"## `{ts}` ({rc.shared_items.get(ts, 0)} items restored in both runs)", ""]
        head = ["System", "Metric", "N", "A", "B", "Δ (B − A)", "95 % CI", "p (Holm)", "MDE", "B vs A"]
        rows = []
        for p in (p for p in rc.pairs if p.testset == ts):
            c = p.comparison
            arrow = "↑" if p.higher_is_better else "↓"
            ci = "–" if not math.isfinite(c.ci_low) else f"[{c.ci_low:+.{digits}f}, {c.ci_high:+.{digits}f}]"
            diff = "–" if not math.isfinite(c.diff) else f"{c.diff:+.{digits}f}"
            rows.append([p.system, f"{p.metric} {p.column} {arrow}", str(c.n),
                         _fmt_num(c.reference_value, digits), _fmt_num(c.value, digits),
                         diff, ci, _fmt_p(c.p_holm), _fmt_mde(c.mde, digits), p.verdict])
        out += [markdown_table(head, rows), ""]
    out.append(f"Paired over the items both runs scored. [95 % CI] by paired bootstrap over items "
               f"({BOOTSTRAP_ROUNDS} rounds, seed {BOOTSTRAP_SEED}); p: Wilcoxon signed-rank, corpus "
               f"columns (WER) the paired bootstrap over utterances; Holm-adjusted within each test "
               f"set; {MARK} n.s. = not significant at α = {ALPHA:g}. MDE: the smallest true "
               f"difference detected with probability {POWER:g} at this N.")
    out += [f"- note: {n}" for n in rc.notes]
    return "\n".join(out)


def settings(baseline: str | None) -> dict:
    """What summary.json's per-cell `paired` entries mean."""
    return {"reference": f"baseline {baseline}" if baseline else "best measured system per column",
            "diff": "system - reference", "alpha": ALPHA, "power": POWER, "level": LEVEL,
            "correction": "holm, within each table", "bootstrap_rounds": BOOTSTRAP_ROUNDS,
            "seed": BOOTSTRAP_SEED, "tests": {"mean": "wilcoxon signed-rank (scipy.stats)",
                                              "corpus": "paired bootstrap over utterances"}}


def check_baseline(data: RunData, baseline: str | None) -> None:
    """A --baseline must name one of the run's systems."""
    if baseline is not None and baseline not in data.systems:
        raise _error(f"--baseline {baseline}: not a system of run '{data.run}' (it has: "
                     f"{', '.join(data.systems) or 'none'})")
