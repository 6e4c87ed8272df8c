"""The results store: schema, WAL, keyed upserts (no duplicates), typed rows read back as written,
schema-version guard."""

from __future__ import annotations

import sqlite3

import pytest

from benchmark.core.errors import BenchmarkError
from benchmark.run.store import (
    InvocationRow,
    ItemScoreRow,
    OutputRow,
    RuntimeRow,
    ScoreLink,
    ScoreRow,
    Store,
    reference_key,
)


def test_store_is_wal_and_upserts_are_idempotent(isolated_env):
    store = Store.open("s1")
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    inv = store.begin_invocation(["run"], {"profile": "offline"}, {"git_commit": "x"})
    row = OutputRow("key1", "in1", "sys", "/o.wav", "out1", 16000, 0.5, 2.0, "cpu", None)
    for _ in range(3):   # a re-run writes the same keys again: still one row each
        store.put_output(row, [("sys", "set", "item1", "build1")], inv)
        store.put_scores([ScoreRow("m1", "out1", "", "m", "b", "1", 16000, "A", 1.5, None, {"n": 2}),
                          ScoreRow("m1", "out1", "", "m", "b", "1", 16000, "B", None, "bad", None)], inv)
    store.count_work(inv, restored=1, scored=2)
    store.link_scores([ScoreLink("m1", "sys", "set", "item1", "out1", "", "build1")])
    store.put_runtime("sys", "key1", "cpu", 2.0, [0.25, 0.5])
    store.end_invocation(inv)
    store.close()

    again = Store.existing("s1")
    assert again.count("outputs") == 1 and again.count("item_outputs") == 1
    assert again.count("scores") == 2
    assert again.output_keys("key1") == {"in1": None}
    assert again.score_keys("m1") == {("out1", "")}
    scores = {s.column: s for s in again.scores("m1")}
    assert scores["A"].value == 1.5 and scores["A"].aux == {"n": 2}
    assert scores["B"].value is None and scores["B"].error == "bad" and scores["B"].aux == {}
    [inv_row] = again.invocations()
    assert isinstance(inv_row, InvocationRow) and inv_row.id == inv and inv_row.argv == ("run",)
    assert (inv_row.config, inv_row.provenance) == ({"profile": "offline"}, {"git_commit": "x"})
    assert (inv_row.restored, inv_row.scored, inv_row.status) == (1, 2, "finished")
    assert inv_row.finished >= inv_row.started
    assert again.output("key1", "in1") == row and again.output("key1", "other") is None
    assert scores["A"] == ScoreRow("m1", "out1", "", "m", "b", "1", 16000, "A", 1.5, None, {"n": 2})
    assert sorted(again.item_scores(), key=lambda r: r.column) == [
        ItemScoreRow("set", "", "item1", "sys", "m", c, v, e, "b", "1", 16000, aux, "m1", "build1")
        for c, v, e, aux in (("A", 1.5, None, {"n": 2}), ("B", None, "bad", {}))]
    runtime = again.runtime_rows()
    assert [(r.repeat, r.seconds) for r in runtime] == [(0, 0.25), (1, 0.5)]
    assert all(isinstance(r, RuntimeRow) and (r.system, r.system_key, r.device, r.length)
               == ("sys", "key1", "cpu", 2.0) for r in runtime)
    joined = again.item_outputs()
    assert joined[0].item_id == "item1" and joined[0].sha256 == "out1"
    assert joined[0].build == "build1"
    again.close()


V1_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE testsets(name TEXT PRIMARY KEY, folder TEXT NOT NULL, info TEXT NOT NULL,
    checksums_sha256 TEXT, n_items INTEGER NOT NULL);
CREATE TABLE items(testset TEXT NOT NULL, item_id TEXT NOT NULL, manifest TEXT NOT NULL,
    degraded_sha256 TEXT NOT NULL, target_sha256 TEXT, PRIMARY KEY(testset, item_id));
CREATE TABLE metrics(key TEXT PRIMARY KEY, name TEXT NOT NULL, backend TEXT NOT NULL,
    backend_version TEXT NOT NULL, info TEXT NOT NULL);
CREATE TABLE outputs(system_key TEXT NOT NULL, input_sha256 TEXT NOT NULL, system TEXT NOT NULL,
    path TEXT, sha256 TEXT, rate INTEGER, seconds REAL, audio_seconds REAL, device TEXT,
    error TEXT, invocation INTEGER, created REAL NOT NULL, PRIMARY KEY(system_key, input_sha256));
CREATE TABLE item_outputs(system TEXT NOT NULL, testset TEXT NOT NULL, item_id TEXT NOT NULL,
    system_key TEXT NOT NULL, input_sha256 TEXT NOT NULL, PRIMARY KEY(system, testset, item_id));
CREATE TABLE scores(metric_key TEXT NOT NULL, output_sha256 TEXT NOT NULL,
    reference_key TEXT NOT NULL, metric TEXT NOT NULL, backend TEXT NOT NULL,
    backend_version TEXT NOT NULL, rate INTEGER, column_name TEXT NOT NULL, value REAL, error TEXT,
    aux TEXT, invocation INTEGER, created REAL NOT NULL,
    PRIMARY KEY(metric_key, output_sha256, reference_key, column_name));
INSERT INTO meta VALUES('schema', '1');
"""


def test_a_schema_1_store_is_migrated_in_place(isolated_env):
    """A run folder written before score links and builds opens, and its report data is the same:
    labels as the old report named metrics, builds from the stored CHECKSUMS sha256, links made."""
    import json

    from benchmark.report.results import load
    from benchmark.run.store import run_folder
    path = run_folder("old") / "store.sqlite"
    path.parent.mkdir(parents=True)
    con = sqlite3.connect(path)
    con.executescript(V1_SCHEMA)
    info = {"needs_reference": True, "needs_transcript": False, "paper_backend": "b1",
            "columns": ["A"], "higher_is_better": True, "rate": 16000}
    con.execute("INSERT INTO testsets VALUES('set', '/x', '{}', 'sums1', 1)")
    con.execute("INSERT INTO items VALUES('set', 'i1', '{\"transcript\": null}', 'd1', 't1')")
    for key, backend in (("k1", "b1"), ("k2", "b2")):
        con.execute("INSERT INTO metrics VALUES(?, 'm', ?, 'v', ?)", (key, backend, json.dumps(info)))
        rkey = reference_key(True, False, "t1", None)
        con.execute("INSERT INTO scores VALUES(?, 'o1', ?, 'm', ?, 'v', 16000, 'A', ?, NULL, NULL, 1, 0)",
                    (key, rkey, backend, 1.0 if key == "k1" else 2.0))
    con.execute("INSERT INTO outputs VALUES('sk', 'd1', 'sys', '/o.wav', 'o1', 16000, 1, 1, 'cpu', NULL, 1, 0)")
    con.execute("INSERT INTO item_outputs VALUES('sys', 'set', 'i1', 'sk', 'd1')")
    con.execute("CREATE TABLE invocations(id INTEGER PRIMARY KEY AUTOINCREMENT, started REAL NOT NULL, "
                "finished REAL, argv TEXT NOT NULL, config TEXT NOT NULL, provenance TEXT NOT NULL, "
                "restored INTEGER NOT NULL DEFAULT 0, scored INTEGER NOT NULL DEFAULT 0, "
                "cached_outputs INTEGER NOT NULL DEFAULT 0, cached_scores INTEGER NOT NULL DEFAULT 0, "
                "status TEXT NOT NULL DEFAULT 'running')")
    con.execute("INSERT INTO invocations(started, argv, config, provenance, status) VALUES(0, '[]', ?, '{}', "
                "'finished')", (json.dumps({"systems": [{"name": "sys"}], "metrics": {"m:b1": "k1", "m:b2": "k2"}}),))
    con.commit()
    con.close()
    store = Store.existing("old")
    try:
        assert store.conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0] == "2"
        assert {m.label for m in store.metrics()} == {"m", "m:b2"}      # the papers' backend bare
        assert [(r.metric_key, r.build, r.value) for r in store.item_scores()] == [("k1", "sums1", 1.0),
                                                                                   ("k2", "sums1", 2.0)]
        data = load(store, "old")
    finally:
        store.close()
    assert {(r.metric, r.value) for r in data.records} == {("m", 1.0), ("m:b2", 2.0)}
    assert data.label_for("m", "b2") == "m:b2" and data.label_for("m", None) == "m"


def test_missing_run_and_schema_mismatch_are_clear_errors(isolated_env):
    with pytest.raises(BenchmarkError, match="no run 'nope'"):
        Store.existing("nope")
    store = Store.open("s2")
    store.close()
    con = sqlite3.connect(store.path)
    con.execute("UPDATE meta SET value='99' WHERE key='schema'")
    con.commit()
    con.close()
    with pytest.raises(BenchmarkError, match="schema 99 was written by a newer version"):
        Store.open("s2")


def test_reference_key_depends_only_on_what_the_metric_needs():
    assert reference_key(False, False, "a", "text") == ""
    assert reference_key(True, False, "a", "t1") == reference_key(True, False, "a", "t2")
    assert reference_key(True, False, "a", None) != reference_key(True, False, "b", None)
    assert reference_key(False, True, "a", "t1") != reference_key(False, True, "a", "t2")
