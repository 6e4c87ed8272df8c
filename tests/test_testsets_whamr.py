"""vctk_gsr's rooms from WHAMR!'s reverb_params_tt.csv (issue 28 item 3): read through the asset
registry, one row per reverberant item, simulated as the WHAMR! scripts do. The CSV is generated
here in the real column layout (the file itself is not redistributable here)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from benchmark.core.errors import AssetError, BenchmarkError
from testsets import TESTSETS, BuildOptions
from testsets.rir import RoomParams, schroeder_rt60, simulate_rir, whamr_legacy_absorption
from testsets.whamr import COLUMNS, read_rows


def _write_csv(path, n=6, seed=0):
    """Rows drawn like WHAMR!'s: rooms 5-10 x 5-10 x 3-4 m, a mic pair near the centre, two
    sources 0.66-2 m away; T60 0.4-0.9 s (long enough for a T30 fit of the truncated RIR)."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n):
        x, y, z = rng.uniform(5, 10), rng.uniform(5, 10), rng.uniform(3, 4)
        cx, cy, mz = x / 2 + rng.uniform(-0.2, 0.2), y / 2 + rng.uniform(-0.2, 0.2), rng.uniform(0.9, 1.8)
        src = [(cx + d * np.cos(a), cy + d * np.sin(a), rng.uniform(0.9, 1.8))
               for d, a in zip(rng.uniform(0.66, 2, 2), rng.uniform(0, 2 * np.pi, 2), strict=True)]
        rows.append([f"utt{k:03d}_a_b.wav", x, y, z, cx - 0.08, cy, cx + 0.08, cy, mz,
                     *src[0], *src[1], rng.uniform(0.4, 0.9)])
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        w.writerows(rows)
    return read_rows(path)


@pytest.fixture
def whamr_mirror(isolated_env, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    rows = _write_csv(mirror / "corpora" / "whamr" / "reverb_params_tt.csv")
    monkeypatch.setenv("BENCHMARK_ASSET_MIRROR", str(mirror))
    return rows


def _plan(corpora, out, **kw):
    builder = TESTSETS.get("vctk_gsr")()
    builder._notes = []
    return builder, builder.plan(BuildOptions(corpora=corpora, out=out, **kw), 1000)


def test_vctk_gsr_takes_one_csv_row_per_reverberant_item(corpora, whamr_mirror, tmp_path):
    rows = {r.index: r for r in whamr_mirror}
    builder, items = _plan(corpora, tmp_path, items=24, allow_repeat=True)
    rev = [it for it in items if it.params["distortion"]["reverb"]]
    assert len(rev) >= 3
    used = [it.params["whamr_row"] for it in rev]
    assert len(set(used[:len(rows)])) == min(len(rows), len(used))     # rows not repeated early
    for it in rev:
        row = rows[it.params["whamr_row"]]
        room = RoomParams.from_dict(it.params["room"])
        assert it.params["whamr_utterance_id"] == row.utterance_id and room.recipe == "whamr_csv"
        v = row.values
        assert room.dims == (v["room_x"], v["room_y"], v["room_z"]) and room.rt60 == v["T60"]
        assert room.mic == (v["micL_x"], v["micL_y"], v["mic_z"])           # the left microphone
        assert room.source == (v["s1_x"], v["s1_y"], v["s1_z"])            # speaker 1
    assert builder.constants()["whamr_csv"]["rows"] == len(rows)
    assert len(builder.constants()["whamr_csv"]["sha256"]) == 64


def test_whamr_rir_is_cut_to_t60_and_decays_by_the_legacy_absorption(whamr_mirror):
    row = max(whamr_mirror, key=lambda r: r.values["T60"])
    room = row.room(44100)
    h = simulate_rir(room)
    t60 = row.values["T60"]
    assert len(h) == int(np.ceil(t60 * 44100))                    # wham_room.py max_rir_len
    # direct path where the geometry puts it (pyroomacoustics' 40-sample fractional-delay offset)
    assert abs(int(np.argmax(np.abs(h))) - room.direct_delay()) <= 1
    a, energy, _ = whamr_legacy_absorption(room.dims, t60)
    predicted = t60 * a / energy          # Sabine's formula with the energy absorption used
    measured = schroeder_rt60(h, 44100)
    assert abs(measured - predicted) / predicted < 0.2, (measured, predicted, t60)
    assert measured < 0.8 * t60           # legacy absorption: faster decay than the row's T60


def test_missing_or_malformed_csv_is_one_clear_message(corpora, isolated_env, tmp_path, capsys):
    with pytest.raises(AssetError, match="whamr_reverb_params_tt"):
        _plan(corpora, tmp_path, items=2, rooms="whamr_csv")
    builder, items = _plan(corpora, tmp_path, items=8, allow_repeat=True)   # default: loud fallback
    assert any("WHAMR! room parameters not found" in n for n in builder._notes)
    assert "WHAMR! room parameters not found" in capsys.readouterr().err
    assert all(it.params["room"]["recipe"] == "whamr" for it in items if it.params["room"])
    bad = tmp_path / "bad.csv"
    bad.write_text("utterance_id,room_x\nx,1\n")
    with pytest.raises(BenchmarkError, match="not a WHAMR! reverb_params CSV"):
        read_rows(bad)
