"""Report plots (matplotlib, PNG, in `reports/<run>/plots/`), built from the run's store alone:

- per test set (per subset for dns2020): each table metric per system, mean with 95 % CI bars;
- for the simulated sets: each table metric versus SNR bin and versus bandwidth, one line per
  system (sr's bandwidth is its subset: half the low rate);
- runtime versus input length: the MaskSR (001) Table 2 protocol when the run stores it (with
  the published numbers dashed), else the runner's per-item timings against item length.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.core.files import safe_name
from benchmark.report import breakdown
from benchmark.report.results import RunData, item_timings, select, summarize
from benchmark.report.stats import Cell, mean_ci
from benchmark.report.tables import (
    Column,
    canonical_subset,
    layout_for,
    paper_runtime,
    resolve_column,
)

PLOTS = "plots"
SWEEP_FACTORS = ("SNR", "bandwidth")


@dataclass
class Plot:
    title: str
    path: str            # relative to the report folder


def _figure(n_panels: int, width: float = 3.4, height: float = 2.8):
    from matplotlib.figure import Figure
    cols = min(n_panels, 4)
    rows = math.ceil(n_panels / cols)
    fig = Figure(figsize=(width * cols, height * rows + 0.4), dpi=90, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes[:n_panels]


def _save(fig, folder: Path, name: str, title: str, plots: list[Plot]) -> None:
    """Write the figure into `folder` (what becomes the report's plots/ folder)."""
    file = f"{safe_name(name)}.png"
    folder.mkdir(parents=True, exist_ok=True)
    fig.savefig(folder / file)
    plots.append(Plot(title, f"{PLOTS}/{file}"))


def _columns(data: RunData, testset: str) -> list[tuple[Column, str]]:
    """(column, metric sub-score) pairs scored for this set: the paper layout's, else all."""
    layout = layout_for(testset)
    every = [Column(f"{m}:{c}", f"{m} {c}", m, c, 3)
             for m in data.metrics for c in data.columns(m)]

    def scored(cols: list[Column]) -> list[tuple[Column, str]]:
        out = []
        for col in cols:
            sub = resolve_column(data.columns(col.metric), col.sub)
            if sub and select(data.records, testset=testset, metric=col.metric, column=sub):
                out.append((col, sub))
        return out
    return (scored(list(layout.columns)) if layout else []) or scored(every)


def _bars(ax, names: list[str], cells: list[Cell]) -> None:
    x = np.arange(len(names))
    means = [c.mean if c.n else np.nan for c in cells]
    errs = [c.ci if math.isfinite(c.ci) else 0.0 for c in cells]
    ax.bar(x, means, yerr=errs, capsize=3, color=[f"C{i % 10}" for i in range(len(names))])
    ax.set_xticks(x, names, rotation=35, ha="right", fontsize=8)
    finite = [m for m in means if math.isfinite(m)]
    if finite and min(finite) >= 0:
        ax.set_ylim(bottom=0)


def set_plots(data: RunData, out: Path, testset: str, plots: list[Plot]) -> None:
    cols = _columns(data, testset)
    if not cols:
        return
    layout = layout_for(testset)
    items = {k[1]: v.manifest for k, v in data.items.items() if k[0] == testset}
    groups: dict[str, set[str]] = {}
    if layout and layout.by_subset:
        for iid, man in items.items():
            groups.setdefault(canonical_subset(man.get("subset") or ""), set()).add(iid)
    else:
        groups[""] = set(items)
    for sub, ids in sorted(groups.items()):
        panels = []
        for col, column in cols:
            names, cells = [], []
            for system in data.systems:
                recs = [r for r in select(data.records, testset=testset, system=system, metric=col.metric,
                                          column=column) if r.item_id in ids]
                cell = summarize(recs, data.info(col.metric), column)
                if cell.n:
                    names.append(system)
                    cells.append(cell)
            if cells:
                panels.append((col, names, cells))
        if not panels:
            continue
        fig, axes = _figure(len(panels))
        for ax, (col, names, cells) in zip(axes, panels, strict=True):
            _bars(ax, names, cells)
            ax.set_title(col.header, fontsize=10)
        label = f"{testset}" + (f" / {sub}" if sub else "")
        fig.suptitle(f"{label}: mean and 95 % CI over items")
        _save(fig, out, f"{testset}{'-' + sub if sub else ''}-metrics", f"{label}: metrics per system", plots)


def _bw_khz(man: dict) -> float | None:
    p = man.get("params") or {}
    if isinstance(p.get("low_rate"), int | float):
        return p["low_rate"] / 2000
    lp = (p.get("distortion") or {}).get("lowpass") if isinstance(p.get("distortion"), dict) else None
    if isinstance(lp, dict) and isinstance(lp.get("cutoff"), int | float):
        return lp["cutoff"] / 1000
    return None


def factor_label(man: dict, factor: str) -> str | None:
    """The bin of one item for a sweep factor (bandwidth: sr's half low rate, else the breakdown)."""
    p = man.get("params") or {}
    if factor == "bandwidth" and isinstance(p.get("low_rate"), int | float):
        return f"{p['low_rate'] / 2000:g} kHz"
    if factor == "bandwidth" and isinstance(p.get("distortion"), dict):
        bw = _bw_khz(man)
        return breakdown._bin(bw, breakdown.BW_BINS) if bw is not None else "full band"
    if factor == "SNR" and isinstance(p.get("distortion"), dict):
        snr = p["distortion"].get("snr_db")
        return breakdown._bin(float(snr), breakdown.SNR_BINS) if snr is not None else "no noise"
    return breakdown.factors(man).get(factor)


def _order(factor: str, labels: set[str]) -> list[str]:
    if all(re.fullmatch(r"[\d.]+ kHz", lb) for lb in labels):
        return sorted(labels, key=lambda lb: float(lb.split()[0]))
    return breakdown.bin_order(factor, labels)


def sweep_plots(data: RunData, out: Path, testset: str, plots: list[Plot]) -> None:
    items = {k[1]: v.manifest for k, v in data.items.items() if k[0] == testset}
    cols = _columns(data, testset)
    for factor in SWEEP_FACTORS:
        labels = {iid: factor_label(m, factor) for iid, m in items.items()}
        labels = {k: v for k, v in labels.items() if v is not None}
        order = _order(factor, set(labels.values()))
        if len(order) < 2 or not cols:
            continue
        fig, axes = _figure(len(cols))
        x = np.arange(len(order))
        for ax, (col, column) in zip(axes, cols, strict=True):
            for k, system in enumerate(data.systems):
                recs = select(data.records, testset=testset, system=system, metric=col.metric, column=column)
                cells = [summarize([r for r in recs if labels.get(r.item_id) == lb], data.info(col.metric), column)
                         for lb in order]
                if not any(c.n for c in cells):
                    continue
                ax.errorbar(x + (k - len(data.systems) / 2) * 0.04, [c.mean if c.n else np.nan for c in cells],
                            yerr=[c.ci if math.isfinite(c.ci) else 0.0 for c in cells], marker="o",
                            capsize=3, label=system, color=f"C{k % 10}")
            counts = [sum(1 for v in labels.values() if v == lb) for lb in order]
            ax.set_xticks(x, [f"{lb}\n(n={c})" for lb, c in zip(order, counts, strict=True)], fontsize=7)
            ax.set_title(col.header, fontsize=10)
            ax.set_xlabel(factor, fontsize=8)
        axes[0].legend(fontsize=7)
        fig.suptitle(f"{testset}: metrics versus {factor} (mean and 95 % CI)")
        _save(fig, out, f"{testset}-vs-{factor}", f"{testset}: metrics versus {factor}", plots)


def runtime_plot(data: RunData, out: Path, plots: list[Plot]) -> None:
    fig, axes = _figure(1, 5.5, 3.8)
    ax = axes[0]
    if data.runtime:
        lengths = sorted({r.length for r in data.runtime})
        for k, (system, device) in enumerate(dict.fromkeys((r.system, r.device) for r in data.runtime)):
            cells = [mean_ci([r.seconds for r in data.runtime if r.system == system
                              and r.device == device and r.length == L]) for L in lengths]
            ax.errorbar(lengths, [c.mean for c in cells], yerr=[c.ci if math.isfinite(c.ci) else 0 for c in cells],
                        marker="o", capsize=3, label=f"{system} ({device[:30]})", color=f"C{k % 10}")
        ref = paper_runtime()
        for k, (name, vals) in enumerate(ref["rows"].items()):
            pts = [(L, v) for L, v in zip(ref["lengths"], vals, strict=True) if v is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), ls="--", marker="x", color=f"C{(k + 5) % 10}",
                        label=f"{name} (paper, {ref['device']})")
        ax.set_title("Runtime protocol (MaskSR Table 2): seconds per call, warm-up excluded", fontsize=9)
    else:
        timings = item_timings(data)
        if not timings:
            return
        for k, system in enumerate(data.systems):
            pts = [(data.items[(t.testset, t.item_id)].manifest["duration"], t.seconds)
                   for t in timings if t.system == system]
            if pts:
                ax.scatter(*zip(*pts, strict=True), s=10, label=system, color=f"C{k % 10}")
        ax.set_title("Runtime per item as measured by the runner (no runtime protocol stored)", fontsize=9)
    ax.set_xlabel("input length (s)")
    ax.set_ylabel("seconds")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    _save(fig, out, "runtime-vs-length", "runtime versus input length", plots)


def write_plots(data: RunData, out: Path) -> list[Plot]:
    """Write every plot for the run into the folder `out` (the report's plots/ folder, or the
    staged folder that replaces it: `core.files.StagedDir`); returns them in report order, with
    paths relative to the report folder (`plots/NAME.png`)."""
    plots: list[Plot] = []
    for ts in data.testsets:
        set_plots(data, out, ts.name, plots)
        sweep_plots(data, out, ts.name, plots)
    runtime_plot(data, out, plots)
    return plots


def markdown_section(data: RunData, out: Path) -> list[str]:
    """report.md's "Plots" section (plots written into the folder `out` as a side effect)."""
    plots = write_plots(data, out)
    if not plots:
        return []
    return ["## Plots"] + [f"### {p.title}\n\n![{p.title}]({p.path})" for p in plots]
