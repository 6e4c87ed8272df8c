"""Listening-page building blocks on real data: reproducible stratified item choice on a real
vctk_gsr build, spectrograms on one shared frequency axis for 16 kHz and 48 kHz audio, 16-bit FLAC
copies, and the Markdown tables rendered into HTML."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from benchmark.cli import main
from benchmark.core import paths
from benchmark.core.audio import read_audio, resample
from benchmark.report import mdhtml
from benchmark.report.listen import category, choose, dominant_distortion, severities, stratum
from benchmark.report.listen_media import FMAX, HEIGHT, WIDTH, spectrogram, write_flac16


@pytest.fixture
def vctk_gsr(isolated_env, corpora, monkeypatch):
    monkeypatch.setenv("BENCHMARK_CORPORA", str(corpora))
    assert main(["testsets", "build", "vctk_gsr", "--items", "8", "--workers", "1"]) == 0
    path = paths.testsets_dir() / "vctk_gsr" / "manifest.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_choice_is_reproducible_and_stratified(vctk_gsr):
    pairs = [(m["id"], m) for m in vctk_gsr]
    for m in vctk_gsr:
        sev = severities(m)
        d = m["params"]["distortion"]
        assert ("noise" in sev) == (d["snr_db"] is not None)
        assert ("clipping" in sev) == (d["clip_eta"] is not None)
        assert ("low-pass" in sev) == bool(d["lowpass"])
        assert all(0.0 <= v <= 1.0 for v in sev.values())
        dom = dominant_distortion(m)
        assert dom == "mild" or sev[dom] == max(sev.values())
        assert category("vctk_gsr", m) == f"dominant: {dom}"
    for n in (1, 3, 5, 8, 20):
        picked = choose(pairs, n)
        assert len(picked) == min(n, len(pairs)) == len(set(picked))
        assert picked == choose(list(reversed(pairs)), n)        # order of the manifest is irrelevant
        strata = {stratum(m) for m in vctk_gsr}
        got = {stratum(m) for m in vctk_gsr if m["id"] in picked}
        assert len(got) == min(n, len(strata))                    # one per stratum before repeats
    # Severity order on real parameters: the lowest SNR among noisy items scores highest.
    noisy = [m for m in vctk_gsr if m["params"]["distortion"]["snr_db"] is not None]
    worst = min(noisy, key=lambda m: m["params"]["distortion"]["snr_db"])
    assert severities(worst)["noise"] == max(severities(m)["noise"] for m in noisy)


def test_spectrogram_shares_one_frequency_axis(corpora, tmp_path):
    src = sorted((corpora / "VCTK-Corpus-0.92" / "wav48_silence_trimmed").glob("*/*.flac"))[0]
    x, sr = read_audio(src)
    x = x[: 2 * sr]
    full = spectrogram(x, sr)
    narrow = spectrogram(resample(x, sr, 16000), 16000)
    assert full.db.shape == narrow.db.shape == (HEIGHT, WIDTH)
    nyq_row = int(HEIGHT * (1 - 8000 / FMAX))              # rows are FMAX at the top, 0 Hz at the bottom
    assert np.isnan(narrow.db[: nyq_row - 1]).all()         # no data above 8 kHz for 16 kHz audio
    assert np.isfinite(full.db).all()                        # 48 kHz audio covers 0..22.05 kHz
    # Below 4 kHz the same speech gives the same picture at both rates (within 1.5 dB on average).
    low = slice(int(HEIGHT * (1 - 4000 / FMAX)) + 1, HEIGHT)
    assert np.mean(np.abs(full.db[low] - narrow.db[low])) < 1.5
    # A 1 kHz tone peaks in the row holding 1 kHz.
    t = np.arange(sr) / sr
    tone = spectrogram((0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), sr)
    row = int(np.argmax(np.nanmean(tone.db, axis=1)))
    assert HEIGHT - 1 - row == int(1000 // (FMAX / HEIGHT))

    dst = write_flac16(src, tmp_path / "copy.flac")[1]
    info = sf.info(str(tmp_path / "copy.flac"))
    assert (info.format, info.subtype, info.samplerate, dst) == ("FLAC", "PCM_16", sr, sr)
    y, _ = read_audio(tmp_path / "copy.flac")
    z, _ = read_audio(src)
    assert np.max(np.abs(y - z)) <= 1 / 32768 + 1e-6


def test_markdown_tables_render_with_bold_and_links():
    md = ("# Title\n\n| System | N | LSD ↓ |\n|---|---|---|\n| a | 3 | **1.20 ± 0.10** |\n"
          "| b <x> | 3 | 1.50 ± 0.20 |\n\n- note `code`\n\n![plot](plots/a.png)\n| stray pipe")
    out = mdhtml.to_html(md)
    assert '<table class="report">' in out and out.count("<tr>") == 3
    assert "<b>1.20 ± 0.10</b>" in out and "b &lt;x&gt;" in out
    assert '<img src="plots/a.png" alt="plot"' in out and "<code>code</code>" in out
    assert "stray pipe" in out


def test_bad_listen_items_is_one_clear_error(isolated_env, capsys):
    assert main(["report", "nope", "--html", "--listen-items", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --listen-items must be at least 1, got 0"
    assert main(["report", "nope", "--html"]) == 2
    assert "no run 'nope'" in capsys.readouterr().err
