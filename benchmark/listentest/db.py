"""The ratings of one listening test: `ratings.sqlite` in the test folder.

One row per (listener, trial): the stimulus heard, the score 1..5, the time, how often it was
played. Every rating is its own transaction in WAL mode with synchronous=FULL, so a rating the
server acknowledged survives the server being killed at any moment (the kill -9 test).
A listener's trial k is position k of TestDesign.order(listener); the first trial without a
rating is where they resume. Ratings imported from a P.808 crowdsourcing run are stored with
the listener id "p808:<WorkerId>/<AssignmentId>" and source 'p808'.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from benchmark.core.errors import BenchmarkError

DB_NAME = "ratings.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS listeners(
    listener TEXT PRIMARY KEY, source TEXT NOT NULL, n_trials INTEGER NOT NULL,
    first_seen REAL NOT NULL);
CREATE TABLE IF NOT EXISTS ratings(
    listener TEXT NOT NULL, trial INTEGER NOT NULL, stimulus TEXT NOT NULL,
    score INTEGER NOT NULL CHECK(score BETWEEN 1 AND 5), time REAL NOT NULL,
    plays INTEGER NOT NULL DEFAULT 0, source TEXT NOT NULL DEFAULT 'web',
    PRIMARY KEY(listener, trial));
"""


@dataclass(frozen=True)
class Rating:
    listener: str
    trial: int
    stimulus: str
    score: int
    time: float
    plays: int
    source: str


class RatingsDB:
    def __init__(self, folder: Path):
        self.path = folder / DB_NAME
        self.con = sqlite3.connect(str(self.path), timeout=30, isolation_level=None,
                                   check_same_thread=False)
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("PRAGMA synchronous=FULL")
        self.con.executescript(SCHEMA)

    def close(self) -> None:
        self.con.close()

    def ensure_listener(self, listener: str, source: str, n_trials: int) -> None:
        self.con.execute("INSERT OR IGNORE INTO listeners VALUES (?, ?, ?, ?)",
                         (listener, source, n_trials, time.time()))

    def next_trial(self, listener: str, n_trials: int) -> int:
        """The first trial index without a rating (n_trials when the listener is done)."""
        done = {r[0] for r in self.con.execute("SELECT trial FROM ratings WHERE listener=?", (listener,))}
        return next((k for k in range(n_trials) if k not in done), n_trials)

    def add(self, listener: str, trial: int, stimulus: str, score: int, plays: int = 0,
            source: str = "web", when: float | None = None) -> bool:
        """Commit one rating; False when that trial was already rated (the first one stands)."""
        if not 1 <= int(score) <= 5:
            raise BenchmarkError(f"score {score} is not on the 1..5 scale")
        cur = self.con.execute(
            "INSERT OR IGNORE INTO ratings VALUES (?, ?, ?, ?, ?, ?, ?)",
            (listener, int(trial), stimulus, int(score), when or time.time(), int(plays), source))
        return cur.rowcount == 1

    def ratings(self) -> list[Rating]:
        return [Rating(*r) for r in self.con.execute(
            "SELECT listener, trial, stimulus, score, time, plays, source FROM ratings "
            "ORDER BY listener, trial")]

    def listeners(self) -> dict[str, tuple[str, int]]:
        return {r[0]: (r[1], r[2]) for r in self.con.execute(
            "SELECT listener, source, n_trials FROM listeners")}
