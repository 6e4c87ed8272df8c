"""Paper-style reports: `reports/<run>/report.md`, `scores.csv` (one row per item, metric and
sub-score) and `summary.json` (mean, 95 % CI and N per cell), built from the run's store alone.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict
from pathlib import Path

from benchmark.core.files import StagedDir, atomic_write, is_transient, transient_error, write_csv
from benchmark.core.markdown import markdown_table as _table
from benchmark.core.paths import reports_dir
from benchmark.report import breakdown, paired, plots
from benchmark.report.results import RunData, item_errors, item_timings, load, select, summarize
from benchmark.report.stats import Cell, mean_ci
from benchmark.report.tables import (
    FOOTNOTES,
    Column,
    Layout,
    canonical_subset,
    layouts_for,
    paper_rows,
    paper_runtime,
    resolve_column,
)
from benchmark.run.lock import report_lock, run_active
from benchmark.run.store import InvocationRow, Store, TestSetRow, run_folder

SECTIONS_DIR = "report_sections"   # in the run's folder: sections other layers add to the report
BREAKDOWN_COLUMNS = (("dnsmos", "OVRL", "DNSMOS OVL"), ("lsd", None, "LSD"), ("spk_sim", None, "Spk Sim"))


def _fmt(cell: Cell | None, digits: int, n_row: int | None = None) -> str:
    if cell is None or cell.n == 0 or not math.isfinite(cell.mean):
        return "–"
    s = f"{cell.mean:.{digits}f}"
    if math.isfinite(cell.ci):
        s += f" ± {cell.ci:.{digits}f}"
    if n_row is not None and cell.n != n_row:
        s += f" (n={cell.n})"
    return s


def _fmt_g(cell: Cell) -> str:
    """Timings span orders of magnitude: 3 significant digits."""
    if cell.n == 0 or not math.isfinite(cell.mean):
        return "–"
    return f"{cell.mean:.3g}" + (f" ± {cell.ci:.2g}" if math.isfinite(cell.ci) else "")


def _mkey(data: RunData, col: Column) -> str:
    """The run's metric (its plan's label) that fills a column (RunData.label_for)."""
    return data.label_for(col.metric, col.backend)


def _resolve(data: RunData, col: Column) -> str | None:
    return resolve_column(data.columns(_mkey(data, col)), col.sub)


def _column_notes(data: RunData, cols: list[Column]) -> list[str]:
    """Which backend (and version) produced each column, and whether the published numbers used it;
    one line per metric backend."""
    groups: dict[str, list[Column]] = {}
    for c in cols:
        if c.metric and _mkey(data, c) in data.metrics:
            groups.setdefault(_mkey(data, c), []).append(c)
    out = []
    for mk, cs in groups.items():
        m = data.metrics[mk]
        note = (f"{', '.join(c.header for c in cs)}: {m.name} backend `{m.backend}` "
                f"{m.backend_version}")
        wanted = {c.backend for c in cs if c.backend}
        if wanted and m.backend not in wanted:
            note += f" (the published numbers used `{'`, `'.join(sorted(wanted))}`)"
        elif m.backend != m.info["paper_backend"]:
            note += " (not the papers' backend)"
        out.append(note)
    return out


def _n_outputs(data: RunData, testset: str, system: str, ids: set[str]) -> int:
    return sum(1 for o in data.outputs if o.testset == testset and o.system == system
               and o.item_id in ids and o.sha256)


def measured_table(data: RunData, testset: str, columns: list[Column], ids: set[str],
                   paper: list | None, baseline: str | None = None) -> tuple[str, dict]:
    """One paper-layout table: measured rows (bold best) then published '(paper)' rows, then the
    paired differences against each column's best (or `baseline`; benchmark.report.paired)."""
    headers = ["System", "N"] + [c.header for c in columns]
    summary: dict = {}
    cells: dict[str, list[Cell | None]] = {}
    scores: dict[str, list[paired.Samples | None]] = {}
    nrow: dict[str, int] = {}
    for system in data.systems:
        n = _n_outputs(data, testset, system, ids)
        if n == 0:
            continue
        nrow[system] = n
        row, scores[system] = [], []
        for col in columns:
            sub = _resolve(data, col)
            if sub is None:
                row.append(None)
                scores[system].append(None)
                continue
            mk = _mkey(data, col)
            recs = [r for r in select(data.records, testset=testset, system=system, metric=mk,
                                      column=sub) if r.item_id in ids]
            cell = summarize(recs, data.info(mk), sub)
            row.append(cell)
            scores[system].append(paired.samples(recs, data.info(mk), sub))
            summary.setdefault(system, {})[col.paper_id] = {"metric": mk, "column": sub,
                                                            **cell.to_dict()}
        cells[system] = row
    best: dict[int, set[str]] = {}     # ties at the shown precision are all bold
    for j, col in enumerate(columns):
        cand = [(s, c[j].mean) for s, c in cells.items()
                if c[j] is not None and c[j].n and math.isfinite(c[j].mean) and not data.oracle(s)]
        if len(cand) >= 2:
            top = (max if data.higher_is_better(_mkey(data, col)) else min)(v for _, v in cand)
            best[j] = {s for s, v in cand if round(v, col.digits) == round(top, col.digits)}
    tests = paired.analyse_table([paired.TableColumn(c.paper_id, c.header,
                                                     data.higher_is_better(_mkey(data, c)), c.digits)
                                  for c in columns], cells, scores,
                                 {s for s in cells if data.oracle(s)}, baseline)
    for system, by_col in summary.items():
        for j, col in enumerate(columns):
            if col.paper_id in by_col:
                by_col[col.paper_id]["paired"] = tests.cell_dict(system, j)
    rows = []
    for system, row in cells.items():
        texts = []
        for j, (col, cell) in enumerate(zip(columns, row, strict=True)):
            t = _fmt(cell, col.digits, nrow[system]) if _resolve(data, col) else "n/a"
            texts.append((f"**{t}**" if system in best.get(j, ()) else t) + tests.mark(system, j))
        label = system + (" (oracle)" if data.oracle(system) else "")
        rows.append([label, str(nrow[system])] + texts)
    for pr in paper or []:
        vals = [pr.values.get(c.paper_id) for c in columns]
        rows.append([f"{pr.system} (paper)", "–"] +
                    ["–" if v is None else f"{v:.{c.digits}f}" for v, c in zip(vals, columns, strict=True)])
    block = paired.markdown(tests, nrow)
    return _table(headers, rows) + (f"\n\n{block}" if block else ""), summary


def _short_build(ts: TestSetRow) -> str:
    """The build's fingerprint as shown: the CHECKSUMS sha256 (or, for a set made by hand without
    CHECKSUMS, `manifest:` and its manifest's sha256), first 12 digits."""
    build = ts.checksums_sha256 or "none"
    kind, _, digest = build.rpartition(":")
    return f"{kind}:{digest[:12]}" if kind else digest[:12]


def _set_sections(data: RunData, ts: TestSetRow, baseline: str | None = None) -> tuple[list[str], dict]:
    name = ts.name
    layouts: tuple[Layout, ...] = layouts_for(name)
    items = {k[1]: v for k, v in data.items.items() if k[0] == name}
    md = [f"## Test set `{name}` ({len(items)} items, build `{_short_build(ts)}`)"]
    if data.earlier.get(name):
        md.append(f"{data.earlier[name]} output(s) of earlier builds of this set are stored but not "
                  "counted: every number below is of this build's items.")
    summary: dict = {}
    if not layouts:
        cols = [Column(f"{m}:{c}", f"{m} {c}", m, c, 3)
                for m in data.metrics for c in data.columns(m)]
        md.append("No paper table for this set; every metric scored is shown.")
        table, summary["all"] = measured_table(data, name, cols, set(items), None, baseline)
        md.append(table)
        return md + _breakdown(data, name, items), summary
    for k, layout in enumerate(layouts):
        md += _layout_section(data, name, layout, items, summary, "" if k == 0 else f"{layout.name}/",
                              baseline)
    md += _breakdown(data, name, items)
    return md, summary


def _layout_section(data: RunData, name: str, layout: Layout, items: dict, summary: dict,
                    prefix: str, baseline: str | None = None) -> list[str]:
    """One paper layout of a set; its summary cells go under `<prefix><subset or 'all'>` (the
    set's first layout has no prefix, a second one e.g. `vf_sr/2kHz`)."""
    md = [f"Layout: {layout.source}. Mean ± 95 % CI over items; **bold** = best measured "
          "system per column (oracle rows excluded)."]
    if prefix:
        md[0] = f"### `{name}` in the layout of {layout.source}\n\n" + md[0]
    groups: dict[str, set[str]] = {}
    if layout.by_subset:
        for iid, it in items.items():
            groups.setdefault(canonical_subset(it.manifest.get("subset") or ""), set()).add(iid)
    else:
        groups[""] = set(items)
    for sub, ids in sorted(groups.items()):
        cols = list(layout.columns)
        if layout.subset_columns and sub in layout.subset_columns:
            cols = [c for c in cols if c.paper_id in layout.subset_columns[sub]]
        if sub:
            md.append(f"### `{name}` / {sub} ({len(ids)} items)")
        prows = paper_rows(name, sub, layout.papers)
        table, summary[prefix + (sub or "all")] = measured_table(data, name, cols, ids, prows, baseline)
        md.append(table)
        if prows:
            sources = sorted({s for p in prows for s in p.sources})
            md.append(f"(paper) rows: published numbers from {'; '.join(sources)}; "
                      "the papers' full-size test sets, not this build.")
        notes = [FOOTNOTES[c.paper_id] for c in cols if c.paper_id in FOOTNOTES]
        notes += _column_notes(data, cols)
        md.append("\n".join(f"- {n}" for n in notes))
    return md


def _breakdown(data: RunData, testset: str, items: dict) -> list[str]:
    fac = {iid: breakdown.factors(it.manifest) for iid, it in items.items()}
    cols = [(m, resolve_column(data.columns(m), c), h) for m, c, h in BREAKDOWN_COLUMNS
            if m in data.metrics and resolve_column(data.columns(m), c)]
    if not cols:   # sets without the papers' metrics: the first metric
        cols = [(m, data.columns(m)[0], m) for m in data.metrics if data.columns(m)][:1]
    out = []
    for factor in breakdown.FACTORS:
        labels = {f[factor] for f in fac.values() if factor in f}
        if len(labels) < 2 or not cols:
            continue
        order = breakdown.bin_order(factor, labels)
        out.append(f"#### Breakdown by {factor} (`{testset}`)")
        for metric, column, header in cols:
            rows = []
            for system in data.systems:
                recs = select(data.records, testset=testset, system=system, metric=metric, column=column)
                if not recs:
                    continue
                row = [system]
                for label in order:
                    sel = [r for r in recs if fac.get(r.item_id, {}).get(factor) == label]
                    row.append(_fmt(summarize(sel, data.info(metric), column), 3))
                rows.append(row)
            if rows:
                counts = [sum(1 for f in fac.values() if f.get(factor) == lb) for lb in order]
                out.append(f"{header}:\n")
                out.append(_table(["System"] + [f"{lb} (n={c})" for lb, c in zip(order, counts, strict=True)],
                                  rows))
    return out


def _runtime_section(data: RunData) -> list[str]:
    md = []
    per_item = []
    timings = item_timings(data)
    for system in data.systems:
        mine = [t for t in timings if t.system == system]
        if mine:
            secs, rtf = mean_ci([t.seconds for t in mine]), mean_ci([t.rtf for t in mine])
            per_item.append([system, str(rtf.n), _fmt_g(secs), _fmt_g(rtf), mine[0].device])
    if per_item:
        md += ["## Runtime per item (measured by the runner)",
               _table(["System", "N", "seconds per item", "RTF", "device"], per_item)]
    if data.runtime:
        ref = paper_runtime()
        lengths = sorted({r.length for r in data.runtime})
        rows = []
        for (system, device) in dict.fromkeys((r.system, r.device) for r in data.runtime):
            row = [system, device]
            for L in lengths:
                secs = [r.seconds for r in data.runtime
                        if r.system == system and r.device == device and r.length == L]
                row.append(_fmt_g(mean_ci(secs)))
            rows.append(row)
        for name, vals in ref["rows"].items():
            m = dict(zip(ref["lengths"], vals, strict=True))
            rows.append([f"{name} (paper)", ref["device"]] +
                        [f"{m[L]:.2f}" if L in m else "–" for L in lengths])
        md += ["## Runtime (MaskSR (001) Table 2 protocol: seconds per call, warm-up excluded)",
               _table(["System", "device"] + [f"{L:g} s" for L in lengths], rows)]
    return md


def _md_text(text: object) -> str:
    """Untrusted text (item ids, error strings) as one Markdown table cell of literal text: the
    characters that make Markdown markup or split a cell backslash-escaped, newlines as spaces."""
    return re.sub(r"([\\`*_\[\]<>|!~])", r"\\\1", " ".join(str(text).splitlines()))


def _status(data: RunData, inv: InvocationRow) -> str:
    """'running' only while an invocation holds the run's lock; a killed one reads 'interrupted'."""
    if inv.status == "running" and not run_active(data.run):
        return "interrupted"
    return inv.status


def _provenance(data: RunData, errors: list[dict]) -> list[str]:
    prov = data.invocations[-1].provenance if data.invocations else {}
    config = data.invocations[-1].config if data.invocations else {}
    md = ["## Provenance", "\n".join([
          f"- git commit: `{prov.get('git_commit', '?')}`",
          f"- device: {prov.get('device', '?')}; python {prov.get('python', '?')}; "
          f"{prov.get('platform', '?')}",
          f"- metric profile: `{config.get('profile', '?')}`; executor "
          f"`{config.get('executor', '?')}` with {config.get('workers', '?')} worker(s)",
          "- packages: " + ", ".join(f"{k} {v}" for k, v in sorted(prov.get("packages", {}).items()))])]
    md.append("\nTest sets:\n")
    md.append(_table(["set", "items", "seed", "builder version", "build (CHECKSUMS sha256)"],
                     [[t.name, str(t.n_items), str(t.info.get("seed", "?")),
                       str(t.info.get("version", "?")), f"`{t.checksums_sha256 or 'none'}`"]
                      for t in data.testsets]))
    md.append("\nMetric backends:\n")
    md.append(_table(["metric", "backend", "version", "rate (Hz)", "paper backend"],
                     [[n, m.backend, m.backend_version, str(m.info["rate"]),
                       m.info["paper_backend"]] for n, m in data.metrics.items()]))
    if prov.get("assets"):
        md.append("\nAsset files (unpinned: the catalogue has no published sha256 for it, so this "
                  "hash is the only record of which file was used):\n")
        md.append(_table(["asset", "sha256", "pinned"],
                         [[n, f"`{a['sha256']}`", "yes" if a["pinned"] else "**unpinned**"]
                          for n, a in sorted(prov["assets"].items())]))
    md.append("\nSystems:\n")
    md.append(_table(["system", "version", "native rate", "cache key", "config"],
                     [[s, str(r.info["version"]), str(r.info["rate"]), f"`{r.key}`",
                       json.dumps(r.config) if r.config else "–"]
                      for s, r in data.system_rows.items() if s in data.systems]))
    md.append("\nInvocations:\n")
    md.append(_table(["#", "argv", "restored", "scored", "cached outputs", "cached scores", "status"],
                     [[str(i.id), "`" + " ".join(i.argv) + "`", str(i.restored), str(i.scored),
                       str(i.cached_outputs), str(i.cached_scores), _status(data, i)]
                      for i in data.invocations]))
    if any(i.status == "interrupted" for i in data.invocations):
        md.append("\n*interrupted*: the invocation ended without recording how (killed, or a failure "
                  "that kept it from writing its store, such as a full disk); its finished items are "
                  "kept and the next run does only the rest.")
    md.append(f"\nItem errors: {len(errors)}")
    if errors:
        md.append(_table(["stage", "system", "set", "item", "error"],
                         [[e["stage"], e["system"], e["testset"], _md_text(e["item"]),
                           _md_text(e["error"][:200])] for e in errors[:100]]))
        if len(errors) > 100:
            md.append(f"... and {len(errors) - 100} more (see scores.csv)")
    return md


def extra_sections(run: str) -> list[str]:
    """Markdown sections saved by other layers beside the run's store (e.g. a listening test's
    MOS section: benchmark.listentest.report), in file-name order; none when the folder is absent."""
    folder = run_folder(run) / SECTIONS_DIR
    return [p.read_text().strip() for p in sorted(folder.glob("*.md"))] if folder.is_dir() else []


def write_report(run: str, out_dir: Path | None = None, html: bool = False,
                 listen_items: int | None = None, baseline: str | None = None) -> Path:
    """html: also write the listening page index.html (benchmark.report.listen). baseline: the
    system every other is compared with in the paired columns (default: each column's best).

    report.md, scores.csv, summary.json and index.html are each replaced atomically; a full disk
    (ENOSPC/EFBIG) raises TransientIOError naming it and leaves the previous files as they were.
    One writer per report folder (`report_lock`); a second one exits with a message."""
    run_folder(run)                      # the name is validated before any path is built from it
    store = Store.existing(run)
    try:
        data = load(store, run)
    finally:
        store.close()
    paired.check_baseline(data, baseline)
    out = out_dir or reports_dir() / run
    try:
        out.mkdir(parents=True, exist_ok=True)
        with report_lock(out):
            return _write(data, run, out, html, listen_items, baseline)
    except OSError as exc:
        if is_transient(exc):
            raise transient_error(exc, "writing the report into", out) from exc
        raise


def _write(data: RunData, run: str, out: Path, html: bool, listen_items: int | None,
           baseline: str | None = None) -> Path:
    media = None
    if html:   # the page's media render in worker processes while the tables and plots are made
        from benchmark.report.listen import MediaJob
        media = MediaJob(data, out, listen_items)
    try:
        path = _write_files(data, run, out, baseline)
        if media is not None:
            media.finish()
        return path
    finally:
        if media is not None:
            media.close()


def _write_files(data: RunData, run: str, out: Path, baseline: str | None = None) -> Path:
    errors = item_errors(data)
    md = [f"# Speech-restoration benchmark: run `{run}`", "",
          f"Systems: {', '.join(data.systems)}. Test sets: {', '.join(t.name for t in data.testsets)}. "
          f"Item errors: {len(errors)}."]
    summary: dict = {"run": run, "tables": {}, "item_errors": len(errors),
                     "paired": paired.settings(baseline)}
    for ts in data.testsets:
        sec, summ = _set_sections(data, ts, baseline)
        md += [""] + sec
        summary["tables"][ts.name] = summ
    # plots go into a staged folder that replaces plots/ once report.md and the rest are written
    with StagedDir(out, plots.PLOTS) as staged:
        _write_md_csv_json(data, run, out, errors, md, summary,
                           plots.markdown_section(data, staged.path))
    return out / "report.md"


def _write_md_csv_json(data: RunData, run: str, out: Path, errors: list[dict], md: list[str],
                       summary: dict, plot_section: list[str]) -> None:
    md += [""] + _runtime_section(data) + [""] + plot_section
    for extra in extra_sections(run):
        md += ["", extra]
    md += [""] + _provenance(data, errors)
    atomic_write(out / "report.md",
                 "\n\n".join(x for x in md if x is not None).replace("\n\n\n", "\n\n") + "\n")
    fields = ["testset", "subset", "item_id", "system", "metric", "column", "value", "error",
              "backend", "backend_version", "rate"]
    write_csv(out / "scores.csv", fields,
              [asdict(r) for r in data.records]
              + [{"testset": e["testset"], "item_id": e["item"], "system": e["system"],
                  "metric": "restore", "error": e["error"]} for e in errors if e["stage"] == "restore"])
    summary["provenance"] = data.invocations[-1].provenance if data.invocations else {}
    summary["metrics"] = {n: {"backend": m.backend, "version": m.backend_version}
                          for n, m in data.metrics.items()}
    atomic_write(out / "summary.json", json.dumps(summary, indent=2, sort_keys=True, default=str))
