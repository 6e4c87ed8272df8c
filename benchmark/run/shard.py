"""Sharding for schedulers without Ray (Slurm job arrays): `run --shard K/N` works on a
deterministic slice of the items into its own store, `merge RUN` merges the shard stores.

The slice is by content: the distinct degraded-input sha256s of all selected sets are sorted and
dealt round-robin, so shard K of N gets every N-th input (balanced to one item), items with the
same input always land in the same shard (no duplicate work, no conflicting duplicates from
non-deterministic systems), and every shard computes the same slices from the same arguments.
Shard K of N of run RUN lives in `runs/RUN/shards/K-of-N/` (store, outputs) and the merge writes
`runs/RUN/store.sqlite`, so a later unsharded `run --name RUN` reuses everything merged.

The merge is atomic (it builds the merged store in a temporary file and renames it), idempotent
(rows are keyed; shard invocations are recorded once) and refuses conflicting duplicates: a key
present in two stores with different content (another output sha256, another score, another test
set build or system version) stops it with one message naming the rows, and nothing is changed.
"""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.core.errors import BenchmarkError
from benchmark.run.runner import LoadedSet, RunConfig, Runner
from benchmark.run.store import STORE_NAME, Store, run_folder

# table -> (key columns, content columns that must agree between stores)
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "testsets": (("name",), ("checksums_sha256", "info")),
    "items": (("testset", "item_id"), ("degraded_sha256", "target_sha256", "manifest", "build")),
    "systems": (("name",), ("key", "config")),
    "metrics": (("key",), ("name", "backend", "backend_version")),
    "outputs": (("system_key", "input_sha256"), ("sha256", "error")),
    "item_outputs": (("system", "testset", "item_id"), ("system_key", "input_sha256", "build")),
    "item_scores": (("metric_key", "system", "testset", "item_id"),
                    ("output_sha256", "reference_key", "build")),
    "scores": (("metric_key", "output_sha256", "reference_key", "column_name"), ("value", "error")),
    "runtime": (("system_key", "device", "length", "repeat"), ("seconds",)),
}
REL_TOL = 1e-6      # scores recomputed on another machine may differ in the last float digits


@dataclass(frozen=True)
class Shard:
    index: int      # 1-based K
    count: int      # N

    @property
    def label(self) -> str:
        return f"{self.index}-of-{self.count}"


def parse_shard(text: str) -> Shard:
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not m or not 1 <= int(m[1]) <= int(m[2]):
        raise BenchmarkError(f"--shard expects K/N with 1 <= K <= N (e.g. 3/8), got '{text}'")
    return Shard(int(m[1]), int(m[2]))


def shard_run_name(run: str, shard: Shard) -> str:
    return f"{run}/shards/{shard.label}"


def select_shard(sets: list[LoadedSet], shard: Shard) -> list[LoadedSet]:
    """Keep the items whose degraded input falls in this shard (see the module docstring)."""
    shas = sorted({ls.shas[it.id][0] for ls in sets for it in ls.items})
    mine = {s for i, s in enumerate(shas) if i % shard.count == shard.index - 1}
    return [LoadedSet(ls.name, ls.folder, [it for it in ls.items if ls.shas[it.id][0] in mine],
                      {k: v for k, v in ls.shas.items() if v[0] in mine},
                      {k: v for k, v in ls.problems.items() if ls.shas[k][0] in mine}, ls.build,
                      {k for k in ls.changed if ls.shas[k][0] in mine}) for ls in sets]


class ShardRunner(Runner):
    """The runner on one shard's slice; `cfg.name` is the shard's run, `shard_run_name(run, shard)`."""

    def __init__(self, cfg: RunConfig, shard: Shard, executor=None):
        if cfg.name != shard_run_name(cfg.name.split("/")[0], shard):
            raise ValueError(f"run name {cfg.name!r} is not shard {shard.label}'s")
        super().__init__(cfg, executor)
        self.shard = shard

    def load_sets(self, names: list[str], store) -> list[LoadedSet]:
        return select_shard(super().load_sets(names, store), self.shard)


# --- merge ---------------------------------------------------------------------------------------
@dataclass
class MergeSummary:
    run: str
    shards: list[str]
    missing: list[str] = field(default_factory=list)
    added: dict[str, int] = field(default_factory=dict)   # table -> new rows in the merged store


def find_shards(run: str) -> tuple[list[tuple[Shard, Path]], list[str]]:
    """(shard, store path) for every shard store of `run`, and the labels of missing shards."""
    root = run_folder(run) / "shards"
    found: list[tuple[Shard, Path]] = []
    for p in sorted(root.glob(f"*/{STORE_NAME}")):
        m = re.fullmatch(r"(\d+)-of-(\d+)", p.parent.name)
        if m:
            found.append((Shard(int(m[1]), int(m[2])), p))
    if not found:
        raise BenchmarkError(f"run '{run}' has no shard stores under {root}/K-of-N/{STORE_NAME}. "
                             f"Run the shards first: python -m benchmark run ... --name {run} --shard K/N")
    counts = sorted({s.count for s, _ in found})
    if len(counts) > 1:
        raise BenchmarkError(f"run '{run}' has shards of different splits ({', '.join(f'N={c}' for c in counts)}) "
                             f"under {root}; merge needs one N: remove the folders of the other split")
    n = counts[0]
    have = {s.index for s, _ in found}
    found.sort(key=lambda t: t[0].index)
    return found, [f"{k}-of-{n}" for k in range(1, n + 1) if k not in have]


def _columns(conn: sqlite3.Connection, schema: str, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA {schema}.table_info({table})")]


def _differs(col: str) -> str:
    if col == "value" or col == "seconds":
        return (f"NOT (m.{col} IS s.{col} OR (m.{col} IS NOT NULL AND s.{col} IS NOT NULL AND "
                f"abs(m.{col} - s.{col}) <= {REL_TOL} * max(1.0, abs(m.{col}))))")
    return f"m.{col} IS NOT s.{col}"


def _conflicts(conn: sqlite3.Connection, table: str) -> list[str]:
    keys, content = TABLES[table]
    on = " AND ".join(f"m.{k} = s.{k}" for k in keys)
    where = " OR ".join(_differs(c) for c in content)
    sel = ", ".join([f"m.{k}" for k in keys] + [f"m.{c}, s.{c}" for c in content])
    rows = conn.execute(f"SELECT {sel} FROM main.{table} m JOIN shard.{table} s ON {on} "
                        f"WHERE {where} LIMIT 5").fetchall()
    out = []
    for r in rows:
        key = ", ".join(f"{k}={str(v)[:24]}" for k, v in zip(keys, r[:len(keys)], strict=True))
        vals = r[len(keys):]
        diff = "; ".join(f"{c}: {str(vals[2 * i])[:40]!s} vs {str(vals[2 * i + 1])[:40]!s}"
                         for i, c in enumerate(content) if vals[2 * i] != vals[2 * i + 1])
        out.append(f"  {table} ({key}): {diff}")
    return out


def _merge_one(conn: sqlite3.Connection, shard: Shard, path: Path, added: dict[str, int]) -> None:
    conn.execute("ATTACH DATABASE ? AS shard", (str(path),))
    try:
        ver = conn.execute("SELECT value FROM shard.meta WHERE key='schema'").fetchone()
        mine = conn.execute("SELECT value FROM main.meta WHERE key='schema'").fetchone()
        if ver is None or ver[0] != mine[0]:
            raise BenchmarkError(f"{path}: store schema {ver and ver[0]}, the merged store has {mine[0]}")
        conflicts = [c for t in TABLES for c in _conflicts(conn, t)]
        if conflicts:
            raise BenchmarkError(f"shard {shard.label} ({path}) conflicts with rows already merged "
                                 f"(same key, different content); nothing was merged:\n"
                                 + "\n".join(conflicts[:20]))
        conn.execute("BEGIN IMMEDIATE")
        # invocations: copied once each (meta remembers which), ids remapped for outputs/scores
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS invmap(shard_id INTEGER PRIMARY KEY, main_id INTEGER)")
        conn.execute("DELETE FROM invmap")
        cols = [c for c in _columns(conn, "shard", "invocations") if c != "id"]
        for row in conn.execute(f"SELECT id, {', '.join(cols)} FROM shard.invocations ORDER BY id").fetchall():
            tag = f"merged:{shard.label}:{row[0]}:{row[1]!r}"
            got = conn.execute("SELECT value FROM main.meta WHERE key=?", (tag,)).fetchone()
            if got is None:
                cur = conn.execute(f"INSERT INTO main.invocations({', '.join(cols)}) "
                                   f"VALUES({', '.join('?' * len(cols))})", row[1:])
                conn.execute("INSERT INTO main.meta VALUES(?, ?)", (tag, str(cur.lastrowid)))
                added["invocations"] = added.get("invocations", 0) + 1
                got = (cur.lastrowid,)
            conn.execute("INSERT INTO invmap VALUES(?, ?)", (row[0], int(got[0])))
        for table in TABLES:
            cols = _columns(conn, "main", table)
            sel = ", ".join("(SELECT main_id FROM invmap WHERE shard_id = s.invocation)"
                            if c == "invocation" else f"s.{c}" for c in cols)
            cur = conn.execute(f"INSERT OR IGNORE INTO main.{table}({', '.join(cols)}) "
                               f"SELECT {sel} FROM shard.{table} s")
            added[table] = added.get(table, 0) + max(cur.rowcount, 0)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.execute("DETACH DATABASE shard")


def merge_shards(run: str, partial: bool = False) -> MergeSummary:
    """Merge `runs/<run>/shards/*/store.sqlite` into `runs/<run>/store.sqlite` (atomically)."""
    found, missing = find_shards(run)
    if missing and not partial:
        raise BenchmarkError(f"run '{run}': shard(s) {', '.join(missing)} have no store yet; run them "
                             "first, or merge what is there with --partial")
    target = run_folder(run) / STORE_NAME
    tmp = target.with_name(STORE_NAME + ".merging")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    staging = Store(tmp)                      # creates the schema
    try:
        if target.exists():                   # start from what was merged (or run) before
            current = sqlite3.connect(str(target), timeout=60)
            try:
                current.backup(staging.conn)
            finally:
                current.close()
        summary = MergeSummary(run, [s.label for s, _ in found], missing)
        conn = sqlite3.connect(str(tmp), timeout=60, isolation_level=None)
        try:
            for shard, path in found:
                _merge_one(conn, shard, path, summary.added)
            conn.execute("UPDATE testsets SET n_items = (SELECT COUNT(*) FROM items "
                         "WHERE items.testset = testsets.name)")
        finally:
            conn.close()
    except BaseException:
        staging.close()
        for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            p.unlink(missing_ok=True)
        raise
    staging.close()                           # last connection: WAL checkpointed and removed
    for p in (Path(f"{target}-wal"), Path(f"{target}-shm")):
        p.unlink(missing_ok=True)             # the old store is closed everywhere: nothing pending
    os.replace(tmp, target)
    return summary
