"""Export to / import from the ITU-T P.808 toolkit's CSV formats (microsoft/P.808 at 5b8c00a):
- the input lists have the columns of src/test_inputs/*.csv (rating_clips; gold_clips,
  gold_clips_ans; trapping_clips, trapping_ans; training_clips) and one URL per stimulus;
- the answers file holds one row per finished listener with the (lower-cased) keys that
  src/result_parser.py reads (hitid, workerid, assignmentid, assignmentstatus, input.gold_clips,
  input.gold_clips_ans, input.tp, input.tp_ans, answer.q<k>_url, answer.q<k>,
  answer.audio_n_finish_q<k>), and the parser's own trap and gold checks (check_tps,
  check_gold_question: the TP url found among the answer urls with exactly its answer; the gold
  within +-1) pass on it; no listener token is written;
- import into a fresh copy of the test gives the same ratings per listener, the same MOS and CI
  per condition, and exporting again writes a byte-identical answers file;
- a votes_per_worker file imports too; a clip that is not a stimulus is one clear error.
"""

from __future__ import annotations

import csv
import hashlib
import shutil

import pytest
import runner_support as rs
from listentest_support import TEST, fill, make_test

from benchmark.cli import main
from benchmark.core.errors import BenchmarkError
from benchmark.listentest import p808
from benchmark.listentest.analysis import analyse
from benchmark.listentest.db import RatingsDB
from benchmark.listentest.design import load_design

BASE = "https://clips.invalid/lt"
SCORES = {"Unprocessed": 2, "Target": 5, "t_half": 3}


@pytest.fixture
def plugins():
    rs.register()
    yield
    rs.unregister()


def _read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def _answer(design):
    def answer(lst, s):
        if s.kind in ("gold", "trap"):
            return s.answer
        k = design.listeners.index(lst)
        return SCORES[design.system_of(s.condition)] - (k + design.items.index(s.item)) % 2
    return answer


def test_export_import_round_trip(isolated_env, corpora, plugins, monkeypatch, tmp_path):
    folder, design = make_test(corpora, monkeypatch)
    L = design.listeners
    fill(folder, design, _answer(design), stop={L[2]: 5})
    out = tmp_path / "p808"
    assert main(["listen-test", "export-p808", TEST, "--out", str(out), "--base-url", BASE]) == 0

    kinds = {k: [s for s in design.stimuli if s.kind == k] for k in ("rating", "gold", "trap")}
    head, rows = _read(out / "rating_clips.csv")
    assert head == ["rating_clips"] and [r[0] for r in rows] == [f"{BASE}/{s.id}.wav" for s in kinds["rating"]]
    head, rows = _read(out / "gold_clips.csv")
    assert head == ["gold_clips", "gold_clips_ans"] and rows == [[f"{BASE}/{s.id}.wav", str(s.answer)] for s in kinds["gold"]]
    head, rows = _read(out / "trapping_clips.csv")
    assert head == ["trapping_clips", "trapping_ans"] and rows == [[f"{BASE}/{s.id}.wav", str(s.answer)] for s in kinds["trap"]]
    head, rows = _read(out / "training_clips.csv")
    assert head == ["training_clips"] and len(rows) == 3
    for s in design.stimuli:
        assert hashlib.sha256((out / "clips" / f"{s.id}.wav").read_bytes()).hexdigest() == s.sha256

    text = (out / "answers.csv").read_text()
    assert not any(tok in text for tok in L)                   # pseudonyms only
    with open(out / "answers.csv", newline="") as f:
        answers = [{k.strip().lower(): v for k, v in r.items()} for r in csv.DictReader(f)]
    assert len(answers) == 2                                   # L[2] is unfinished
    assert [r["workerid"] for r in answers] == sorted(p808.pseudonym(t) for t in L[:2])
    n_q = len(design.stimuli)
    for row in answers:
        for key in ("hitid", "assignmentid", "assignmentstatus", "input.gold_clips", "input.gold_clips_ans",
                    "input.tp", "input.tp_ans"):
            assert row[key], key
        qs = [f"q{k}" for k in range(1, n_q + 1)]
        assert all(row[f"answer.{q}_url"] and row[f"answer.{q}"] and int(row[f"answer.audio_n_finish_{q}"]) > 0 for q in qs)
        # result_parser.check_tps / check_gold_question, as they read the row:
        tp = [q for q in qs if row["input.tp"] in row[f"answer.{q}_url"]]
        assert len(tp) == 1 and int(row[f"answer.{tp[0]}"]) == int(float(row["input.tp_ans"]))
        gq = [q for q in qs if row["input.gold_clips"] in row[f"answer.{q}_url"]]
        assert len(gq) == 1 and abs(int(row[f"answer.{gq[0]}"]) - int(float(row["input.gold_clips_ans"]))) <= 1
        # Questions in the listener's own order.
        tok = next(t for t in L if p808.pseudonym(t) == row["workerid"])
        assert [row[f"answer.{q}_url"].rsplit("/", 1)[1][:-4] for q in qs] == design.order(tok)

    # Import into a fresh copy of the test (no ratings).
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shutil.copy(folder / "manifest.json", fresh / "manifest.json")
    shutil.copytree(folder / "stimuli", fresh / "stimuli")
    assert main(["listen-test", "import-p808", str(fresh), str(out / "answers.csv")]) == 0
    assert p808.import_answers(fresh, out / "answers.csv") == (2, 0)     # idempotent
    orig, back = RatingsDB(folder), RatingsDB(fresh)
    try:
        a, b = analyse(design, orig), analyse(load_design(fresh), back)
        mine = {(p808.pseudonym(r.listener), r.stimulus): r.score for r in orig.ratings() if r.listener in L[:2]}
        theirs = {(r.listener.split(":")[1].split("/")[0], r.stimulus): r.score for r in back.ratings()}
        plays = sorted((r.trial, r.plays) for r in back.ratings())
        assert plays == sorted((r.trial, r.plays) for r in orig.ratings() if r.listener in L[:2])
    finally:
        orig.close()
        back.close()
    assert mine == theirs and len(theirs) == 2 * n_q
    assert [(m.system, m.cell) for m in a.mos] == [(m.system, m.cell) for m in b.mos]
    assert len(a.kept) == len(b.kept) == 2 and all(x.startswith("p808:") for x in b.kept)
    again = tmp_path / "again"
    p808.export(fresh, again, BASE)
    assert (again / "answers.csv").read_bytes() == (out / "answers.csv").read_bytes()


def test_votes_per_worker_and_errors(isolated_env, corpora, plugins, monkeypatch, tmp_path, capsys):
    folder, design = make_test(corpora, monkeypatch)
    rating = [s for s in design.stimuli if s.kind == "rating"][:3]
    votes = tmp_path / "batch_votes_per_worker_.csv"
    with open(votes, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["HITId", "workerid", "file", "short_file_name", "vote"])
        for k, s in enumerate(rating):
            w.writerow(["H1", "W9", f"{BASE}/{s.id}.wav", f"{s.id}.wav", 1 + k])
    assert p808.import_answers(folder, votes) == (1, 3)
    db = RatingsDB(folder)
    assert [(r.listener, r.stimulus, r.score) for r in db.ratings()] == \
           [("p808:W9/H1", s.id, 1 + k) for k, s in enumerate(rating)]
    db.close()
    bad = tmp_path / "bad.csv"
    bad.write_text("HITId,workerid,file,vote\nH1,W1,https://clips.invalid/other.wav,3\n")
    with pytest.raises(BenchmarkError, match="is not a stimulus of listening test 'lt'"):
        p808.import_answers(folder, bad)
    assert main(["listen-test", "import-p808", TEST, str(bad)]) == 2
    assert "error: clip 'https://clips.invalid/other.wav' is not a stimulus" in capsys.readouterr().err
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(BenchmarkError, match="neither a P.808 batch result"):
        p808.import_answers(folder, other)


@pytest.mark.parametrize(("cell", "says"), [
    ("nan", "line 3, vote = 'nan' (expected an integer 1 to 5)"),
    ("inf", "line 3, vote = 'inf' (expected an integer 1 to 5)"),
    ("abc", "line 3, vote = 'abc' (expected an integer 1 to 5)"),
    ("4.9", "line 3, vote = '4.9' (expected an integer 1 to 5)"),     # was stored as 4
    ("0", "line 3, vote = '0' (expected an integer 1 to 5)"),
    ("3,extra", "3: 6 fields, the header has 5; nothing was imported"),
    ("caf\xe9", "not UTF-8 text (byte 0xe9 at byte"),
])
def test_bad_votes_import_nothing_with_one_message(isolated_env, corpora, plugins, monkeypatch, tmp_path,
                                                  capsys, cell, says):
    """The audit's bad P.808 CSVs through the real CLI: each is one message naming the cell, and
    no rating of the file is stored (the good first row neither)."""
    folder, design = make_test(corpora, monkeypatch)
    s1, s2 = [s for s in design.stimuli if s.kind == "rating"][:2]
    path = tmp_path / "votes.csv"
    def text(vote: str) -> str:
        return ("HITId,workerid,file,short_file_name,vote\n"
                f"H1,W9,{BASE}/{s1.id}.wav,{s1.id}.wav,4\n"
                f"H1,W9,{BASE}/{s2.id}.wav,{s2.id}.wav,{vote}\n")
    path.write_bytes(text(cell).encode("latin-1"))
    capsys.readouterr()
    assert main(["listen-test", "import-p808", TEST, str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}") and says in err and "Traceback" not in err, err
    db = RatingsDB(folder)
    assert db.ratings() == []
    db.close()
    path.write_bytes(text("4.0").encode())           # "4.0" is the integer 4
    assert main(["listen-test", "import-p808", TEST, str(path)]) == 0
    db = RatingsDB(folder)
    assert [r.score for r in db.ratings()] == [4, 4]
    db.close()
