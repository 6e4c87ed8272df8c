"""Report plots on a small real run: every PNG exists, is linked from report.md and is not a blank
canvas; the sweeps follow the sets' real parameters (sr bandwidths, VoiceBank SNR bins)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import runner_support as rs
from listen_support import make_run
from matplotlib import image as mimage

from benchmark.core import paths
from benchmark.report.plots import factor_label, write_plots
from benchmark.report.results import load
from benchmark.report.writer import write_report
from benchmark.run.store import Store


@pytest.fixture
def plugins():
    rs.register()
    yield
    rs.unregister()


def _ink(png) -> tuple[float, int]:
    """Fraction of pixels that differ from the most common (background) colour; distinct colours."""
    img = mimage.imread(png)[..., :3]
    q = (img * 255).round().astype(np.int32).reshape(-1, 3)
    codes = q[:, 0] * 65536 + q[:, 1] * 256 + q[:, 2]
    values, counts = np.unique(codes, return_counts=True)
    return 1.0 - counts.max() / codes.size, values.size


@pytest.mark.slow
def test_plots_exist_are_linked_and_not_blank(isolated_env, corpora, plugins, monkeypatch):
    run = make_run(corpora, monkeypatch)
    report = write_report(run)
    out = report.parent
    md = report.read_text()
    links = re.findall(r"!\[[^\]]*\]\((plots/[^)]+\.png)\)", md)
    names = {p.split("/")[-1] for p in links}
    assert {"vb_pairs-metrics.png", "vctk_mini-metrics.png", "sr-metrics.png", "sr-vs-bandwidth.png",
            "vb_pairs-vs-SNR.png", "runtime-vs-length.png"} <= names
    assert sorted(p.name for p in (out / "plots").glob("*.png")) == sorted(names)
    for rel in links:
        ink, colours = _ink(out / rel)
        assert ink > 0.03 and colours > 20, (rel, ink, colours)

    store = Store.existing(run)
    data = load(store, run)
    store.close()
    # sr: one subset per low rate -> bandwidth = half the low rate, five bins.
    sr = [v.manifest for k, v in data.items.items() if k[0] == "sr"]
    assert sorted({factor_label(m, "bandwidth") for m in sr}, key=lambda s: float(s.split()[0])) == \
        ["1 kHz", "2 kHz", "4 kHz", "8 kHz", "12 kHz"]
    # The VoiceBank pairs' measured SNRs fall into at least two bins (else no SNR sweep).
    vb = [v.manifest for k, v in data.items.items() if k[0] == "vb_pairs"]
    assert len({factor_label(m, "SNR") for m in vb}) >= 2
    # Regenerating from the store alone gives the same set of plots.
    again = write_plots(data, out / "again")
    assert sorted(p.path.split("/")[-1] for p in again) == sorted(names)
    assert sorted(p.name for p in (out / "again").glob("*.png")) == sorted(names)


def test_no_runtime_protocol_falls_back_to_per_item_timings(isolated_env, corpora, plugins, monkeypatch):
    run = make_run(corpora, monkeypatch, with_sr=False, runtime=False)
    out = write_report(run).parent
    assert (out / "plots" / "runtime-vs-length.png").exists()
    assert paths.reports_dir() / run == out
