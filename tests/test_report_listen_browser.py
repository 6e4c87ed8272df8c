"""The listening page of a small real run, opened in a real headless browser (Debian's chromium,
driven by Playwright): every <audio> loads with the duration of its file, every image loads, the
listening and report tables are there; a full-page screenshot is saved as a test artifact (in the
test's tmp folder, copied to $BENCHMARK_TEST_ARTIFACTS when that is set).

chromium is a system package (.ci/run installs it); without it this test FAILS, it does not skip.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path

import pytest
import runner_support as rs
import soundfile as sf
from listen_support import make_run

from benchmark.report.writer import write_report

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]

WAIT_MEDIA = """() => Promise.all([...document.querySelectorAll('audio')].map(a =>
  (a.readyState >= 1 || a.error) ? null : new Promise(res => {
    a.addEventListener('loadedmetadata', res, {once: true});
    a.addEventListener('error', res, {once: true});
    a.load(); })))"""
MEDIA_STATE = """() => [...document.querySelectorAll('audio')].map(a =>
  ({src: a.getAttribute('src'), duration: a.duration, error: a.error ? a.error.code : null}))"""
IMAGE_STATE = """() => [...document.images].map(i =>
  ({src: i.getAttribute('src'), complete: i.complete, w: i.naturalWidth, cls: i.className}))"""


@pytest.fixture
def plugins():
    rs.register()
    yield
    rs.unregister()


def _browser(p):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: the listening-page test needs Debian's chromium "
                    "(apt-get install chromium; .ci/run installs it)")
    return p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _serve(folder: Path):
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _check_page(page, url: str, out: Path) -> list[dict]:
    page.goto(url, wait_until="load")
    page.evaluate(WAIT_MEDIA)
    media = page.evaluate(MEDIA_STATE)
    assert media, "no <audio> element on the page"
    for m in media:
        assert m["error"] is None, f"media error {m['error']} for {m['src']}"
        # The player's duration is the file's duration (FLAC header), which must be > 0.
        assert m["duration"] > 0 and m["duration"] == pytest.approx(sf.info(str(out / m["src"])).duration,
                                                                     abs=2e-3), m
    images = page.evaluate(IMAGE_STATE)
    assert images and all(i["complete"] and i["w"] > 0 for i in images), \
        [i for i in images if not i["w"]]
    return media


@pytest.mark.slow
def test_listening_page_loads_in_chromium(isolated_env, corpora, plugins, monkeypatch, tmp_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install -e '.[dev]'")
    run = make_run(corpora, monkeypatch)
    out = write_report(run, html=True, listen_items=2).parent
    page_file = out / "index.html"
    text = page_file.read_text()
    assert 'src="/' not in text and "file://" not in text and str(out) not in text   # relative paths only
    # vb_pairs: subsets even/odd; vctk_mini: one table; sr: one per low rate (5) -> 8 tables.
    tables = re.findall(r"<h3 id=\"l-[^\"]+\">([^<]+)</h3>", text)
    assert len(tables) == 8, tables
    server = _serve(out)
    shot = tmp_path / "listening_page.png"
    try:
        with sync_playwright() as p:
            browser = _browser(p)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            media = _check_page(page, f"http://127.0.0.1:{server.server_address[1]}/index.html", out)
            # 8 tables x 2 items (vctk_mini/sr subsets have fewer: 1) x (Unprocessed, Target, t_half,
            # t_bad minus its failed items): count what the page must hold from the store.
            assert len(media) == text.count("<audio ")
            assert page.locator("table.listen").count() == 8
            assert page.locator("table.report").count() >= 4
            assert page.locator("table.report b").count() >= 1               # bold winners
            assert page.locator("img.spec").count() == len(media)
            assert page.locator("img[src^='plots/']").count() >= 5          # plots shown on the page
            assert page.locator("text=restoration failed").count() >= 1     # t_bad's failing item
            page.screenshot(path=str(shot), full_page=True)
            # Same page from disk (file://).
            _check_page(page, page_file.as_uri(), out)
            browser.close()
    finally:
        server.shutdown()
    assert shot.stat().st_size > 50_000
    keep = os.environ.get("BENCHMARK_TEST_ARTIFACTS")      # CI: a folder kept after the run
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shot = Path(shutil.copy(shot, Path(keep) / shot.name))
    print(f"screenshot: {shot}")
