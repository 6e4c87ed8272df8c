"""A listening test driven end to end in a real headless browser (Debian's chromium through
Playwright), against `python -m benchmark listen-test serve` in a subprocess on loopback.

The test: 2 vb_pairs items x (Unprocessed, Target, t_half) = six rating stimuli, plus one gold and
one trapping clip (8 trials per listener). Three scripted listeners:
- A answers every trial (gold and trap as asked);
- B answers 3 trials, closes the browser, opens their link again in a fresh browser context,
  resumes at trial 4 and finishes;
- C finishes but answers the trap with a different score than its message asks for.
On each page the listener must play the sample to its end before the scale is enabled (the
scripted listener seeks to 0.2 s before the end and plays). Then `listen-test report` must keep
A and B, exclude C for the trap, and its MOS ± CI per condition must equal a hand computation
(mean; t quantile x sample SD / sqrt(N), written out here with scipy.stats.t) from the rows of
ratings.sqlite. Screenshots of a trial page before and after playing are kept as test artifacts.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import statistics
from pathlib import Path

import pytest
import runner_support as rs
from listentest_support import TEST, make_test, start_server

from benchmark.cli import main
from benchmark.listentest.design import TARGET, UNPROCESSED, load_design

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
PLAY_TO_END = """() => new Promise((res, rej) => { const a = document.getElementById('stimulus');
  const go = () => { a.addEventListener('ended', res, {once: true});
                     a.currentTime = Math.max(0, a.duration - 0.2); a.play().catch(rej); };
  a.addEventListener('error', () => rej('media error ' + (a.error && a.error.code)), {once: true});
  if (a.readyState >= 1) go(); else a.addEventListener('loadedmetadata', go, {once: true}); })"""
# Scripted opinions per condition and item index (A, B); C gives A's scores.
OPINION = {"A": {UNPROCESSED: (2, 1), TARGET: (5, 4), "t_half": (3, 2)},
           "B": {UNPROCESSED: (2, 2), TARGET: (5, 5), "t_half": (4, 3)}}


@pytest.fixture
def plugins():
    rs.register()
    yield
    rs.unregister()


def _score(design, who: str, sid: str) -> int:
    s = design.stimulus(sid)
    if s.kind == "trap":
        return s.answer if who != "C" else s.answer % 5 + 1
    if s.kind == "gold":
        return s.answer
    return OPINION["B" if who == "B" else "A"][design.system_of(s.condition)][design.items.index(s.item)]


def _answer(page, design, who: str, expect_trial: int, shot: Path | None = None) -> None:
    assert page.locator(".progress").inner_text() == f"Sample {expect_trial + 1} of {len(design.stimuli)}"
    sid = page.locator("input[name=stimulus]").input_value()
    assert sid == design.order(page.url.rsplit("/", 1)[-1])[expect_trial]
    radios = page.locator("input[name=score]")
    assert radios.count() == 5 and all(radios.nth(k).is_disabled() for k in range(5))
    page.evaluate(PLAY_TO_END)
    assert not radios.nth(0).is_disabled()            # enabled only after the sample ended
    assert int(page.locator("#plays").input_value()) >= 1
    if shot is not None:
        page.screenshot(path=str(shot), full_page=True)
    page.check(f"input[name=score][value='{_score(design, who, sid)}']")
    with page.expect_navigation():
        page.click("#next")


@pytest.mark.slow
def test_three_listeners_in_chromium(isolated_env, corpora, plugins, monkeypatch, tmp_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install -e '.[dev]'")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found (apt-get install chromium; .ci/run installs it)")
    folder, design = make_test(corpora, monkeypatch)
    assert len(design.stimuli) == 8 and sum(s.kind == "rating" for s in design.stimuli) == 6
    who = dict(zip("ABC", design.listeners, strict=True))
    proc, port = start_server(folder)
    shot = tmp_path / "listening_test_trial.png"                 # before playing: scale disabled
    shot_played = tmp_path / "listening_test_trial_played.png"   # after playing to the end
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
            for name in "ABC":
                ctx = browser.new_context(viewport={"width": 900, "height": 640})
                page = ctx.new_page()
                page.goto(f"http://127.0.0.1:{port}/t/{who[name]}")
                if name == "A":
                    page.screenshot(path=str(shot), full_page=True)
                stop = 3 if name == "B" else len(design.stimuli)
                for k in range(stop):
                    _answer(page, design, name, k, shot_played if (name, k) == ("A", 0) else None)
                if name == "B":          # quits midway, comes back in a fresh browser context
                    ctx.close()
                    ctx = browser.new_context(viewport={"width": 900, "height": 640})
                    page = ctx.new_page()
                    page.goto(f"http://127.0.0.1:{port}/t/{who[name]}")
                    for k in range(3, len(design.stimuli)):
                        _answer(page, design, name, k)
                assert "Thank you" in page.content()
                ctx.close()
            page = browser.new_page()
            resp = page.goto(f"http://127.0.0.1:{port}/t/not-a-listener")
            assert resp.status == 403 and "Unknown listener" in page.content()
            browser.close()
    finally:
        proc.kill()
        proc.wait()
    assert shot.stat().st_size > 10_000 and shot_played.stat().st_size > 10_000
    keep = os.environ.get("BENCHMARK_TEST_ARTIFACTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for f in (shot, shot_played):
            shutil.copy(f, Path(keep) / f.name)

    # The stored rows: 3 listeners x 8 trials, each in that listener's own order.
    con = sqlite3.connect(folder / "ratings.sqlite")
    rows = con.execute("SELECT listener, trial, stimulus, score, time FROM ratings ORDER BY listener, trial").fetchall()
    con.close()
    assert len(rows) == 24
    for name in "ABC":
        mine = [r for r in rows if r[0] == who[name]]
        assert [r[2] for r in mine] == design.order(who[name])
        assert [r[3] for r in mine] == [_score(design, name, r[2]) for r in mine]
        assert all(a[4] <= b[4] for a, b in zip(mine, mine[1:], strict=False))   # committed in order

    assert main(["listen-test", "report", TEST]) == 0
    summary = json.loads((folder / "mos.json").read_text())
    assert sorted(summary["kept_listeners"]) == sorted([who["A"], who["B"]])
    assert summary["listeners"][who["C"]]["kept"] is False
    assert summary["listeners"][who["C"]]["reasons"][0].startswith("trap failed")

    # Hand computation from the stored rows: kept listeners' rating stimuli per condition.
    from scipy.stats import t as student_t
    design = load_design(folder)
    kept = {who["A"], who["B"]}
    md = (folder / "report.md").read_text()
    for c in design.conditions:
        scores = [r[3] for r in rows if r[0] in kept and design.stimulus(r[2]).condition == c.code]
        n = len(scores)
        mean = sum(scores) / n
        half = student_t.ppf(0.975, n - 1) * statistics.stdev(scores) / math.sqrt(n)
        got = summary["mos"][c.system]
        assert got["n"] == n == 4
        assert got["mean"] == pytest.approx(mean, abs=1e-12)
        assert got["ci95"] == pytest.approx(half, abs=1e-12)
        assert f"{mean:.2f} ± {half:.2f}" in md
    # The scripted opinions give: Unprocessed (2,1,2,2), Target (5,4,5,5), t_half (3,2,4,3).
    assert summary["mos"][UNPROCESSED]["mean"] == 1.75 and summary["mos"][TARGET]["mean"] == 4.75
    assert summary["mos"]["t_half"]["mean"] == 3.0 and summary["best"] == "t_half"
    print(md)
    print(f"screenshot: {shot}")
