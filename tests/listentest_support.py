"""Test-only helpers for the listening-test tests: a small real run (listen_support: the
VoiceBank pairs restored by the identity baselines and the x0.5 test system) and a test built
from it: 2 items x 3 conditions (Unprocessed, Target, t_half) = six rating stimuli, plus one gold
and one trapping clip per listener, three listeners."""

from __future__ import annotations

from listen_support import make_run

from benchmark.listentest.create import CreateOptions, create_test

TEST = "lt"


def make_test(corpora, monkeypatch, listeners: int = 3, seed: int = 7):
    run = make_run(corpora, monkeypatch, with_sr=False, runtime=False)
    return create_test(CreateOptions(run=run, testset="vb_pairs", items=2, systems=("t_half",),
                                     seed=seed, listeners=listeners, gold=1, traps=1, name=TEST))


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder, timeout: float = 60.0):
    """`python -m benchmark listen-test serve FOLDER` in a subprocess on a free loopback port;
    returns (process, port) once it answers HTTP."""
    import http.client
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(root))
    proc = subprocess.Popen([sys.executable, "-m", "benchmark", "listen-test", "serve", str(folder),
                             "--port", str(port)], cwd=str(root), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stdout.read().decode()}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/t/not-a-listener")
            c.getresponse().read()
            return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def get(port: int, path: str):
    """(status, body bytes) of a GET with the path sent exactly as given (no normalisation)."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    return r.status, r.read()


def post_rating(port: int, token: str, trial: int, stimulus: str, score: int):
    import http.client
    from urllib.parse import urlencode
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", f"/t/{token}/rate", body=urlencode(
        {"trial": trial, "stimulus": stimulus, "score": score, "plays": 1}),
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse()
    return r.status, r.read()


def fill(folder, design, answer, listeners=None, stop=None, source="web"):
    """Store ratings as the web server would: answer(listener, stimulus) -> score for each trial
    of each listener's order (the first `stop[listener]` trials only, where given)."""
    from benchmark.listentest.db import RatingsDB
    db = RatingsDB(folder)
    try:
        for lst in listeners or design.listeners:
            order = design.order(lst)
            db.ensure_listener(lst, source, len(order))
            for k, sid in enumerate(order[: (stop or {}).get(lst, len(order))]):
                assert db.add(lst, k, sid, answer(lst, design.stimulus(sid)), plays=1 + k % 2,
                              source=source)
    finally:
        db.close()
