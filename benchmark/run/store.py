"""The results store of one run: an SQLite database (WAL) in `$BENCHMARK_DATA/runs/<run>/`.

Outputs are keyed by (system key, input sha256) and scores by (metric key, output sha256,
reference key), so a re-run finds finished work and does none of it again. Only the runner's
main process writes; every finished item is one transaction, so a run killed at any moment
loses at most the items in flight and never leaves a half-written row.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.core.errors import BenchmarkError, TransientIOError, UnsafePathError
from benchmark.core.hashing import FileStamp
from benchmark.core.paths import runs_dir

SCHEMA_VERSION = 2            # 2: metric label + specs, score links (item_scores), builds
STORE_NAME = "store.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS invocations(
    id INTEGER PRIMARY KEY AUTOINCREMENT, started REAL NOT NULL, finished REAL,
    argv TEXT NOT NULL, config TEXT NOT NULL, provenance TEXT NOT NULL,
    restored INTEGER NOT NULL DEFAULT 0, scored INTEGER NOT NULL DEFAULT 0,
    cached_outputs INTEGER NOT NULL DEFAULT 0, cached_scores INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'running');
CREATE TABLE IF NOT EXISTS testsets(
    name TEXT PRIMARY KEY, folder TEXT NOT NULL, info TEXT NOT NULL,
    checksums_sha256 TEXT, n_items INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS items(
    testset TEXT NOT NULL, item_id TEXT NOT NULL, manifest TEXT NOT NULL,
    degraded_sha256 TEXT NOT NULL, target_sha256 TEXT, build TEXT NOT NULL DEFAULT '',
    PRIMARY KEY(testset, item_id));
CREATE TABLE IF NOT EXISTS systems(
    name TEXT PRIMARY KEY, key TEXT NOT NULL, info TEXT NOT NULL, config TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS metrics(
    key TEXT PRIMARY KEY, name TEXT NOT NULL, backend TEXT NOT NULL,
    backend_version TEXT NOT NULL, info TEXT NOT NULL, label TEXT NOT NULL DEFAULT '',
    specs TEXT NOT NULL DEFAULT '[]');
CREATE TABLE IF NOT EXISTS outputs(
    system_key TEXT NOT NULL, input_sha256 TEXT NOT NULL, system TEXT NOT NULL,
    path TEXT, sha256 TEXT, rate INTEGER, seconds REAL, audio_seconds REAL, device TEXT,
    error TEXT, invocation INTEGER, created REAL NOT NULL,
    PRIMARY KEY(system_key, input_sha256));
CREATE TABLE IF NOT EXISTS item_outputs(
    system TEXT NOT NULL, testset TEXT NOT NULL, item_id TEXT NOT NULL,
    system_key TEXT NOT NULL, input_sha256 TEXT NOT NULL, build TEXT NOT NULL DEFAULT '',
    PRIMARY KEY(system, testset, item_id));
CREATE TABLE IF NOT EXISTS item_scores(
    metric_key TEXT NOT NULL, system TEXT NOT NULL, testset TEXT NOT NULL, item_id TEXT NOT NULL,
    output_sha256 TEXT NOT NULL, reference_key TEXT NOT NULL, build TEXT NOT NULL DEFAULT '',
    PRIMARY KEY(metric_key, system, testset, item_id));
CREATE TABLE IF NOT EXISTS scores(
    metric_key TEXT NOT NULL, output_sha256 TEXT NOT NULL, reference_key TEXT NOT NULL,
    metric TEXT NOT NULL, backend TEXT NOT NULL, backend_version TEXT NOT NULL,
    rate INTEGER, column_name TEXT NOT NULL, value REAL, error TEXT, aux TEXT,
    invocation INTEGER, created REAL NOT NULL,
    PRIMARY KEY(metric_key, output_sha256, reference_key, column_name));
CREATE TABLE IF NOT EXISTS set_files(
    testset TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY(testset, path));
CREATE TABLE IF NOT EXISTS runtime(
    system TEXT NOT NULL, length REAL NOT NULL, repeat INTEGER NOT NULL, seconds REAL NOT NULL,
    device TEXT NOT NULL, system_key TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY(system_key, device, length, repeat));
"""


def reference_key(needs_reference: bool, needs_transcript: bool,
                  target_sha256: str | None, transcript: str | None) -> str:
    """What a score depends on besides the output: the reference audio and/or the transcript."""
    parts = []
    if needs_reference:
        parts.append(f"ref:{target_sha256}")
    if needs_transcript:
        parts.append(f"txt:{transcript}")
    if not parts:
        return ""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class InvocationRow:
    """One `run`/`runtime` invocation of the run: its argv, config and provenance parsed."""
    id: int
    started: float
    finished: float | None
    argv: tuple[str, ...]
    config: dict[str, Any]
    provenance: dict[str, Any]
    restored: int
    scored: int
    cached_outputs: int
    cached_scores: int
    status: str                  # running | finished | interrupted | failed ...


@dataclass(frozen=True)
class OutputRow:
    """One restoration, keyed by (system key, input sha256): what `put_output` writes and `output`
    reads."""
    system_key: str
    input_sha256: str
    system: str
    path: str | None
    sha256: str | None
    rate: int | None
    seconds: float | None
    audio_seconds: float | None
    device: str
    error: str | None


@dataclass(frozen=True)
class ScoreRow:
    """One column of one stored score, keyed by content (metric key, output sha256, reference key),
    so items with the same output share it: what `put_scores` writes and `scores` reads (aux: the
    metric's per-item statistics, on the first column only)."""
    metric_key: str
    output_sha256: str
    reference_key: str
    metric: str
    backend: str
    backend_version: str
    rate: int | None
    column: str
    value: float | None
    error: str | None
    aux: dict[str, Any] | None = None


@dataclass(frozen=True)
class ScoreLink:
    """One item's output scored by one metric: where its score rows are."""
    metric_key: str
    system: str
    testset: str
    item_id: str
    output_sha256: str
    reference_key: str
    build: str


@dataclass(frozen=True)
class ItemScoreRow:
    """One column of one item's score. `Store.item_scores` joins it from the score links (metric:
    the metric's name; subset empty); the report reads it with `metric` the run's label for the
    metric and `subset` from the item's manifest (benchmark.report.results.load), and `score`
    summarizes file scores as such rows (item_id: the file)."""
    testset: str
    subset: str
    item_id: str
    system: str
    metric: str
    column: str
    value: float | None
    error: str | None
    backend: str
    backend_version: str
    rate: int | None
    aux: dict[str, Any] = field(default_factory=dict)
    metric_key: str = ""
    build: str = ""


@dataclass(frozen=True)
class TestSetRow:
    """One test set as the run loaded it (`checksums_sha256`: its build fingerprint)."""
    name: str
    folder: str
    info: dict[str, Any]
    checksums_sha256: str | None
    n_items: int


@dataclass(frozen=True)
class ItemRow:
    """One item of a set's current build, its manifest parsed."""
    testset: str
    item_id: str
    manifest: dict[str, Any]
    degraded_sha256: str
    target_sha256: str | None
    build: str


@dataclass(frozen=True)
class SystemRow:
    name: str
    key: str
    info: dict[str, Any]
    config: dict[str, Any]


@dataclass(frozen=True)
class MetricRow:
    """One planned metric as recorded: its cache key, backend version, report label and specs."""
    key: str
    name: str
    backend: str
    backend_version: str
    info: dict[str, Any]
    label: str
    specs: tuple[str, ...]


@dataclass(frozen=True)
class ItemOutputRow:
    """One (system, set, item) with its output row joined (`Store.item_outputs`)."""
    system: str
    testset: str
    item_id: str
    build: str
    system_key: str
    input_sha256: str
    path: str | None
    sha256: str | None
    rate: int | None
    seconds: float | None
    audio_seconds: float | None
    device: str | None
    error: str | None
    invocation: int | None
    created: float


@dataclass(frozen=True)
class RuntimeRow:
    """One timed call of the runtime protocol (001 Table 2): `length` seconds of audio, repeat N."""
    system: str
    system_key: str
    device: str
    length: float
    repeat: int
    seconds: float
    created: float


RUN_NAME_MAX = 100
_RUN_NAME = re.compile(rf"[A-Za-z0-9._-]{{1,{RUN_NAME_MAX}}}")


def validate_run_name(name: object) -> str:
    """A run name as `run`/`report`/`merge` accept it: 1-100 of A-Z a-z 0-9 . _ -, not starting
    with '.' (so never '..', a hidden folder or a path); else UnsafePathError."""
    if not isinstance(name, str) or not _RUN_NAME.fullmatch(name) or name.startswith("."):
        raise UnsafePathError(f"run name {name!r} is not allowed: use 1 to {RUN_NAME_MAX} characters "
                              "from A-Z a-z 0-9 . _ - (not starting with '.'); a run name is a "
                              "folder name, never a path")
    return name


def run_folder(run: str) -> Path:
    """`runs/<run>`; `run` is a validated name, or one with internal sub-folders made of validated
    parts (shards: `<run>/shards/K-of-N`)."""
    for part in str(run).split("/"):
        validate_run_name(part)
    return runs_dir() / run


def _store_failure(path: Path, exc: sqlite3.Error) -> BenchmarkError | None:
    """SQLite's full-disk / I/O errors as one clear message (the transaction was rolled back);
    a damaged or unwritable store as one message saying what to do."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if code is not None else None
    text = str(exc)
    if code == sqlite3.SQLITE_FULL or "database or disk is full" in text:
        what = "SQLITE_FULL (database or disk is full)"
    elif primary == sqlite3.SQLITE_IOERR or "disk I/O error" in text:
        what = f"SQLITE_IOERR ({text}: a write failed, e.g. a file-size limit or a failing disk)"
    elif primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or "malformed" in text \
            or "not a database" in text:
        return BenchmarkError(f"run store {path} is damaged (SQLite: {text}): it was truncated, "
                              "overwritten or is not a results store. Nothing was changed. Move it away "
                              f"to start the run afresh (mv {path} {path}.damaged; the outputs are "
                              "restored again) or put back a copy")
    elif primary in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM) \
            or "readonly" in text or "unable to open" in text:
        return BenchmarkError(f"run store {path} cannot be written (SQLite: {text}): the run folder "
                              f"{path.parent}, the store or its -wal/-shm files are read-only (or on a "
                              "read-only file system). Nothing was changed. Make them writable "
                              "(chmod u+w) or use another --data folder")
    else:
        return None
    return TransientIOError(f"store {path}: {what}. The last transaction was rolled back: the store "
                            "is intact and keeps every item finished before it. Free space (or fix "
                            "the device) and re-run the same command to continue.")


def _add_column(c: sqlite3.Connection, table: str, column: str, decl: str) -> None:
    if column not in {r[1] for r in c.execute(f"PRAGMA table_info({table})")}:
        c.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")


def _migrate_1(c: sqlite3.Connection) -> None:
    """Schema 1 -> 2 (a run folder written before the metric plan and build identities): metric
    rows get their report label (the papers' backend of a metric bare, others `name:backend`),
    items and their output links the build of their set (its CHECKSUMS sha256 as stored), and the
    score links are made once from the stored rows (the last time a reference key is recomputed)."""
    for table, column, decl in (("items", "build", "TEXT NOT NULL DEFAULT ''"),
                                ("item_outputs", "build", "TEXT NOT NULL DEFAULT ''"),
                                ("metrics", "label", "TEXT NOT NULL DEFAULT ''"),
                                ("metrics", "specs", "TEXT NOT NULL DEFAULT '[]'")):
        _add_column(c, table, column, decl)
    c.execute("UPDATE items SET build = COALESCE((SELECT checksums_sha256 FROM testsets t "
              "WHERE t.name = items.testset), '')")
    c.execute("UPDATE item_outputs SET build = COALESCE((SELECT build FROM items i WHERE "
              "i.testset = item_outputs.testset AND i.item_id = item_outputs.item_id), '')")
    metrics = [dict(r) | {"info": json.loads(r["info"])} for r in c.execute("SELECT * FROM metrics")]
    for m in metrics:
        mine = [o for o in metrics if o["name"] == m["name"]]
        primary = next((o for o in mine if o["backend"] == o["info"].get("paper_backend")), mine[0])
        label = m["name"] if m["backend"] == primary["backend"] else f"{m['name']}:{m['backend']}"
        c.execute("UPDATE metrics SET label=?, specs=? WHERE key=?", (label, json.dumps([label]), m["key"]))
    scored = {(r[0], r[1], r[2]) for r in c.execute(
        "SELECT DISTINCT metric_key, output_sha256, reference_key FROM scores")}
    rows = c.execute("SELECT io.system, io.testset, io.item_id, o.sha256, i.target_sha256, i.manifest, "
                     "i.build FROM item_outputs io JOIN outputs o ON o.system_key = io.system_key AND "
                     "o.input_sha256 = io.input_sha256 JOIN items i ON i.testset = io.testset AND "
                     "i.item_id = io.item_id WHERE o.sha256 IS NOT NULL").fetchall()
    links = []
    for m in metrics:
        for system, testset, item_id, sha, target, manifest, build in rows:
            rkey = reference_key(m["info"]["needs_reference"], m["info"]["needs_transcript"], target,
                                 json.loads(manifest).get("transcript"))
            if (m["key"], sha, rkey) in scored:
                links.append((m["key"], system, testset, item_id, sha, rkey, build))
    c.executemany("INSERT OR REPLACE INTO item_scores VALUES(?,?,?,?,?,?,?)", links)


MIGRATIONS = {1: _migrate_1}       # schema N -> N + 1, applied in order when a store is opened


class Store:
    """One run's database. Use `Store.open(run)` (creates) or `Store.existing(run)` (reads)."""

    def __init__(self, path: Path):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except PermissionError as exc:
            raise BenchmarkError(f"cannot create the run folder {path.parent}: {exc.strerror}. "
                                 "Nothing was done; use a writable --data folder") from exc
        self.conn = sqlite3.connect(str(path), timeout=60, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        try:
            self._prepare()
        except sqlite3.Error as exc:
            self.conn.close()
            failure = _store_failure(path, exc)
            if failure is None:
                raise
            raise failure from exc
        except BaseException:
            self.conn.close()
            raise

    def _prepare(self) -> None:
        path = self.path
        self.conn.execute("PRAGMA journal_mode=WAL")
        # a truncated or overwritten store can open and fail later, mid-run: look at every page
        # once (quick_check: structure, not index contents; ~10 ms per MB)
        problems = [r[0] for r in self.conn.execute("PRAGMA quick_check(3)").fetchall()]
        if problems != ["ok"]:
            raise sqlite3.DatabaseError(f"database disk image is malformed ({'; '.join(problems)})")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)
        row = self.conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None:
            with self.transaction() as c:
                c.execute("INSERT OR IGNORE INTO meta VALUES('schema', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) in MIGRATIONS:
            with self.transaction() as c:     # all steps or none: a failed migration changes nothing
                for version in range(int(row[0]), SCHEMA_VERSION):
                    MIGRATIONS[version](c)
                c.execute("UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION),))
        elif int(row[0]) != SCHEMA_VERSION:
            raise BenchmarkError(f"{path}: store schema {row[0]} was written by a newer version of the "
                                 f"harness (this one reads schema {SCHEMA_VERSION} and migrates older "
                                 "ones); upgrade the harness, or use a new --name for the run")

    @classmethod
    def open(cls, run: str) -> Store:
        return cls(run_folder(run) / STORE_NAME)

    @classmethod
    def existing(cls, run: str) -> Store:
        path = run_folder(run) / STORE_NAME
        if not path.exists():
            known = sorted(p.name for p in runs_dir().glob("*") if (p / STORE_NAME).exists())
            raise BenchmarkError(f"no run '{run}': {path} does not exist. Known runs under "
                                 f"{runs_dir()}: {', '.join(known) or '(none)'}")
        return cls(path)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                if self.conn.in_transaction:     # SQLITE_FULL may already have rolled back
                    self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            failure = _store_failure(self.path, exc)
            if failure is None:
                raise
            raise failure from exc

    # --- invocations ---------------------------------------------------------------------------
    def begin_invocation(self, argv: list[str], config: dict, provenance: dict) -> int:
        with self.transaction() as c:
            cur = c.execute("INSERT INTO invocations(started, argv, config, provenance) VALUES(?,?,?,?)",
                            (time.time(), json.dumps(argv), json.dumps(config, sort_keys=True),
                             json.dumps(provenance, sort_keys=True, default=str)))
            return int(cur.lastrowid)

    def count_work(self, invocation: int, *, restored: int = 0, scored: int = 0,
                   cached_outputs: int = 0, cached_scores: int = 0) -> None:
        with self.transaction() as c:
            c.execute("UPDATE invocations SET restored=restored+?, scored=scored+?, "
                      "cached_outputs=cached_outputs+?, cached_scores=cached_scores+? WHERE id=?",
                      (restored, scored, cached_outputs, cached_scores, invocation))

    def mark_interrupted(self) -> int:
        """Invocations still 'running' become 'interrupted'. Call it holding the run's lock (no
        other invocation is alive then): they were killed (kill -9, power loss, OOM)."""
        with self.transaction() as c:
            return c.execute("UPDATE invocations SET status='interrupted' WHERE status='running'"
                             ).rowcount

    def end_invocation(self, invocation: int, status: str = "finished") -> None:
        with self.transaction() as c:
            c.execute("UPDATE invocations SET finished=?, status=? WHERE id=?",
                      (time.time(), status, invocation))

    def invocations(self) -> list[InvocationRow]:
        return [InvocationRow(r["id"], r["started"], r["finished"], tuple(json.loads(r["argv"])),
                              json.loads(r["config"]), json.loads(r["provenance"]), r["restored"],
                              r["scored"], r["cached_outputs"], r["cached_scores"], r["status"])
                for r in self.conn.execute("SELECT * FROM invocations ORDER BY id")]

    # --- test sets, items, systems, metrics --------------------------------------------------------
    def put_testset(self, name: str, folder: str, info: dict, build: str,
                    items: Iterable[tuple[str, str, str, str | None]]) -> None:
        """items: (item_id, manifest json, degraded sha256, target sha256) of one build (its
        fingerprint: the CHECKSUMS sha256). The items of other builds of the set are forgotten:
        their outputs and scores stay cached by content, but no report counts them."""
        items = list(items)
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO testsets VALUES(?,?,?,?,?)",
                      (name, folder, json.dumps(info, sort_keys=True), build, len(items)))
            c.execute("DELETE FROM items WHERE testset=? AND build IS NOT ?", (name, build))
            c.executemany("INSERT OR REPLACE INTO items VALUES(?,?,?,?,?,?)",
                          [(name, i, m, d, t, build) for i, m, d, t in items])

    def put_system(self, name: str, key: str, info: dict, config: dict) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO systems VALUES(?,?,?,?)",
                      (name, key, json.dumps(info, sort_keys=True, default=str),
                       json.dumps(config, sort_keys=True, default=str)))

    def put_metric(self, key: str, name: str, backend: str, version: str, info: dict, label: str,
                   specs: Iterable[str]) -> None:
        """One planned metric (benchmark.run.plan.MetricPlan): the report's label and the specs
        that chose it are recorded with it."""
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO metrics VALUES(?,?,?,?,?,?,?)",
                      (key, name, backend, version, json.dumps(info, sort_keys=True, default=str),
                       label, json.dumps(list(specs))))

    def testsets(self) -> list[TestSetRow]:
        return [TestSetRow(r["name"], r["folder"], json.loads(r["info"]), r["checksums_sha256"],
                           r["n_items"])
                for r in self.conn.execute("SELECT * FROM testsets ORDER BY name")]

    def items(self, testset: str | None = None) -> list[ItemRow]:
        q, args = "SELECT * FROM items", ()
        if testset:
            q, args = q + " WHERE testset=?", (testset,)
        return [ItemRow(r["testset"], r["item_id"], json.loads(r["manifest"]), r["degraded_sha256"],
                        r["target_sha256"], r["build"])
                for r in self.conn.execute(q + " ORDER BY testset, item_id", args)]

    def set_files(self, testset: str) -> dict[str, FileStamp]:
        """rel path -> stamp (benchmark.core.hashing) of the set's files when they last matched."""
        return {r[0]: FileStamp(*r[1:]) for r in self.conn.execute(
            "SELECT path, size, mtime_ns, inode, sha256 FROM set_files WHERE testset=?", (testset,))}

    def put_set_files(self, testset: str, stats: dict[str, FileStamp]) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM set_files WHERE testset=?", (testset,))
            c.executemany("INSERT INTO set_files VALUES(?,?,?,?,?,?)",
                          [(testset, rel, f.size, f.mtime_ns, f.inode, f.sha256) for rel, f in stats.items()])

    def systems(self) -> list[SystemRow]:
        return [SystemRow(r["name"], r["key"], json.loads(r["info"]), json.loads(r["config"]))
                for r in self.conn.execute("SELECT * FROM systems ORDER BY name")]

    def metrics(self) -> list[MetricRow]:
        return [MetricRow(r["key"], r["name"], r["backend"], r["backend_version"], json.loads(r["info"]),
                          r["label"], tuple(json.loads(r["specs"])))
                for r in self.conn.execute("SELECT * FROM metrics ORDER BY name")]

    # --- outputs -----------------------------------------------------------------------------------
    def output(self, system_key: str, input_sha256: str) -> OutputRow | None:
        r = self.conn.execute("SELECT system_key, input_sha256, system, path, sha256, rate, seconds, "
                              "audio_seconds, device, error FROM outputs WHERE system_key=? AND "
                              "input_sha256=?", (system_key, input_sha256)).fetchone()
        return OutputRow(*r) if r else None

    def output_keys(self, system_key: str) -> dict[str, str | None]:
        """input sha256 -> error (None when the output is good) for one system key."""
        return {r[0]: r[1] for r in self.conn.execute(
            "SELECT input_sha256, error FROM outputs WHERE system_key=?", (system_key,))}

    def link_outputs(self, links: Iterable[tuple[str, str, str, str, str, str]]) -> None:
        """(system, testset, item_id, system_key, input_sha256, build) rows, for cached outputs."""
        with self.transaction() as c:
            c.executemany("INSERT OR REPLACE INTO item_outputs VALUES(?,?,?,?,?,?)", list(links))

    def put_output(self, row: OutputRow, links: list[tuple[str, str, str, str]], invocation: int) -> None:
        """One finished restoration (+ the items it belongs to: (system, testset, item_id, build))."""
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO outputs VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                      (row.system_key, row.input_sha256, row.system, row.path, row.sha256, row.rate,
                       row.seconds, row.audio_seconds, row.device, row.error, invocation, time.time()))
            c.executemany("INSERT OR REPLACE INTO item_outputs VALUES(?,?,?,?,?,?)",
                          [(s, t, i, row.system_key, row.input_sha256, b) for s, t, i, b in links])

    def item_outputs(self) -> list[ItemOutputRow]:
        """Every (system, testset, item) with its output row joined."""
        q = ("SELECT io.system, io.testset, io.item_id, io.build, o.system_key, o.input_sha256, o.path, "
             "o.sha256, o.rate, o.seconds, o.audio_seconds, o.device, o.error, o.invocation, o.created "
             "FROM item_outputs io JOIN outputs o "
             "ON o.system_key=io.system_key AND o.input_sha256=io.input_sha256 "
             "ORDER BY io.system, io.testset, io.item_id")
        return [ItemOutputRow(*r) for r in self.conn.execute(q)]

    # --- scores ------------------------------------------------------------------------------------
    def score_keys(self, metric_key: str) -> set[tuple[str, str]]:
        return {(r[0], r[1]) for r in self.conn.execute(
            "SELECT DISTINCT output_sha256, reference_key FROM scores WHERE metric_key=?",
            (metric_key,))}

    def link_scores(self, links: Iterable[ScoreLink]) -> None:
        """Which stored score (metric key, output sha256, reference key) each item's output has: the
        runner links every item it plans a metric for, so the report joins instead of recomputing
        reference keys."""
        with self.transaction() as c:
            c.executemany("INSERT OR REPLACE INTO item_scores VALUES(?,?,?,?,?,?,?)",
                          [(x.metric_key, x.system, x.testset, x.item_id, x.output_sha256,
                            x.reference_key, x.build) for x in links])

    def item_scores(self) -> list[ItemScoreRow]:
        """Every linked (metric, system, set, item) with its score rows, one row per column."""
        q = ("SELECT l.testset, '', l.item_id, l.system, s.metric, s.column_name, s.value, s.error, "
             "s.backend, s.backend_version, s.rate, s.aux, l.metric_key, l.build FROM item_scores l "
             "JOIN scores s ON s.metric_key = l.metric_key AND s.output_sha256 = l.output_sha256 AND "
             "s.reference_key = l.reference_key ORDER BY l.metric_key, l.system, l.testset, l.item_id")
        return [ItemScoreRow(*r[:11], json.loads(r[11]) if r[11] else {}, *r[12:])
                for r in self.conn.execute(q)]

    def put_scores(self, rows: list[ScoreRow], invocation: int) -> None:
        """All columns of one scored item, in one transaction."""
        now = time.time()
        with self.transaction() as c:
            c.executemany("INSERT OR REPLACE INTO scores VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                          [(r.metric_key, r.output_sha256, r.reference_key, r.metric, r.backend,
                            r.backend_version, r.rate, r.column, r.value, r.error,
                            json.dumps(r.aux, sort_keys=True, default=str) if r.aux else None,
                            invocation, now) for r in rows])

    def scores(self, metric_key: str | None = None) -> list[ScoreRow]:
        q, args = ("SELECT metric_key, output_sha256, reference_key, metric, backend, backend_version, "
                   "rate, column_name, value, error, aux FROM scores"), ()
        if metric_key:
            q, args = q + " WHERE metric_key=?", (metric_key,)
        return [ScoreRow(*r[:10], json.loads(r[10]) if r[10] else {}) for r in self.conn.execute(q, args)]

    # --- runtime protocol (001 Table 2) ---------------------------------------------------------------
    def put_runtime(self, system: str, system_key: str, device: str, length: float,
                    seconds: list[float]) -> None:
        now = time.time()
        with self.transaction() as c:
            c.executemany("INSERT OR REPLACE INTO runtime VALUES(?,?,?,?,?,?,?)",
                          [(system, length, i, s, device, system_key, now)
                           for i, s in enumerate(seconds)])

    def runtime_rows(self) -> list[RuntimeRow]:
        return [RuntimeRow(r["system"], r["system_key"], r["device"], r["length"], r["repeat"],
                           r["seconds"], r["created"])
                for r in self.conn.execute("SELECT * FROM runtime ORDER BY system, device, length, repeat")]

    def count(self, table: str) -> int:
        if table not in {"outputs", "item_outputs", "item_scores", "scores", "items", "runtime",
                         "invocations"}:
            raise ValueError(table)
        return int(self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
