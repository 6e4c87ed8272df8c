"""The runner on real audio: resampling in/out, caching (no work on a re-run, asserted through the
store and the plugins' call log), per-item errors, the asset preflight and the process pool."""

from __future__ import annotations

import dataclasses
import sqlite3

import numpy as np
import pytest
import runner_support as rs

from benchmark.cli import main
from benchmark.core import paths
from benchmark.core.audio import read_audio, resample
from benchmark.run.runner import RunConfig, Runner
from benchmark.run.store import Store
from metrics.base import METRICS, MetricInfo
from systems.base import SystemSpec


@pytest.fixture
def sets(isolated_env, corpora):
    root = paths.testsets_dir()
    return rs.make_vb_set(corpora, root), rs.make_vctk_set(corpora, root)


def _calls(path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _run(name, systems, metrics, **kw):
    cfg = RunConfig(name=name, systems=[SystemSpec(s) for s in systems], metrics=metrics,
                    profile="offline", **kw)
    return Runner(cfg).run(argv=["test"])


def test_runner_resamples_in_and_out(sets, plugins):
    _, vctk = sets
    _run("rs", ["t_half"], ["t_rms"], testsets=["vctk_mini"])
    store = Store.existing("rs")
    rows = {r.item_id: r for r in store.item_outputs()}
    store.close()
    assert len(rows) == 3
    for line in (vctk / "manifest.jsonl").read_text().splitlines():
        import json
        item = json.loads(line)
        x, sr = read_audio(vctk / item["degraded"])
        y, ysr = read_audio(rows[item["id"]].path)
        assert ysr == sr == 48000 and y.size == x.size        # back at the set's rate and length
        expected = resample(0.5 * resample(x, sr, 16000), 16000, sr)[: x.size]
        expected = np.pad(expected, (0, x.size - expected.size))   # the runner pads to the input length
        assert np.max(np.abs(y - expected)) < 1e-6            # one resampler, both ways
        assert rows[item["id"]].seconds >= 0 and rows[item["id"]].audio_seconds == pytest.approx(x.size / sr)


def test_second_identical_run_does_no_work(sets, plugins):
    systems, metrics = ["unprocessed", "target", "t_half"], ["t_rms", "t_snr"]
    first = _run("cache", systems, metrics)
    n_calls = len(_calls(plugins))
    assert first.restored == 3 * 9 and first.scored > 0 and n_calls > 0
    second = _run("cache", systems, metrics)
    assert (second.restored, second.scored) == (0, 0)
    assert second.cached_outputs == 27 and second.cached_scores == first.scored
    assert len(_calls(plugins)) == n_calls             # no system or metric was called again
    store = Store.existing("cache")
    inv = store.invocations()
    assert [(i.restored, i.scored) for i in inv] == [(27, first.scored), (0, 0)]
    assert store.count("outputs") == 27 and store.count("item_outputs") == 27
    # Measured values on the real pairs: the oracle reproduces the reference, halving costs 6 dB.
    snr = {s.output_sha256: s.value for s in store.scores() if s.metric == "t_snr"}
    rms = {s.output_sha256: s.value for s in store.scores() if s.metric == "t_rms"}
    out = {(r.system, r.item_id): r.sha256 for r in store.item_outputs()}
    store.close()
    for item in ("vb_pairs_000", "vb_pairs_001"):
        assert snr[out[("target", item)]] > 40
        assert rms[out[("unprocessed", item)]] - rms[out[("t_half", item)]] == pytest.approx(6.02, abs=0.01)
    # A changed system config is a new cache key: that system is redone, nothing else.
    third = Runner(RunConfig("cache", [SystemSpec("t_half", {"variant": 2})], metrics=["t_rms"],
                             profile="offline")).run()
    # (its outputs are the same audio, so their scores are found by output sha256)
    assert third.restored == 9 and third.scored + third.cached_scores == 9


def test_bad_items_are_recorded_and_the_run_continues(sets, plugins):
    vb, _ = sets
    (vb / "degraded" / "p287_002.wav").write_bytes(b"RIFF not really a wav file")
    summary = _run("bad", ["unprocessed", "t_bad"], ["t_rms"], testsets=["vb_pairs"])
    store = Store.existing("bad")
    errs = {(r.system, r.item_id): r.error for r in store.item_outputs() if r.error}
    good = [r for r in store.item_outputs() if not r.error]
    n_scores = len(store.scores())
    store.close()
    assert summary.item_errors == len(errs) == 4
    assert "cannot read audio" in errs[("unprocessed", "vb_pairs_001")]        # corrupted file
    assert "cannot read audio" in errs[("t_bad", "vb_pairs_001")]
    assert "NaN" in errs[("t_bad", "vb_pairs_003")]                            # NaN output
    assert "RuntimeError: cannot restore vb_pairs_004" == errs[("t_bad", "vb_pairs_004")]
    assert len(good) == 8 and n_scores == 8          # every readable item was restored and scored
    # errors are cached too (no retry on a plain re-run) ...
    assert _run("bad", ["unprocessed", "t_bad"], ["t_rms"], testsets=["vb_pairs"]).restored == 0
    # ... and --retry-errors redoes only them
    again = _run("bad", ["unprocessed", "t_bad"], ["t_rms"], testsets=["vb_pairs"], retry_errors=True)
    # (the 8 good outputs come from the cache; the 4 retried items fail again: no new output)
    assert again.cached_outputs == 8 and again.item_errors == 4 and again.restored == 0


class NeedsWeights(rs.RmsDb):
    """A metric whose paper backend needs a downloaded weight file (its offline one does not)."""
    info = MetricInfo(name="t_weights", rate=16000, needs_reference=False, needs_transcript=False,
                      higher_is_better=True, columns=("dB",), backends=("numpy", "model"),
                      paper_backend="model", assets={"model": ("nisqa",)})


def test_missing_assets_stop_the_run_with_one_message(sets, plugins, capsys):
    METRICS.register(NeedsWeights)
    try:
        rc = main(["run", "--systems", "gtcrn", "unprocessed", "--metrics", "t_weights", "--name", "a",
                   "--profile", "paper"])
        err = capsys.readouterr().err
        assert rc == 2 and "Traceback" not in err
        assert "2 asset(s) needed by this run are missing" in err
        assert "gtcrn_onnx (system gtcrn)" in err and "nisqa (metric t_weights (model))" in err
        assert "python -m benchmark assets fetch gtcrn_onnx nisqa" in err
        assert "--profile offline" in err
        # offline profile: the metric's bundled backend needs nothing; only the system's weights
        rc = main(["run", "--systems", "gtcrn", "--metrics", "t_weights", "--name", "a",
                   "--profile", "offline"])
        err = capsys.readouterr().err
        assert rc == 2 and "1 asset(s)" in err and "nisqa" not in err
    finally:
        METRICS.unregister("t_weights")
    assert not (paths.runs_dir() / "a").exists()      # stopped before any work


def test_unknown_system_and_unbuilt_set_are_clear(sets, capsys):
    assert main(["run", "--systems", "no_such_system", "--profile", "offline"]) == 2
    assert "unknown system 'no_such_system'" in capsys.readouterr().err
    assert main(["run", "--systems", "unprocessed", "--testsets", "sr", "--profile", "offline"]) == 2
    assert "test set 'sr' is not built" in capsys.readouterr().err


def test_process_pool_gives_the_same_scores(sets):
    a = _run("w1", ["unprocessed", "target"], ["si_snr"], testsets=["vb_pairs"], workers=1)
    b = _run("w2", ["unprocessed", "target"], ["si_snr"], testsets=["vb_pairs"], workers=2)
    assert a.restored == b.restored == 12 and a.scored == b.scored == 12

    def values(run):
        con = sqlite3.connect(Store.existing(run).path)
        return dict(((s, i), (sha, v)) for s, i, sha, v in con.execute(
            "SELECT io.system, io.item_id, o.sha256, sc.value FROM item_outputs io JOIN outputs o "
            "ON o.system_key=io.system_key AND o.input_sha256=io.input_sha256 "
            "JOIN scores sc ON sc.output_sha256=o.sha256 WHERE sc.metric='si_snr'"))
    va, vb = values("w1"), values("w2")
    assert len(va) == 12 and va.keys() == vb.keys()
    for k in va:
        assert va[k][1] == pytest.approx(vb[k][1], abs=1e-3), k


class CountedHalf(rs.HalfGain):
    """t_half that logs every construction: the runner keys outputs without building systems."""
    info = dataclasses.replace(rs.HalfGain.info, name="t_counted")

    def __init__(self, device="cpu", config=None):
        super().__init__(device, config)
        rs._log_call("construct t_counted", 1)


def test_systems_are_built_only_where_they_restore(sets, plugins):
    from benchmark.run import jobs
    from systems.base import SYSTEMS, system_key
    SYSTEMS.register(CountedHalf)
    jobs._SYSTEMS.clear()
    try:
        first = _run("built", ["t_counted"], ["t_rms"], testsets=["vb_pairs"])
        built = [c for c in _calls(plugins) if c.startswith("construct")]
        assert first.restored == 6 and built == ["construct t_counted 1"]   # the job's one instance
        jobs._SYSTEMS.clear()
        again = _run("built", ["t_counted"], ["t_rms"], testsets=["vb_pairs"])
        assert again.restored == 0 and [c for c in _calls(plugins) if c.startswith("construct")] == built
        store = Store.existing("built")
        keys = {r.system_key for r in store.item_outputs()}
        store.close()
        assert keys == {system_key(CountedHalf.info, {})} == {CountedHalf().cache_key()}
    finally:
        SYSTEMS.unregister("t_counted")
        jobs._SYSTEMS.clear()


class KeyedHalf(rs.HalfGain):
    """t_half whose outputs depend on a local file the config names, as a MaskSR checkpoint's
    EMA-or-live weights do: `keyed_info` tells the version from the file without loading."""
    info = dataclasses.replace(rs.HalfGain.info, name="t_keyed")

    @classmethod
    def keyed_info(cls, config):
        from pathlib import Path
        return dataclasses.replace(cls.info, version="1+" + Path(config["weights"]).read_text())


def test_outputs_are_keyed_and_stored_with_the_keyed_info(sets, plugins, tmp_path):
    import json

    from benchmark.run import jobs
    from systems.base import SYSTEMS, system_key
    SYSTEMS.register(KeyedHalf)
    jobs._SYSTEMS.clear()
    weights = tmp_path / "weights"
    config = {"weights": str(weights)}

    def run():
        cfg = RunConfig(name="keyed", systems=[SystemSpec("t_keyed", config)], metrics=["t_rms"],
                        profile="offline", testsets=["vb_pairs"])
        summary = Runner(cfg).run(argv=["test"])
        store = Store.existing("keyed")
        row = store.conn.execute("SELECT key, info FROM systems WHERE name='t_keyed'").fetchone()
        keys = {r.system_key for r in store.item_outputs()}
        store.close()
        return summary.restored, row[0], json.loads(row[1])["version"], keys
    try:
        weights.write_text("model")
        restored, key, version, keys = run()
        assert (restored, version) == (6, "1+model")
        assert keys == {key} == {system_key(KeyedHalf.keyed_info(config), config)}
        assert key != system_key(KeyedHalf.info, config)            # not the class info's key
        assert run()[0] == 0                                         # the same file: cached
        weights.write_text("ema")                                    # other weights: new outputs
        restored, key2, version, keys = run()
        assert (restored, version) == (6, "1+ema") and key2 != key and keys == {key2}
    finally:
        SYSTEMS.unregister("t_keyed")
        jobs._SYSTEMS.clear()
