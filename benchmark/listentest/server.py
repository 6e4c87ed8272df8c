"""`listen-test serve`: the listening test as a small web application (Starlette on uvicorn).

Routes (nothing else exists; every other path is 404):
- GET  /t/{token}                  the listener's current trial (or the end page)
- POST /t/{token}/rate             form fields trial, stimulus, score, plays -> one committed row
                                   (body at most MAX_BODY bytes, else 413; every integer range-
                                   checked, else 400)
- GET  /t/{token}/audio/{name}     a stimulus file of this test, name = 16 hex digits + ".wav"

A token that is not one of the test's listeners gets 403 on every route. Audio is served only
for names listed in the manifest, from the test's stimuli/ folder, after checking that the
resolved path lies inside it; a name with a slash, "..", or anything but the fixed pattern never
reaches the file system. The page shows one stimulus at a time with a player (replay allowed),
the question and the ACR scale in P.808's wording; as in P.808's ACR template the scale is
enabled once the sample has been played to its end. Ratings are posted as a plain HTML form
and the server answers with a redirect to the next trial, so the page works without state in
the browser and a listener who closes it resumes at the first unrated trial.
"""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import parse_qs

from benchmark.core.deps import require
from benchmark.core.errors import BenchmarkError
from benchmark.listentest.db import RatingsDB
from benchmark.listentest.design import (
    QUESTION,
    SCALE,
    STIMULI,
    STIMULUS_NAME,
    TestDesign,
    load_design,
)

# P.808 ACR template's rating instruction (ACR_template.html, 5b8c00a), for a lab setting.
INSTRUCTIONS = ("Wear headphones and listen in a quiet place. Listen to each speech sample and give "
                "your opinion about the quality of the speech you hear.")
CSS = """
body{font-family:system-ui,sans-serif;max-width:40em;margin:2em auto;color:#222}
.progress{color:#666;font-size:14px}
.instructions{color:#444;font-size:14px}
audio{width:100%;margin:1em 0}
table.scale{border-collapse:collapse;width:100%}
table.scale td,table.scale th{border-bottom:1px solid #ddd;padding:6px 8px;text-align:left}
table.scale td.c,table.scale th.c{text-align:center;width:5em}
fieldset{border:none;padding:0}
fieldset:disabled{opacity:.45}
button{margin-top:1em;font-size:16px;padding:.4em 1.5em}
.hint{color:#a60;font-size:14px}
"""

SCRIPT = """
const a = document.getElementById('stimulus'), f = document.getElementById('scale'),
      plays = document.getElementById('plays'), hint = document.getElementById('hint');
a.addEventListener('play', () => { plays.value = parseInt(plays.value) + 1; });
a.addEventListener('ended', () => { f.disabled = false; hint.textContent = ''; });
"""


MAX_BODY = 4096        # bytes of a rating form (four short fields); a larger body is refused (413)
MAX_PLAYS = 10_000     # a listener's plays of one sample; the browser counts them, so it is checked


class _TooLarge(Exception):
    pass


async def _read_body(request, limit: int = MAX_BODY) -> bytes:
    """The request body, read no further than `limit` bytes (the declared length is checked
    first, then what actually arrives): a huge POST is refused, never held in memory."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _page(title: str, body: str, script: str = "") -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>\n{body}\n"
            + (f"<script>{script}</script>" if script else "") + "</body></html>\n")


def trial_html(design: TestDesign, token: str, trial: int, sid: str) -> str:
    n = len(design.stimuli)
    rows = "".join(
        f'<tr><td><label><input type="radio" name="score" value="{v}" required> {label}</label></td>'
        f'<td class="c">{v}</td></tr>' for v, label in SCALE)
    t = html.escape(token)
    body = (f'<p class="progress">Sample {trial + 1} of {n}</p>'
            f'<p class="instructions">{html.escape(INSTRUCTIONS)}</p>'
            f"<p>{trial + 1}. {html.escape(QUESTION).replace('overall quality', '<b>overall quality</b>')}</p>"
            f'<audio id="stimulus" controls preload="auto" src="/t/{t}/audio/{sid}.wav"></audio>'
            f'<form method="post" action="/t/{t}/rate">'
            f'<input type="hidden" name="trial" value="{trial}">'
            f'<input type="hidden" name="stimulus" value="{sid}">'
            '<input type="hidden" id="plays" name="plays" value="0">'
            '<fieldset id="scale" disabled><table class="scale"><thead><tr>'
            '<th>Overall quality of the sample</th><th class="c">Score</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>"
            '<button type="submit" id="next">Next</button></fieldset>'
            '<p class="hint" id="hint">The scale is enabled once the sample has been played to the end; '
            "you may replay it as often as you like.</p></form>")
    return _page(f"Listening test {design.name}: sample {trial + 1} of {n}", body, SCRIPT)


def done_html(design: TestDesign) -> str:
    return _page(f"Listening test {design.name}: finished",
                 f"<h1>Thank you</h1><p>You have rated all {len(design.stimuli)} samples. "
                 "You can close this page.</p>")


class ListeningApp:
    """The state the routes share: the design, the ratings database, each listener's order."""

    def __init__(self, folder: Path):
        self.folder = folder.resolve()
        self.design = load_design(self.folder)
        self.db = RatingsDB(self.folder)
        self.stimuli_dir = (self.folder / STIMULI).resolve()
        self.tokens = set(self.design.listeners)
        self._orders: dict[str, list[str]] = {}

    def order(self, token: str) -> list[str]:
        if token not in self._orders:
            self._orders[token] = self.design.order(token)
        return self._orders[token]

    def audio_path(self, token: str, name: str) -> Path | None:
        if not STIMULUS_NAME.match(name) or name[:-4] not in set(self.order(token)):
            return None
        path = (self.stimuli_dir / name).resolve()
        if path.parent != self.stimuli_dir or not path.is_file():
            return None
        return path


def make_app(folder: Path):
    starlette = require("starlette", "listen", "the listening-test server")
    from starlette.applications import Starlette
    from starlette.responses import FileResponse, HTMLResponse, RedirectResponse
    from starlette.routing import Route

    del starlette
    state = ListeningApp(folder)
    design = state.design

    def refuse(status: int = 403) -> HTMLResponse:
        msg = "Unknown listener link." if status == 403 else "Not found."
        return HTMLResponse(_page("Listening test", f"<p>{msg}</p>"), status_code=status)

    async def page(request):
        token = request.path_params["token"]
        if token not in state.tokens:
            return refuse()
        order = state.order(token)
        state.db.ensure_listener(token, "web", len(order))
        k = state.db.next_trial(token, len(order))
        if k >= len(order):
            return HTMLResponse(done_html(design))
        return HTMLResponse(trial_html(design, token, k, order[k]),
                            headers={"Cache-Control": "no-store"})

    async def rate(request):
        token = request.path_params["token"]
        if token not in state.tokens:
            return refuse()
        try:
            body = await _read_body(request)
        except _TooLarge:
            return HTMLResponse(_page("Listening test", f"<p>Request too large (over {MAX_BODY} "
                                      "bytes).</p>"), status_code=413)
        form = parse_qs(body.decode("utf-8", "replace"))
        order = state.order(token)
        try:
            trial = int(form["trial"][0])
            score = int(form["score"][0])
            sid = form["stimulus"][0]
            plays = int(form.get("plays", ["0"])[0])
        except (KeyError, ValueError, IndexError):
            return HTMLResponse(_page("Listening test", "<p>Incomplete answer: choose a score.</p>"),
                                status_code=400)
        if not 0 <= plays <= MAX_PLAYS:
            return HTMLResponse(_page("Listening test", f"<p>plays must be 0 to {MAX_PLAYS}.</p>"),
                                status_code=400)
        if not (0 <= trial < len(order)) or order[trial] != sid or not 1 <= score <= 5:
            return HTMLResponse(_page("Listening test", "<p>That answer does not belong to this "
                                      "trial.</p>"), status_code=400)
        state.db.ensure_listener(token, "web", len(order))
        current = state.db.next_trial(token, len(order))
        if trial > current:
            return HTMLResponse(_page("Listening test", "<p>That sample is not the current one.</p>"),
                                status_code=400)
        if trial == current:                 # an already-rated trial (back + resubmit) is ignored
            state.db.add(token, trial, sid, score, plays)      # committed before we answer
        return RedirectResponse(f"/t/{token}", status_code=303)

    async def audio(request):
        token = request.path_params["token"]
        if token not in state.tokens:
            return refuse()
        path = state.audio_path(token, request.path_params["name"])
        if path is None:
            return refuse(404)
        return FileResponse(str(path), media_type="audio/wav")

    async def not_found(request, exc):
        return refuse(404)

    app = Starlette(routes=[Route("/t/{token}", page, methods=["GET"]),
                            Route("/t/{token}/rate", rate, methods=["POST"]),
                            Route("/t/{token}/audio/{name}", audio, methods=["GET"])],
                    exception_handlers={404: not_found, 405: not_found})
    app.state.listening = state
    return app


def serve(folder: Path, host: str = "127.0.0.1", port: int = 8000) -> None:
    uvicorn = require("uvicorn", "listen", "the listening-test server")
    app = make_app(folder)
    design = app.state.listening.design
    print(f"listening test '{design.name}': {len(design.stimuli)} samples per listener; links:")
    for tok in design.listeners:
        print(f"  http://{host}:{port}/t/{tok}")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    except OSError as exc:
        raise BenchmarkError(f"cannot listen on {host}:{port}: {exc}") from exc
