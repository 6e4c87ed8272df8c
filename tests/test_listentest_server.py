"""`listen-test serve` over raw HTTP on loopback (http.client sends paths exactly as written, so
"../" and its percent-encodings reach the server un-normalised):
- the trial page names no condition (no system name, condition code, item id or source path);
- only the test's stimulus files are served, byte-identical to the manifest's sha256; every
  path that tries to leave stimuli/ (or names the manifest, the database, a file planted in
  stimuli/ that the manifest does not list) gets 404 and none of those files' bytes;
- unknown listener tokens get 403 on every route and write nothing;
- a rating that does not match the listener's current trial is refused (400), a resubmitted
  one is ignored (the first answer stands);
- ratings acknowledged before a kill -9 of the server are all in ratings.sqlite, which passes
  SQLite's integrity check, and the restarted server resumes the listener at the next trial.
"""

from __future__ import annotations

import hashlib
import signal
import sqlite3

import pytest
import runner_support as rs
from listentest_support import get, make_test, post_rating, start_server


@pytest.fixture
def plugins():
    rs.register()
    yield
    rs.unregister()


def _rows(folder):
    con = sqlite3.connect(folder / "ratings.sqlite")
    try:
        return con.execute("SELECT listener, trial, stimulus, score FROM ratings ORDER BY listener, trial").fetchall()
    finally:
        con.close()


def test_only_the_tests_files_and_only_known_tokens(isolated_env, corpora, plugins, monkeypatch):
    folder, design = make_test(corpora, monkeypatch)
    tok = design.listeners[0]
    sid = design.order(tok)[0]
    planted = "0123456789abcdef.wav"          # in stimuli/, the right name pattern, not in the manifest
    (folder / "stimuli" / planted).write_bytes(b"RIFF-planted")
    secrets = [(folder / "manifest.json").read_bytes()[:200], b"RIFF-planted", b"SQLite format 3"]
    proc, port = start_server(folder)
    try:
        # The page names no condition: no system, code, item id or source path.
        status, page = get(port, f"/t/{tok}")
        assert status == 200 and b"Sample 1 of 8" in page and f"/t/{tok}/audio/{sid}.wav".encode() in page
        for word in ["t_half", "Target", "Unprocessed", "vb_pairs", "degraded", "C1", "C2", "C3",
                     *(s.item for s in design.stimuli), *(s.source for s in design.stimuli)]:
            assert word.encode() not in page.replace(tok.encode(), b""), word   # (the token is random)
        status, body = get(port, f"/t/{tok}/audio/{sid}.wav")
        assert status == 200
        assert hashlib.sha256(body).hexdigest() == design.stimulus(sid).sha256
        for path in [f"/t/{tok}/audio/../manifest.json", f"/t/{tok}/audio/..%2Fmanifest.json",
                     f"/t/{tok}/audio/%2e%2e%2fmanifest.json", f"/t/{tok}/audio/..%2F..%2Fmanifest.json",
                     f"/t/{tok}/audio/%2E%2E/ratings.sqlite", f"/t/{tok}/../manifest.json",
                     f"/t/{tok}/audio/..%5Cmanifest.json", f"/t/{tok}/audio/{planted}",
                     f"/t/{tok}/audio/{sid}.wav%00.json", f"/t/{tok}/audio/{sid.upper()}.wav",
                     "/manifest.json", "/ratings.sqlite", f"/stimuli/{sid}.wav", "/", "/../../etc/passwd",
                     f"/t/{tok}/audio/....//manifest.json"]:
            status, body = get(port, path)
            assert status == 404, (path, status)
            assert not any(s in body for s in secrets), path
        # Unknown tokens: refused everywhere, nothing written.
        for path in ["/t/nobody", f"/t/nobody/audio/{sid}.wav", f"/t/{tok}x", f"/t/{tok[:-1]}"]:
            status, body = get(port, path)
            assert status == 403 and b"Unknown listener" in body, path
        assert post_rating(port, "nobody", 0, sid, 5)[0] == 403
        # Wrong trial / wrong stimulus / off-scale score: refused.
        assert post_rating(port, tok, 1, sid, 5)[0] == 400
        assert post_rating(port, tok, 0, design.order(tok)[1], 5)[0] == 400
        assert post_rating(port, tok, 0, sid, 7)[0] == 400
        assert _rows(folder) == []
        # A double submit of trial 0 (back button, resubmit) stores one row: the first answer
        # stands; skipping ahead to trial 2 is refused.
        assert post_rating(port, tok, 0, sid, 4)[0] == 303
        assert post_rating(port, tok, 0, sid, 2)[0] == 303
        assert post_rating(port, tok, 2, design.order(tok)[2], 2)[0] == 400
        assert _rows(folder) == [(tok, 0, sid, 4)]
    finally:
        proc.kill()
        proc.wait()


def test_ratings_survive_kill_9(isolated_env, corpora, plugins, monkeypatch):
    folder, design = make_test(corpora, monkeypatch)
    tok = design.listeners[1]
    order = design.order(tok)
    proc, port = start_server(folder)
    scores = [3, 1, 5]
    try:
        for k, s in enumerate(scores):
            status, _ = post_rating(port, tok, k, order[k], s)
            assert status == 303
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
    finally:
        proc.kill()
    assert _rows(folder) == [(tok, k, order[k], s) for k, s in enumerate(scores)]
    con = sqlite3.connect(folder / "ratings.sqlite")
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    con.close()
    proc, port = start_server(folder)
    try:
        status, body = get(port, f"/t/{tok}")
        assert status == 200
        assert f"Sample 4 of {len(order)}".encode() in body
        assert f'name="stimulus" value="{order[3]}"'.encode() in body
        assert post_rating(port, tok, 3, order[3], 2)[0] == 303
    finally:
        proc.kill()
        proc.wait()
    assert len(_rows(folder)) == 4


def _post_raw(port: int, token: str, body: bytes, headers: dict) -> tuple[int, bytes]:
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.putrequest("POST", f"/t/{token}/rate")
    for k, v in headers.items():
        c.putheader(k, v)
    c.endheaders()
    try:
        c.send(body)
    except OSError:          # the server may answer and close before reading everything
        pass
    r = c.getresponse()
    return r.status, r.read()


def test_large_bodies_and_out_of_range_integers_are_refused(isolated_env, corpora, plugins, monkeypatch):
    """The audit's cases: a 600 MB POST (read into memory before) and plays=10**20 (HTTP 500,
    OverflowError in SQLite before) are 413 and 400; nothing is stored, the server goes on."""
    from urllib.parse import urlencode

    from benchmark.listentest.server import MAX_BODY, MAX_PLAYS
    folder, design = make_test(corpora, monkeypatch)
    tok = design.listeners[0]
    sid = design.order(tok)[0]
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    proc, port = start_server(folder)
    try:
        # declared 600 MB, 1 MB sent: refused from the header, the rest never read
        status, body = _post_raw(port, tok, b"x" * (1 << 20), {**form, "Content-Length": str(600 << 20)})
        assert status == 413 and f"over {MAX_BODY} bytes".encode() in body
        # chunked (no declared length), 64 KiB: refused once MAX_BODY bytes have arrived
        chunk = b"a" * 8192
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(8)) + b"0\r\n\r\n"
        status, _ = _post_raw(port, tok, chunked, {**form, "Transfer-Encoding": "chunked"})
        assert status == 413
        for fields, says in [({"plays": 10 ** 20}, f"plays must be 0 to {MAX_PLAYS}"),
                             ({"plays": -1}, f"plays must be 0 to {MAX_PLAYS}"),
                             ({"trial": 10 ** 20}, "does not belong to this trial"),
                             ({"score": 10 ** 20}, "does not belong to this trial"),
                             ({"trial": "9" * 3000}, "does not belong to this trial"),
                             ({"plays": "1e3"}, "Incomplete answer")]:
            data = urlencode({"trial": 0, "stimulus": sid, "score": 4, "plays": 1, **fields}).encode()
            status, body = _post_raw(port, tok, data, {**form, "Content-Length": str(len(data))})
            assert status == (413 if len(data) > MAX_BODY else 400), fields
            if status == 400:
                assert says.encode() in body, (fields, body)
        assert _rows(folder) == []
        assert post_rating(port, tok, 0, sid, 4)[0] == 303         # a good answer still goes in
        assert _rows(folder) == [(tok, 0, sid, 4)]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
