"""The listening page: `reports/<run>/index.html`, a self-contained static page (relative paths
only) that shows, per test set and distortion category, a table of items whose columns are
Unprocessed, Target and every system, each cell an audio player and a spectrogram; below it the
report (tables with bold winners and CIs, plots) rendered from report.md.

Built from the run's store alone plus the audio files it points to (the test sets' inputs and
targets, the systems' outputs); nothing is re-run. Items are chosen reproducibly: within each
category, items are grouped into strata by their distortion parameters (dominant distortion, SNR
bin, bandwidth bin) and picked round-robin over the strata, each in a fixed seeded order.

Decisions (the papers' demo page, 000, picks its samples by hand):
- The `unprocessed` and `target` baselines (backend "identity") are not repeated as system
  columns: the Unprocessed and Target columns show the test set's own files.
- vctk_gsr is split by *dominant distortion*: the stage with the largest severity score in [0, 1]
  (noise: SNR -5 dB -> 1, 30 dB -> 0; low-pass: cutoff 750 Hz -> 1, 22.05 kHz -> 0 on a log
  scale; clipping: eta 0.06 -> 1, 0.9 -> 0; reverb: RT60 / 1 s, 0.5 when unknown); "mild" when
  every score is below 0.1.
- Audio is copied as 16-bit FLAC at the file's own rate (what the system returned, as stored).
"""

from __future__ import annotations

import hashlib
import html
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.core.errors import AudioError, BenchmarkError, UnsafePathError
from benchmark.core.files import StagedDir, atomic_write, confine, safe_name, unique_stem
from benchmark.core.progress import progress
from benchmark.report import breakdown, mdhtml
from benchmark.report.listen_media import (
    FMAX,
    Spec,
    render_png,
    render_scale,
    scale_labels,
    spectrogram,
    write_flac16,
)
from benchmark.report.results import RunData
from benchmark.report.tables import canonical_subset
from benchmark.run.layouts import listen_groups

DEFAULT_ITEMS = 3            # items per table (`--listen-items`)
LISTEN_SEED = 0
PAGE = "index.html"
MEDIA = "listen"
MILD = 0.1


# --- item choice -------------------------------------------------------------------------------
def severities(manifest: dict) -> dict[str, float]:
    """Severity in [0, 1] of each distortion stage applied to one item (absent stages: none),
    from its typed conditions (`breakdown.conditions`). Only items of the multi-distortion recipes
    (conditions for noise, low-pass, clipping and reverb alike) have a dominant distortion."""
    c = breakdown.conditions(manifest)
    out: dict[str, float] = {}
    if not {"snr_db", "cutoff_hz", "clip_level", "reverb"} <= set(c):
        return out
    if c.get("snr_db") is not None:
        out["noise"] = min(1.0, max(0.0, (30.0 - float(c["snr_db"])) / 35.0))
    if c.get("cutoff_hz"):
        cut = min(max(float(c["cutoff_hz"]), 750.0), 22050.0)
        out["low-pass"] = 1.0 - math.log(cut / 750.0) / math.log(22050.0 / 750.0)
    if c.get("clip_level") is not None:
        out["clipping"] = min(1.0, max(0.0, 1.0 - (float(c["clip_level"]) - 0.06) / 0.84))
    if c.get("reverb"):
        rt60 = c.get("rt60_s")
        out["reverb"] = min(1.0, float(rt60)) if isinstance(rt60, int | float) else 0.5
    return out


def dominant_distortion(manifest: dict) -> str:
    sev = severities(manifest)
    if not sev or max(sev.values()) < MILD:
        return "mild"
    return max(sorted(sev), key=lambda k: sev[k])


def category(testset: str, manifest: dict) -> str:
    """The table an item belongs to: subset (sr bandwidth, dns2020 subsets), dominant distortion
    (vctk_gsr), or one table for the whole set: the set's layout says which (`Layout.listen_groups`)."""
    groups = listen_groups(testset)
    if groups == "dominant":
        return f"dominant: {dominant_distortion(manifest)}"
    sub = manifest.get("subset") or ""
    return (canonical_subset(sub) if groups == "canonical" else sub) or "all items"


def stratum(manifest: dict) -> tuple[str, ...]:
    f = breakdown.factors(manifest)
    dom = dominant_distortion(manifest) if severities(manifest) else ""
    return (dom, f.get("SNR", ""), f.get("bandwidth", ""))


def _rank(*parts: object, seed: int = LISTEN_SEED) -> str:
    return hashlib.sha256("|".join(map(str, (seed, *parts))).encode()).hexdigest()


def choose(ids_manifests: list[tuple[str, dict]], n: int, seed: int = LISTEN_SEED) -> list[str]:
    """Up to n item ids, round-robin over the strata (largest first), each in seeded order
    (`seed`: the listening page uses LISTEN_SEED; a listening test its own --seed)."""
    strata: dict[tuple[str, ...], list[str]] = {}
    for iid, man in ids_manifests:
        strata.setdefault(stratum(man), []).append(iid)
    queues = [sorted(v, key=lambda i: _rank(i, seed=seed)) for _, v in
              sorted(strata.items(), key=lambda kv: (-len(kv[1]), _rank(*kv[0], seed=seed)))]
    out: list[str] = []
    while len(out) < n and any(queues):
        for q in queues:
            if q and len(out) < n:
                out.append(q.pop(0))
    return out


# --- page model --------------------------------------------------------------------------------
@dataclass
class Cell:
    column: str
    src: str | None = None            # the audio file to show (None: see note)
    audio: str | None = None          # page-relative paths
    image: str | None = None
    note: str = ""
    spec: Spec | None = None
    rate: int | None = None


@dataclass
class Row:
    item_id: str
    label: str
    cells: list[Cell]
    scale: str | None = None


@dataclass
class Table:
    testset: str
    category: str
    n_items: int
    columns: list[str]
    rows: list[Row] = field(default_factory=list)


def _system_columns(data: RunData) -> list[str]:
    out = []
    for s in data.systems:
        row = data.system_rows.get(s)
        info = (row.info if row else None) or {}
        if info.get("backend") == "identity" and s in ("unprocessed", "target"):
            continue
        out.append(s)
    return out


def _label(man: dict) -> str:
    """The item's active distortions, e.g. "SNR 5–10 dB · clipping η < 0.25 · reverb"."""
    bits = []
    for k, v in breakdown.factors(man).items():
        if k == "subset" or v.startswith("no ") or v == "full band":
            continue
        bits.append(v if v == k else f"{k} {v}")
    if severities(man):
        bits.append(f"dominant: {dominant_distortion(man)}")
    return " · ".join(bits)


def _natural(text: str) -> list:
    """Sort key: numbers by value ("2kHz" before "16kHz")."""
    return [(0, float(t), "") if re.fullmatch(r"\d+(\.\d+)?", t) else (1, 0.0, t)
            for t in re.findall(r"\d+(?:\.\d+)?|\D+", text)]


def _set_file_cell(column: str, folder: Path, rel: object) -> Cell:
    """A cell for a test-set file, confined to the set folder (the page never copies a file from
    outside it: `..`, absolute paths and escaping symlinks become a note)."""
    try:
        return Cell(column, src=str(confine(folder, rel, f"{column.lower()} path")))
    except UnsafePathError as exc:
        return Cell(column, note=f"refused: {exc}")


def plan_tables(data: RunData, items_per_table: int) -> list[Table]:
    systems = _system_columns(data)
    outs = {(o.system, o.testset, o.item_id): o for o in data.outputs}
    tables = []
    for ts in data.testsets:
        name = ts.name
        items = {k[1]: v for k, v in data.items.items() if k[0] == name}
        groups: dict[str, list[tuple[str, dict]]] = {}
        for iid, row in sorted(items.items()):
            groups.setdefault(category(name, row.manifest), []).append((iid, row.manifest))
        has_target = any(r.manifest.get("target") for r in items.values())
        columns = ["Unprocessed"] + (["Target"] if has_target else []) + systems
        for cat in sorted(groups, key=_natural):
            t = Table(name, cat, len(groups[cat]), columns)
            for iid in choose(groups[cat], items_per_table):
                man = items[iid].manifest
                folder = Path(ts.folder)
                cells = [_set_file_cell("Unprocessed", folder, man.get("degraded"))]
                if has_target:
                    tgt = man.get("target")
                    cells.append(_set_file_cell("Target", folder, tgt) if tgt else Cell("Target", note="no reference"))
                for s in systems:
                    o = outs.get((s, name, iid))
                    if o is None:
                        cells.append(Cell(s, note="not run on this item"))
                    elif o.error or not o.path:
                        cells.append(Cell(s, note=f"restoration failed: {o.error}"))
                    else:
                        cells.append(Cell(s, src=str(o.path)))
                t.rows.append(Row(iid, _label(man), cells))
            tables.append(t)
    return tables


def render_row(testset: str, row: Row, media: Path) -> Row:
    """Write one row's media (FLAC + PNG per cell, the row's colour-scale legend) into the folder
    `media` (what becomes the page's listen/ folder) and return the row with its cells' page
    paths (`listen/...`) filled in. Module level and picklable: `MediaJob` runs it in worker
    processes."""
    sub = Path(unique_stem(testset)) / unique_stem(row.item_id)         # unique per item
    for cell in row.cells:
        if cell.src is None:
            continue
        name = sub / f"{unique_stem(cell.column)}.flac"
        try:
            x, rate = write_flac16(Path(cell.src), media / name)
        except AudioError as exc:
            cell.note = f"audio unreadable: {exc}"
            continue
        cell.audio, cell.rate = f"{MEDIA}/{name.as_posix()}", rate
        cell.spec = spectrogram(x, rate)
    specs = [c.spec for c in row.cells if c.spec is not None]
    if not specs:
        return row
    vmax = max(s.peak for s in specs)
    for cell in row.cells:
        if cell.spec is not None:
            name = sub / f"{unique_stem(cell.column)}.png"
            render_png(cell.spec, vmax, media / name)
            cell.image, cell.spec = f"{MEDIA}/{name.as_posix()}", None
    # the legend depends only on its three tick labels: rows with equal labels share one file
    name = Path("scales") / f"{unique_stem('|'.join(scale_labels(vmax)))}.png"
    if not (media / name).exists():
        render_scale(vmax, media / name)
    row.scale = f"{MEDIA}/{name.as_posix()}"
    return row


class MediaJob:
    """The listening page's media, rendered in worker processes while the caller goes on (the
    report's plots are drawn meanwhile); `finish()` waits, writes index.html and only then puts
    the new listen/ folder in place of the old one (`StagedDir`): a page that fails half-way
    (full disk) leaves the previous index.html and its media whole.

    Rows are independent (each writes only its own folder; shared legends are written
    atomically), so they are spread over `workers` processes (default: every core)."""

    def __init__(self, data: RunData, out: Path, items_per_table: int | None = None,
                 workers: int | None = None):
        n = listen_items(items_per_table)
        self.data, self.out = data, out
        # items may differ from the last page: a fresh folder, swapped in by finish()
        self.staged = StagedDir(out, MEDIA)
        self.tables = plan_tables(data, n)
        self.todo = [(t, i) for t in self.tables for i in range(len(t.rows))]
        self.workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
        self._pool = None
        self._futures = []
        if self.workers > 1 and len(self.todo) > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor
            self._pool = ProcessPoolExecutor(min(self.workers, len(self.todo)),
                                             mp_context=multiprocessing.get_context("spawn"))
            self._futures = [self._pool.submit(render_row, t.testset, t.rows[i], self.staged.path)
                             for t, i in self.todo]

    def finish(self) -> Path:
        try:
            bar = progress(total=len(self.todo), desc="listening page", unit="item")
            with bar:
                if self._pool is None:
                    for t, i in self.todo:
                        t.rows[i] = render_row(t.testset, t.rows[i], self.staged.path)
                        bar.update()
                else:
                    for (t, i), fut in zip(self.todo, self._futures, strict=True):
                        t.rows[i] = fut.result()
                        bar.update()
        finally:
            self._stop_workers()
        report = self.out / "report.md"
        md = report.read_text() if report.exists() else ""
        page = self.out / PAGE
        atomic_write(page, page_html(self.data.run, self.tables, md))
        self.staged.commit()
        self.staged = None
        return page

    def _stop_workers(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        """Stop the workers; a page that was not finished leaves no new folder behind."""
        self._stop_workers()
        if self.staged is not None:
            self.staged.discard()
            self.staged = None


# --- HTML --------------------------------------------------------------------------------------
CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.6em 0}
td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top;font-size:13px}
th{background:#f3f3f3}
table.listen td{text-align:center}
table.listen audio{width:290px;display:block}
table.listen img.spec{width:288px;height:128px;display:block;margin-top:3px}
td.item{min-width:9em;max-width:12em;text-align:left;font-size:12px;overflow-wrap:anywhere}
.note{color:#a00;font-size:12px;max-width:290px}
nav a{margin-right:1em}
.report img{max-width:100%}
"""


def _cell_html(c: Cell) -> str:
    if c.audio is None:
        return f'<td><div class="note">{html.escape(c.note)}</div></td>'
    return (f'<td><audio controls preload="metadata" src="{html.escape(c.audio)}"></audio>'
            f'<img class="spec" src="{html.escape(c.image or "")}" alt="spectrogram {html.escape(c.column)}">'
            f'<div>{c.rate} Hz</div></td>')


def _table_html(t: Table, anchor: str) -> str:
    head = "<tr><th>item</th>" + "".join(f"<th>{html.escape(c)}</th>" for c in t.columns) + "<th>scale</th></tr>"
    rows = []
    for r in t.rows:
        scale = f'<img class="scale" src="{html.escape(r.scale)}" alt="scale">' if r.scale else ""
        rows.append(f'<tr><td class="item"><b>{html.escape(r.item_id)}</b><br>{html.escape(r.label)}</td>'
                    + "".join(_cell_html(c) for c in r.cells) + f"<td>{scale}</td></tr>")
    title = f"{t.testset} / {t.category}"
    return (f'<h3 id="{anchor}">{html.escape(title)} ({len(t.rows)} of {t.n_items} items)</h3>\n'
            f'<table class="listen">\n{head}\n' + "\n".join(rows) + "\n</table>")


def page_html(run: str, tables: list[Table], report_md: str) -> str:
    anchors = [f"l-{safe_name(t.testset)}-{safe_name(t.category)}" for t in tables]
    nav = " ".join(f'<a href="#{a}">{html.escape(t.testset)} / {html.escape(t.category)}</a>'
                   for t, a in zip(tables, anchors, strict=True))
    body = [f"<h1>Listening page: run <code>{html.escape(run)}</code></h1>",
            '<p><a href="report.md">report.md</a> · <a href="scores.csv">scores.csv</a> · '
            '<a href="summary.json">summary.json</a> · <a href="#report">report tables and plots</a></p>',
            f"<nav>{nav}</nav>",
            "<h2>Listening</h2>",
            f"<p>Spectrograms: log power spectral density, 46 ms Hann window, linear frequency 0 to {FMAX / 1000:.2f} kHz "
            "(grey: above the file's Nyquist frequency), one colour scale per row (its peak to 80 dB "
            "below, legend in the last column). Items are chosen reproducibly, stratified by their "
            "distortion parameters.</p>"]
    body += [_table_html(t, a) for t, a in zip(tables, anchors, strict=True)]
    body += ['<h2 id="report">Report</h2>', '<div class="report">', mdhtml.to_html(report_md), "</div>"]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(run)}: listening page</title><style>{CSS}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def listen_items(n: int | None) -> int:
    """The `--listen-items` value (None: the default); a clear error for N < 1."""
    if n is None:
        return DEFAULT_ITEMS
    if int(n) < 1:
        raise BenchmarkError(f"--listen-items must be at least 1, got {n}")
    return int(n)
