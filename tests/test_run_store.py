"""The results store: schema, WAL, keyed upserts (no duplicates), schema-version guard."""

from __future__ import annotations

import sqlite3

import pytest

from benchmark.core.errors import BenchmarkError
from benchmark.run.store import OutputRow, ScoreRow, Store, reference_key


def test_store_is_wal_and_upserts_are_idempotent(isolated_env):
    store = Store.open("s1")
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    inv = store.begin_invocation(["run"], {"profile": "offline"}, {"git_commit": "x"})
    row = OutputRow("key1", "in1", "sys", "/o.wav", "out1", 16000, 0.5, 2.0, "cpu", None)
    for _ in range(3):   # a re-run writes the same keys again: still one row each
        store.put_output(row, [("sys", "set", "item1")], inv)
        store.put_scores([ScoreRow("m1", "out1", "", "m", "b", "1", 16000, "A", 1.5, None, {"n": 2}),
                          ScoreRow("m1", "out1", "", "m", "b", "1", 16000, "B", None, "bad", None)], inv)
    store.count_work(inv, restored=1, scored=2)
    store.end_invocation(inv)
    store.close()

    again = Store.existing("s1")
    assert again.count("outputs") == 1 and again.count("item_outputs") == 1
    assert again.count("scores") == 2
    assert again.output_keys("key1") == {"in1": None}
    assert again.score_keys("m1") == {("out1", "")}
    scores = {s["column_name"]: s for s in again.scores("m1")}
    assert scores["A"]["value"] == 1.5 and scores["A"]["aux"] == {"n": 2}
    assert scores["B"]["value"] is None and scores["B"]["error"] == "bad"
    inv_row = again.invocations()[0]
    assert (inv_row["restored"], inv_row["scored"], inv_row["status"]) == (1, 2, "finished")
    joined = again.item_outputs()
    assert joined[0]["item_id"] == "item1" and joined[0]["sha256"] == "out1"
    again.close()


def test_missing_run_and_schema_mismatch_are_clear_errors(isolated_env):
    with pytest.raises(BenchmarkError, match="no run 'nope'"):
        Store.existing("nope")
    store = Store.open("s2")
    store.close()
    con = sqlite3.connect(store.path)
    con.execute("UPDATE meta SET value='99' WHERE key='schema'")
    con.commit()
    con.close()
    with pytest.raises(BenchmarkError, match="schema 99"):
        Store.open("s2")


def test_reference_key_depends_only_on_what_the_metric_needs():
    assert reference_key(False, False, "a", "text") == ""
    assert reference_key(True, False, "a", "t1") == reference_key(True, False, "a", "t2")
    assert reference_key(True, False, "a", None) != reference_key(True, False, "b", None)
    assert reference_key(False, True, "a", "t1") != reference_key(False, True, "a", "t2")
