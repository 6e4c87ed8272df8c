"""`listen-test report` on stored ratings of six listeners (written as the server writes them):
three good listeners, one who fails the gold question, one who stops after 3 trials, one who
gives every sample the same score. Checked against hand computations written out here:
- screening keeps exactly the three good listeners, with the reason for each exclusion;
- MOS ± CI per condition = mean and t(0.975, N-1) x SD / sqrt(N) of the kept ratings;
- the paired test against the best system = the Wilcoxon signed-rank normal approximation with
  the tie correction, written out (ranks of |d|, T = min(R+, R-), z, two-sided p), and Holm;
- the bootstrap interval is reproducible, contains the MOS and is [5, 5] for a condition every
  kept listener rated 5;
- the table follows the papers' layout with their published rows for all_gsr (001 Table 3 and
  003 Table 1) and vctk_gsr (002 Table II);
- the section is joined to the run's report (before Provenance) and survives `report RUN`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics

import pytest
import runner_support as rs
from listentest_support import TEST, fill, make_test
from report_support import table_rows
from scipy.stats import norm, rankdata
from scipy.stats import t as student_t

from benchmark.cli import main
from benchmark.core.paths import reports_dir
from benchmark.listentest import report as ltreport
from benchmark.listentest.analysis import analyse
from benchmark.listentest.db import RatingsDB
from benchmark.listentest.design import TARGET, UNPROCESSED, load_design

GOOD = {UNPROCESSED: ((1, 2), (2, 1), (1, 1)), TARGET: ((5, 5), (5, 5), (5, 5)),
        "t_half": ((3, 4), (4, 3), (3, 2))}       # per good listener: scores for item 0, item 1


@pytest.fixture
def plugins():
    rs.register()
    yield
    rs.unregister()


def _setup(corpora, monkeypatch):
    folder, design = make_test(corpora, monkeypatch, listeners=6)
    L = design.listeners

    def answer(lst, s):
        k = L.index(lst)
        if k == 5:
            return 3                                   # the same score for everything
        if s.kind == "gold":
            return 2 if k == 3 else s.answer           # listener 3 fails the gold (expects 5)
        if s.kind == "trap":
            return s.answer
        return GOOD[design.system_of(s.condition)][k % 3][design.items.index(s.item)]

    fill(folder, design, answer, stop={L[4]: 3})
    return folder, design


def wilcoxon_by_hand(d: list[float]) -> float:
    d = [x for x in d if x != 0]
    n = len(d)
    ranks = rankdata([abs(x) for x in d])
    r_plus = sum(r for r, x in zip(ranks, d, strict=True) if x > 0)
    r_minus = sum(r for r, x in zip(ranks, d, strict=True) if x < 0)
    T = min(r_plus, r_minus)
    _, counts = zip(*sorted({a: list(ranks).count(a) for a in ranks}.items()), strict=True)
    var = n * (n + 1) * (2 * n + 1) / 24 - sum(c ** 3 - c for c in counts) / 48
    z = (T - n * (n + 1) / 4) / math.sqrt(var)
    return 2 * norm.cdf(-abs(z))


def test_screening_mos_paired_bootstrap(isolated_env, corpora, plugins, monkeypatch):
    folder, design = _setup(corpora, monkeypatch)
    L = design.listeners
    db = RatingsDB(folder)
    a = analyse(design, db, bootstrap=True)
    b = analyse(design, db, bootstrap=True)
    db.close()
    checks = {c.listener: c for c in a.listeners}
    assert sorted(a.kept) == sorted(L[:3])
    assert checks[L[3]].reasons == ["gold failed (expected 5, gave 2)"]
    assert checks[L[4]].reasons[0] == "unfinished (3 of 8 trials)"
    asked = next(s.answer for s in design.stimuli if s.kind == "trap")
    assert checks[L[5]].reasons == ([f"trap failed (asked {asked}, gave 3)"] if asked != 3 else []) + \
        ["gold failed (expected 5, gave 3)", "rating variance 0 < 0.1"]

    by = {m.system: m for m in a.mos}
    for system, per in GOOD.items():
        scores = [x for pair in per for x in pair]
        n = len(scores)
        half = student_t.ppf(0.975, n - 1) * statistics.stdev(scores) / math.sqrt(n) if len(set(scores)) > 1 else 0.0
        assert by[system].cell.n == n == 6
        assert by[system].cell.mean == pytest.approx(sum(scores) / n, abs=1e-12)
        assert by[system].cell.ci == pytest.approx(half, abs=1e-12)
        assert by[system].boot_lo <= by[system].cell.mean <= by[system].boot_hi
    assert (by[TARGET].boot_lo, by[TARGET].boot_hi) == (5.0, 5.0)
    assert [(m.boot_lo, m.boot_hi) for m in a.mos] == [(m.boot_lo, m.boot_hi) for m in b.mos]
    assert by[UNPROCESSED].cell.mean == pytest.approx(8 / 6) and by["t_half"].cell.mean == pytest.approx(19 / 6)

    # Paired tests against the best system (t_half), by (listener, item).
    assert a.best == "t_half"
    comp = {c.system: c for c in a.comparisons}
    raw = {}
    for other in (UNPROCESSED, TARGET):
        d = [GOOD["t_half"][k][i] - GOOD[other][k][i] for k in range(3) for i in range(2)]
        raw[other] = wilcoxon_by_hand(d)
        assert comp[other].n_pairs == 6
        assert comp[other].mean_diff == pytest.approx(sum(d) / 6)
        assert comp[other].p == pytest.approx(raw[other], rel=1e-9)
    lo, hi = sorted(raw, key=raw.get)
    assert comp[lo].p_holm == pytest.approx(min(1, 2 * raw[lo]))
    assert comp[hi].p_holm == pytest.approx(min(1, max(2 * raw[lo], raw[hi])))


def test_paper_layout_and_run_report(isolated_env, corpora, plugins, monkeypatch):
    folder, design = _setup(corpora, monkeypatch)
    db = RatingsDB(folder)
    a = analyse(design, db)
    db.close()
    # As if the test were on all_gsr with VoiceFixer as the system: 001 Table 3's columns.
    voice = dataclasses.replace(a, design=dataclasses.replace(
        design, testset="all_gsr", conditions=[dataclasses.replace(c, system="voicefixer")
                                               if c.system == "t_half" else c for c in design.conditions]),
        mos=[dataclasses.replace(m, system="voicefixer") if m.system == "t_half" else m for m in a.mos],
        best="voicefixer")
    md = ltreport.markdown(voice)
    headers, rows = table_rows(md, "")

    def cells(row: str) -> list[str]:
        return [rows[row][h] for h in headers[1:]]
    assert headers == ["", "Unprocessed", "Target", "NSNet2 (`nsnet2`)", "VoiceFixer (`voicefixer`)",
                       "MaskSR-M (`masksr_m`)"]
    m = {x.system: x.cell for x in voice.mos}
    assert cells("this test (3 listeners, 2 items)") == [
        f"{m[UNPROCESSED].mean:.2f} ± {m[UNPROCESSED].ci:.2f}", "5.00 ± 0.00", "–",
        f"**{m['voicefixer'].mean:.2f} ± {m['voicefixer'].ci:.2f}**", "–"]
    assert cells("MaskSR (001) Table 3 (paper; 14 listeners, 40 items)") == [
        "1.96 ± 0.08", "4.66 ± 0.05", "2.50 ± 0.09", "3.53 ± 0.09", "4.36 ± 0.07"]
    assert cells("VoiceFixer (003) Table 1 (paper; as published)") == ["2.38", "3.95", "–", "3.62", "–"]
    vctk = ltreport.markdown(dataclasses.replace(voice, design=dataclasses.replace(voice.design, testset="vctk_gsr")))
    vh, vrows = table_rows(vctk, "")
    assert [vrows["MaskSR2 (002) Table II (paper; 13 listeners, 40 items)"][h] for h in vh[1:]] == [
        "2.01 ± 0.07", "4.76 ± 0.04", "2.92 ± 0.09", "3.14 ± 0.10", "4.53 ± 0.06", "4.72 ± 0.05"]
    assert "MaskSR2-L (`masksr2_l`)" in vctk

    # The CLI writes the section and joins it to the run's report, before Provenance.
    assert main(["listen-test", "report", TEST, "--bootstrap"]) == 0
    summary = json.loads((folder / "mos.json").read_text())
    assert summary["mos"][TARGET]["bootstrap95"] == [5.0, 5.0]
    run_md = (reports_dir() / design.run / "report.md").read_text()
    assert run_md.index("## Listening test `lt`") < run_md.index("## Provenance")
    assert main(["report", design.run]) == 0
    assert "## Listening test `lt`" in (reports_dir() / design.run / "report.md").read_text()
    assert load_design(folder).name == TEST
