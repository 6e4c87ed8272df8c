"""Poison inputs on real audio: 20 kinds of bad input next to good items in one run (each one
recorded item error, the good items scored with measured values, a re-run doing no work), the
1 Hz header refused before any allocation, colliding ids, one stereo policy, silent outputs."""

from __future__ import annotations

import json
import sqlite3
import tracemalloc

import numpy as np
import pytest
import soundfile as sf
from hardening_support import GOOD, MAX_SECONDS, cli, hostile_set, patch_rate, vb

from benchmark.core import paths
from benchmark.core.audio import read_audio, read_item
from benchmark.core.errors import AudioError
from benchmark.run.jobs import RestoreInput, RestoreJob, restore_job
from benchmark.run.runner import RunConfig, Runner
from benchmark.run.store import Store
from systems.base import SystemSpec


def _db(run: str) -> sqlite3.Connection:
    return sqlite3.connect(paths.runs_dir() / run / "store.sqlite")


def _snr(x: np.ndarray, s: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(s.astype(np.float64) ** 2) / np.sum((x - s).astype(np.float64) ** 2)))


@pytest.mark.slow   # two CLI runs in subprocesses (~25 s): the one end-to-end check of every kind
def test_twenty_kinds_of_bad_input_next_to_good_items(isolated_env, corpora, plugins):
    folder, expect = hostile_set(corpora, paths.testsets_dir())
    args = ["run", "--systems", "t_half", "--metrics", "t_rms", "t_snr", "--testsets", "hostile",
            "--name", "h20", "--profile", "offline", "--max-item-seconds", f"{MAX_SECONDS:g}",
            "--listen-items", "24"]
    # without CAP_DAC_OVERRIDE: the chmod-000 file is unreadable even though we are root
    first = cli(args, drop_caps=True)
    assert first.returncode == 0, first.stderr
    # 4 outputs (the good items); the 20 bad ones are item errors, not outputs
    assert "run 'h20': 4 outputs restored (0 cached)" in first.stdout and "20 new item errors" in first.stdout
    con = _db("h20")
    errors = dict(con.execute("SELECT io.item_id, o.error FROM item_outputs io JOIN outputs o "
                              "ON o.system_key=io.system_key AND o.input_sha256=io.input_sha256"))
    assert len(errors) == 24
    for iid, text in expect.items():
        assert errors[iid] is not None and text in errors[iid], (iid, errors[iid])
    assert [i for i, e in errors.items() if e is None] == [f"good_{k}" for k in range(4)]
    # the good items: restored (0.5 x at 16 kHz, no resampling) and scored, values measured here
    scores = {(i, m): v for i, m, v, e in con.execute(
        "SELECT io.item_id, sc.metric, sc.value, sc.error FROM item_outputs io JOIN outputs o "
        "ON o.system_key=io.system_key AND o.input_sha256=io.input_sha256 "
        "JOIN scores sc ON sc.output_sha256=o.sha256") if e is None}
    for k, name in enumerate(GOOD):
        x, _ = read_audio(vb(corpora, "noisy", name))
        s, _ = read_audio(vb(corpora, "clean", name))
        y = 0.5 * x
        assert scores[(f"good_{k}", "t_rms")] == pytest.approx(10 * np.log10(np.mean(y.astype(np.float64) ** 2)), abs=1e-4)
        assert scores[(f"good_{k}", "t_snr")] == pytest.approx(_snr(y, s), abs=1e-3)
    assert len(scores) == 8
    outputs = sorted((paths.runs_dir() / "h20" / "outputs").rglob("*.wav"))
    assert len(outputs) == 4                     # nothing written for the 20 bad items
    page = (paths.reports_dir() / "h20" / "index.html").read_text()
    assert "absolute paths are refused" in page and "&#x27;..&#x27; components are refused" in page
    secret, _ = sf.read(paths.testsets_dir().parent / "outside" / "secret.wav", dtype="int16")
    for flac in (paths.reports_dir() / "h20" / "listen").rglob("*.flac"):   # nothing copied from outside
        got, _ = sf.read(flac, dtype="int16")
        assert got.shape != secret.shape or not np.array_equal(got, secret)
    n_calls = plugins.read_text().splitlines()
    # a re-run does no new work: every output and score (error or value) comes from the store
    second = cli(args, drop_caps=True)
    assert second.returncode == 0, second.stderr
    assert "0 outputs restored (24 cached), 0 items scored (8 cached), 0 new item errors" in second.stdout
    assert plugins.read_text().splitlines() == n_calls
    assert [r[0] for r in con.execute("SELECT status FROM invocations ORDER BY id")] == ["finished"] * 2


def test_one_hertz_header_is_refused_before_any_allocation(tmp_path, corpora):
    bad = patch_rate(vb(corpora, "noisy", "p287_001.wav"), tmp_path / "1hz.wav", 1)
    assert sf.info(str(bad)).samplerate == 1 and sf.info(str(bad)).frames == 31367
    tracemalloc.start()
    with pytest.raises(AudioError, match="declares a sample rate of 1 Hz, expected 1000 to 384000 Hz"):
        read_audio(bad)
    # the runner's restore job: the item's error, and no buffer (soxr needed ~17.6 GB to reach 44.1 kHz)
    job = RestoreJob("unprocessed", {}, "cpu", "k", [RestoreInput("s", "one_hz", str(bad), None, "sha",
                                                                  str(tmp_path / "o.wav"))])
    [outcome] = restore_job(job)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "sample rate of 1 Hz" in outcome.error and outcome.path is None
    assert peak < 8 << 20, peak                  # bytes traced while refusing: < 8 MB
    assert not (tmp_path / "o.wav").exists()


def test_duration_limit_is_read_from_the_header(tmp_path, corpora):
    src = vb(corpora, "noisy", "p287_003.wav")                 # 7.23 s
    assert read_item(src, max_seconds=8.0)[0].size == 115715
    with pytest.raises(AudioError, match=r"declares 7\.2 s of audio, more than the per-item limit of 7 s"):
        read_item(src, max_seconds=7.0)


def test_colliding_ids_get_their_own_outputs(isolated_env, corpora, plugins, capsys):
    """Ids that sanitise alike are refused by the manifest reader; ids that pass it but differ only
    in case (one file on a case-insensitive disk) or share a long prefix (a 300-character name is
    ENAMETOOLONG) each keep their own output file and score: names carry a hash of the id."""
    import shutil

    from benchmark.cli import main
    folder = paths.testsets_dir() / "collide"
    (folder / "d").mkdir(parents=True)
    long = "p287-" + "x" * 290
    pairs = (("Case", "p287_001.wav"), ("case", "p287_002.wav"), (long + "-1", "p287_004.wav"),
             (long + "-2", "p287_006.wav"))
    recs = []
    for iid, name in pairs:
        shutil.copy(vb(corpora, "noisy", name), folder / "d" / f"n_{name}")
        shutil.copy(vb(corpora, "clean", name), folder / "d" / f"c_{name}")
        recs.append({"id": iid, "degraded": f"d/n_{name}", "target": f"d/c_{name}",
                     "rate": 16000, "target_rate": 16000, "duration": 1.0})
    bad = recs[:1] + [dict(recs[1], id="Case ")] + [dict(recs[1], id="Case_")]
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in bad))
    assert main(["run", "--systems", "t_half", "--name", "col", "--testsets", "collide",
                 "--profile", "offline"]) == 2
    assert "both become the file name 'Case_'" in capsys.readouterr().err
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    Runner(RunConfig(name="col", systems=[SystemSpec("t_half")], metrics=["t_snr"],
                     testsets=["collide"], profile="offline")).run(argv=["test"])
    store = Store.existing("col")
    rows = {r.item_id: r for r in store.item_outputs()}
    snr = {s.output_sha256: s.value for s in store.scores()}
    store.close()
    names = [rows[iid].path.rsplit("/", 1)[1] for iid, _ in pairs]
    assert len({n.lower() for n in names}) == 4 and max(len(n.encode()) for n in names) <= 255
    for iid, name in pairs:
        assert rows[iid].error is None, rows[iid].error
        x, _ = read_audio(vb(corpora, "noisy", name))
        s, _ = read_audio(vb(corpora, "clean", name))
        y, _ = read_audio(rows[iid].path)
        np.testing.assert_array_equal(y, 0.5 * x)              # its own input, not another's
        assert snr[rows[iid].sha256] == pytest.approx(_snr(0.5 * x, s), abs=1e-3)
    assert len(set(snr.values())) == 4
    # the listening page's media: one folder per item, distinct even on a case-insensitive disk
    from benchmark.report.writer import write_report
    write_report("col", html=True, listen_items=4)
    [set_dir] = (paths.reports_dir() / "col" / "listen").glob("collide-*")
    folders = [p.name for p in set_dir.iterdir()]
    assert len(folders) == 4 and len({f.lower() for f in folders}) == 4
    assert all(len(list((set_dir / f).glob("*.flac"))) == 3 for f in folders)   # input, target, output


def test_one_stereo_policy_for_run_and_score(isolated_env, corpora, plugins, tmp_path):
    noisy, _ = read_audio(vb(corpora, "noisy", "p287_002.wav"))
    clean, _ = read_audio(vb(corpora, "clean", "p287_002.wav"))
    folder = paths.testsets_dir() / "stereo"
    (folder / "d").mkdir(parents=True)
    sf.write(folder / "d" / "lr.wav", np.stack([noisy, clean], axis=1), 16000, subtype="FLOAT")
    (folder / "manifest.jsonl").write_text(json.dumps(
        {"id": "lr", "degraded": "d/lr.wav", "target": None, "rate": 16000, "target_rate": None,
         "duration": 3.26}) + "\n")
    mono = np.mean(np.stack([noisy, clean], axis=1), axis=1, dtype=np.float32)
    np.testing.assert_array_equal(read_item(folder / "d" / "lr.wav")[0], mono)
    Runner(RunConfig(name="st", systems=[SystemSpec("t_half")], metrics=["t_rms"], testsets=["stereo"],
                     profile="offline")).run(argv=["test"])
    store = Store.existing("st")
    [row] = store.item_outputs()
    [run_score] = [s.value for s in store.scores()]
    store.close()
    assert row.error is None
    np.testing.assert_array_equal(read_audio(row.path)[0], 0.5 * mono)   # channels averaged
    from benchmark.commands.score import collect, score_pairs
    rows, _ = score_pairs(collect(str(folder / "d" / "lr.wav"), None, None), ["t_rms"], "offline")
    assert rows[0]["error"] is None
    assert rows[0]["value"] == pytest.approx(10 * np.log10(np.mean(mono.astype(np.float64) ** 2)), abs=1e-4)
    assert run_score == pytest.approx(rows[0]["value"] - 20 * np.log10(2), abs=1e-4)   # the same mix


def test_silent_output_is_an_error_for_metrics_that_need_signal(tmp_path, corpora):
    from benchmark.commands.score import collect, score_pairs
    clean, _ = read_audio(vb(corpora, "clean", "p287_002.wav"))
    (tmp_path / "out").mkdir()
    (tmp_path / "ref").mkdir()
    sf.write(tmp_path / "out" / "a.wav", np.zeros_like(clean), 16000, subtype="PCM_16")
    sf.write(tmp_path / "ref" / "a.wav", clean, 16000, subtype="PCM_16")
    rows, _ = score_pairs(collect(str(tmp_path / "out"), str(tmp_path / "ref"), None),
                          ["lsd", "si_snr", "ssim", "stoi", "pesq"], "offline")
    by_metric = {r["metric"]: r for r in rows}
    assert set(by_metric) == {"lsd", "si_snr", "ssim", "stoi", "pesq"}
    for m, r in by_metric.items():
        assert r["value"] is None and "silent output (every sample is 0)" in r["error"], (m, r)
    # WER is defined on silence: nothing recognised, every reference word deleted
    text = (corpora / "VoiceBank-DEMAND" / "testset_txt" / "p287_002.txt").read_text().strip()
    (tmp_path / "t.txt").write_text(f"a {text}\n")
    rows, _ = score_pairs(collect(str(tmp_path / "out"), None, str(tmp_path / "t.txt")), ["wer"], "offline")
    assert rows[0]["error"] is None and rows[0]["value"] == pytest.approx(100.0)
    # the reference side too: a real output against a silent reference
    sf.write(tmp_path / "out" / "a.wav", clean, 16000, subtype="PCM_16")
    sf.write(tmp_path / "ref" / "a.wav", np.zeros_like(clean), 16000, subtype="PCM_16")
    rows, _ = score_pairs(collect(str(tmp_path / "out"), str(tmp_path / "ref"), None), ["lsd"], "offline")
    assert "silent reference" in rows[0]["error"]


def test_sources_stay_under_the_corpora_root(tmp_path, corpora):
    from benchmark.core.errors import BenchmarkError, UnsafePathError
    from testsets.manifest import ManifestItem, read_manifest
    it = ManifestItem("a", "d.wav", None, 16000, None, 1.0,
                      sources={"speech": "../../etc/passwd", "noise": "/etc/passwd",
                               "ok": "VoiceBank-DEMAND/clean_testset_wav/p287_001.wav"})
    with pytest.raises(UnsafePathError, match="'..' components are refused"):
        it.source(corpora, "speech")
    with pytest.raises(UnsafePathError, match="absolute paths are refused"):
        it.source(corpora, "noise")
    assert read_audio(it.source(corpora, "ok"))[0].size == 31367
    # a corpora root made of symlinks to other disks is normal: followed for sources
    (tmp_path / "corpora").mkdir()
    (tmp_path / "corpora" / "VoiceBank-DEMAND").symlink_to(corpora / "VoiceBank-DEMAND")
    assert read_audio(it.source(tmp_path / "corpora", "ok"))[0].size == 31367
    # but a set file that is a symlink leaving the set folder is refused
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "d.wav").symlink_to(vb(corpora, "clean", "p287_001.wav"))
    with pytest.raises(UnsafePathError, match="outside"):
        it.file(tmp_path / "set")
    # a manifest line that is JSON but not an object: one clear message, no traceback
    (tmp_path / "set" / "manifest.jsonl").write_text('[1, 2]\n')
    with pytest.raises(BenchmarkError, match=r"manifest.jsonl:1: malformed manifest line "
                                             r"\(expected a JSON object, found list\)"):
        read_manifest(tmp_path / "set" / "manifest.jsonl")

