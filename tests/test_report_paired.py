"""Paired comparisons (benchmark.report.paired): CI and p against scipy.stats.wilcoxon and
hand-written bootstraps on real scores, a planted difference detected and a null one not, Holm,
the power note against the noncentral t, the table analysis, and WER's corpus-level bootstrap on
real pocketsphinx transcripts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from metrics_support import item, vctk_clips, voicebank
from report_support import table_rows
from scipy import stats as sps

from benchmark.core.audio import read_audio, resample
from benchmark.report import paired
from benchmark.report.stats import corpus_ratio, mean_ci
from benchmark.run.store import ItemScoreRow
from metrics import METRICS, MetricItem


def _speech_chunks(corpora) -> list[np.ndarray]:
    """1.5 s chunks of every real VCTK and VoiceBank clean utterance, at 16 kHz."""
    clips = [read_audio(p) for p in vctk_clips(corpora)] + [read_audio(c) for _, c, _ in voicebank(corpora)]
    out = []
    for x, r in clips:
        x = resample(x, r, 16000)
        out += [x[k:k + 24000] for k in range(0, x.size - 24000 + 1, 24000)]
    return out


def _mix(speech: np.ndarray, noise: np.ndarray, snr_db: float, offset: int) -> np.ndarray:
    n = np.resize(noise[offset:], speech.size).astype(np.float64)
    gain = np.sqrt(np.sum(speech.astype(np.float64) ** 2) / np.sum(n ** 2) / 10 ** (snr_db / 10))
    return (speech + gain * n).astype(np.float32)


@pytest.fixture(scope="module")
def lsd_scores(corpora) -> dict[str, paired.Samples]:
    """Real LSD (voicefixer2022, 44.1 kHz) of real speech chunks mixed with a real noise
    recording: 'a' and 'b' at 10 dB from two different stretches of the noise (no true
    difference), 'c' at 7 dB (worse)."""
    noise, nr = read_audio(sorted((corpora / "noise").glob("*.wav"))[0])
    noise = resample(noise, nr, 16000)
    chunks = _speech_chunks(corpora)
    m = METRICS.get("lsd")()
    systems = {"a": (10.0, 0), "b": (10.0, 40000), "c": (7.0, 0)}
    out = {}
    for name, (snr, off) in systems.items():
        items = [MetricItem(f"i{k:02d}", _mix(s, noise, snr, off + 997 * k), 16000, s, 16000)
                 for k, s in enumerate(chunks)]
        scores = m.score(items)
        assert all(s.error is None for s in scores)
        out[name] = paired.Samples({it.id: s.values["LSD"] for it, s in zip(items, scores, strict=True)})
    return out


def test_paired_ci_and_p_against_scipy_and_a_hand_written_bootstrap(lsd_scores):
    a, b = lsd_scores["a"], lsd_scores["c"]
    assert len(a.values) >= 30
    # pairing is by item id: shuffled order and one item missing on one side
    ids = list(b.values)[::-1]
    b_less = paired.Samples({i: b.values[i] for i in ids[1:]})
    c = paired.compare(b_less, a, "c", "a", "LSD")
    shared = sorted(set(a.values) & set(b_less.values))
    d = np.array([b.values[i] - a.values[i] for i in shared])
    assert c.n == d.size == len(a.values) - 1
    assert c.diff == pytest.approx(d.mean(), rel=1e-12)
    assert c.p == pytest.approx(sps.wilcoxon(d).pvalue, rel=1e-12) and c.test == "wilcoxon"
    # the paired bootstrap, written out: same seed and rounds -> the same interval
    idx = np.random.default_rng(0).integers(0, d.size, size=(2000, d.size))
    lo, hi = np.percentile(d[idx].mean(axis=1), [2.5, 97.5])
    assert (c.ci_low, c.ci_high) == pytest.approx((lo, hi), abs=1e-12)
    # another seed with many rounds: the same interval to Monte Carlo error (0.25 SE)
    rng = np.random.default_rng(12345)
    boot = np.array([d[rng.integers(0, d.size, d.size)].mean() for _ in range(20000)])
    se = boot.std()
    lo2, hi2 = np.percentile(boot, [2.5, 97.5])
    assert abs(c.ci_low - lo2) < 0.25 * se and abs(c.ci_high - hi2) < 0.25 * se
    # far narrower than the unpaired intervals: that is the point of pairing
    unpaired = mean_ci(list(a.values.values())).ci + mean_ci(list(b.values.values())).ci
    assert (c.ci_high - c.ci_low) / 2 < 0.5 * unpaired


def test_planted_difference_is_detected_and_null_is_not(lsd_scores):
    a, b, c7 = lsd_scores["a"], lsd_scores["b"], lsd_scores["c"]
    null = paired.compare(b, a, "b", "a", "LSD")
    assert null.p > paired.ALPHA and null.ci_low < 0 < null.ci_high, null
    assert math.isfinite(null.mde) and null.mde > abs(null.diff)
    # plant twice the pair's minimum detectable effect on b's real scores
    delta = 2 * null.mde
    planted = paired.Samples({i: v + delta for i, v in b.values.items()})
    hit = paired.compare(planted, a, "b+", "a", "LSD")
    assert hit.p < paired.ALPHA and hit.ci_low > 0 and hit.diff == pytest.approx(null.diff + delta)
    # and a real difference in the audio (7 dB instead of 10 dB SNR): higher LSD, detected
    worse = paired.compare(c7, a, "c", "a", "LSD")
    assert worse.diff > 0 and worse.p < 1e-3 and worse.ci_low > 0


def test_float_resolution_differences_are_ties(lsd_scores):
    # a scale-invariant metric of a scaled copy differs by float32 noise on every item (SI-SNR of
    # x0.4 vs x0.5: ~1e-7 dB, all one sign): no difference, not "significant"
    a = lsd_scores["a"]
    noise = paired.Samples({i: v * (1 - 3e-7) for i, v in a.values.items()})
    c = paired.compare(noise, a)
    assert c.diff == 0 and c.p == 1 and not paired.with_holm([c])[0].significant
    real = paired.Samples({i: v * (1 - 1e-4) for i, v in a.values.items()})
    assert paired.compare(real, a).p < paired.ALPHA                # a 1e-4 change is not a tie


def test_holm_step_down():
    assert paired.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert paired.holm([0.5, float("nan"), 0.01]) == pytest.approx([0.5, float("nan"), 0.02], nan_ok=True)
    assert paired.holm([0.3, 0.4]) == pytest.approx([0.6, 0.6])     # step-down stays monotone
    assert paired.holm([0.6, 0.9]) == [1.0, 1.0]                     # capped at 1


def test_minimum_detectable_effect_has_the_stated_power(lsd_scores):
    a, b = lsd_scores["a"], lsd_scores["b"]
    d = np.array([b.values[i] - a.values[i] for i in sorted(a.values)])
    mde = paired.mde_mean(d)
    n, sd = d.size, d.std(ddof=1)
    # power of the two-sided paired t test at a true difference of mde (noncentral t)
    t = sps.t.ppf(1 - paired.ALPHA / 2, n - 1)
    nc = mde / (sd / math.sqrt(n))
    power = sps.nct.sf(t, n - 1, nc) + sps.nct.cdf(-t, n - 1, nc)
    assert power == pytest.approx(paired.POWER, abs=0.02)
    assert math.isnan(paired.mde_mean(d[:1]))
    # below 6 items the exact signed-rank test cannot reach 0.05 (smallest p 2/2^N): nothing is
    # detectable, and a difference on every item of the same sign gives exactly that p
    assert paired.mde_mean(d[:5]) == math.inf and math.isfinite(paired.mde_mean(d[:6]))
    for n in (5, 6):
        assert sps.wilcoxon(np.arange(1.0, n + 1)).pvalue == pytest.approx(paired.min_exact_p(n))


def _cell(s: paired.Samples):
    return mean_ci(list(s.values.values()))


def test_table_analysis_best_oracle_baseline_and_marks(lsd_scores):
    s = dict(lsd_scores)
    s["target"] = paired.Samples({i: 0.0 for i in s["a"].values})    # an oracle row: LSD 0
    cols = [paired.TableColumn("LSD", "LSD ↓", higher_is_better=False)]
    cells = {k: [_cell(v)] for k, v in s.items()}
    scores = {k: [v] for k, v in s.items()}
    t = paired.analyse_table(cols, cells, scores, oracle={"target"})
    best = min(("a", "b", "c"), key=lambda k: cells[k][0].mean)
    assert t.references == [best]                                   # the oracle is never the best
    assert set(t.comparisons) == {(k, 0) for k in ("a", "b", "c") if k != best}
    other_10db = ({"a", "b"} - {best}).pop()
    assert t.mark(other_10db, 0) == f" {paired.MARK}" and t.mark("c", 0) == ""
    assert t.mark(best, 0) == "" and t.mark("target", 0) == ""
    raw = [t.comparisons[k].p for k in t.comparisons]
    assert [t.comparisons[k].p_holm for k in t.comparisons] == pytest.approx(paired.holm(raw))
    md = paired.markdown(t, {k: len(v.values) for k, v in s.items()})
    heads, rows = table_rows(md[md.index("Paired differences"):])
    assert heads == ["System", "N", "Δ LSD ↓"] and rows["target"]["Δ LSD ↓"] == "oracle"
    assert rows[best]["Δ LSD ↓"] == "best" and "MDE" in rows["c"]["Δ LSD ↓"]
    assert t.cell_dict(best, 0) == {"reference": True, "role": "best"}
    assert t.cell_dict("c", 0)["significant"] is True
    # a baseline replaces the best, and may be an oracle row
    tb = paired.analyse_table(cols, cells, scores, oracle={"target"}, baseline="c")
    assert tb.references == ["c"] and ("c", 0) not in tb.comparisons
    assert all(tb.comparisons[(k, 0)].significant for k in ("a", "b"))
    assert "system − baseline" in paired.markdown(tb)


def test_corpus_bootstrap_is_held_to_the_exact_floor():
    # 2 utterances, both worse: the resamples never reach 0, but 2 items cannot show a difference
    parts = {"u1": ((3.0, 11.0), (8.0, 11.0)), "u2": ((2.0, 15.0), (15.0, 15.0))}
    a = paired.Samples({u: 100 * x[0] / x[1] for u, (x, _) in parts.items()},
                       {u: x for u, (x, _) in parts.items()}, 100.0)
    b = paired.Samples({u: 100 * y[0] / y[1] for u, (_, y) in parts.items()},
                       {u: y for u, (_, y) in parts.items()}, 100.0)
    boot = paired.bootstrap_ratio_diffs(*(np.array([parts[u][k][j] for u in ("u1", "u2")])
                                          for k in (1, 0) for j in (0, 1)), scale=100.0)
    assert paired.bootstrap_p(boot, 100 * (23 / 26 - 5 / 26)) < 0.01          # what it would claim
    c = paired.compare(b, a)
    assert c.diff == pytest.approx(100 * 18 / 26) and c.p == 0.5 and c.mde == math.inf


def _records(system: str, scores, ids) -> list[ItemScoreRow]:
    return [ItemScoreRow("vb", "", i, system, "wer", "WER", s.values.get("WER"), s.error,
                            "pocketsphinx", "x", 16000, dict(s.aux)) for i, s in zip(ids, scores, strict=True)]


@pytest.fixture(scope="module")
def wer_records(corpora):
    """Real pocketsphinx transcripts of the 6 VoiceBank-DEMAND pairs: the clean and the real noisy
    recordings, scored against the real transcripts."""
    m = METRICS.get("wer")()
    pairs = voicebank(corpora)
    ids = [c.stem for _, c, _ in pairs]
    clean = m.score([item(c, text=t) for _, c, t in pairs])
    noisy = m.score([item(n, text=t) for n, _, t in pairs])
    assert all(s.error is None for s in clean + noisy)
    info = {"corpus": [{"column": "WER", "numerator": "edits", "denominator": "ref_words", "scale": 100.0}]}
    return ids, _records("clean", clean, ids), _records("noisy", noisy, ids), info


@pytest.mark.slow
def test_wer_corpus_level_paired_bootstrap_on_real_transcripts(wer_records):
    ids, clean, noisy, info = wer_records
    sc, sn = paired.samples(clean, info, "WER"), paired.samples(noisy, info, "WER")
    assert sc.ratio is not None and sc.scale == 100.0
    c = paired.compare(sn, sc, "noisy", "clean", "WER")
    e_c = np.array([r.aux["edits"] for r in clean], float)
    e_n = np.array([r.aux["edits"] for r in noisy], float)
    w = np.array([r.aux["ref_words"] for r in clean], float)
    # the corpus values are the report's (results.summarize -> stats.corpus_ratio)
    assert c.reference_value == pytest.approx(corpus_ratio(e_c, w, 100.0).mean)
    assert c.value == pytest.approx(100 * e_n.sum() / w.sum()) and c.test == "bootstrap"
    # the paired bootstrap over utterances, written out (same seed: the same resamples)
    idx = np.random.default_rng(0).integers(0, len(ids), size=(2000, len(ids)))
    boot = 100 * (e_n[idx].sum(1) / w[idx].sum(1) - e_c[idx].sum(1) / w[idx].sum(1))
    lo, hi = np.percentile(boot, [2.5, 97.5])
    assert (c.ci_low, c.ci_high) == pytest.approx((lo, hi), abs=1e-9)
    k = np.count_nonzero(np.abs(boot - c.diff) >= abs(c.diff))
    assert c.p == pytest.approx(max((1 + k) / 2001, paired.min_exact_p(6)))    # 2/2^6 floor at 6 items
    # real noisy recordings are transcribed worse: detected
    assert c.diff > 10 and c.ci_low > 0 and c.p < paired.ALPHA, c
    # null: two "systems" that each get the clean transcript of half the utterances and the noisy
    # of the other half (alternating): no true difference, not detected
    x = [clean[i] if i % 2 else noisy[i] for i in range(len(ids))]
    y = [noisy[i] if i % 2 else clean[i] for i in range(len(ids))]
    null = paired.compare(paired.samples(x, info, "WER"), paired.samples(y, info, "WER"))
    assert null.ci_low < 0 < null.ci_high and null.p > paired.ALPHA, null
    # a corpus column without the counts on every item falls back to the item mean (as summarize)
    bare = [ItemScoreRow(**{**r.__dict__, "aux": {}}) for r in clean]
    assert paired.samples(bare, info, "WER").ratio is None
