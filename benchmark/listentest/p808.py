"""Export to and import from the ITU-T P.808 crowdsourcing toolkit (microsoft/P.808, read at
commit 5b8c00a0654d836dbbd86cafab570fbab350f1ad), so the same test can run on a crowdsourcing
platform at scale.

Export (`listen-test export-p808 TEST --out DIR --base-url URL`) writes the input lists that
`src/master_script.py --method acr` takes, with the columns of `src/test_inputs/*.csv`:
- `rating_clips.csv`: `rating_clips` (one URL per rating stimulus);
- `gold_clips.csv`: `gold_clips`, `gold_clips_ans`;
- `trapping_clips.csv`: `trapping_clips`, `trapping_ans`;
- `training_clips.csv`: `training_clips` (every condition of the first item: the range from the
  Unprocessed anchor to the Target, as docs/prep_acr.md asks of training clips);
- `clips/`: the stimulus WAVs to upload under URL (the file name is the clip's key);
- `answers.csv`: the ratings stored so far, in the layout of an Amazon Mechanical Turk batch
  result that `src/result_parser.py` reads (one row per finished listener session: `HITId`,
  `WorkerId`, `AssignmentId`, `AssignmentStatus`, `Input.gold_clips`, `Input.gold_clips_ans`,
  `Input.TP`, `Input.TP_ANS`, and per question k `Answer.qk_url`, `Answer.qk`,
  `Answer.audio_n_play_qk`, `Answer.audio_n_finish_qk`; the parser lowercases the names).
  Listener tokens are never written: WorkerId is a pseudonym (sha256 of the token). Unfinished
  sessions are left out (the platform only returns submitted assignments).

Import (`listen-test import-p808 TEST FILE.csv`) reads either such a batch-result file (columns
`Answer.q<k>_url` / `Answer.q<k>`, case-insensitive; `Rejected` assignments skipped) or the
parser's `*_votes_per_worker*.csv` (`HITId`, `workerid`, `file`, `vote`). Every clip URL's file
name must be one of the test's stimuli. Each assignment becomes listener
`p808:<WorkerId>/<AssignmentId>` (votes_per_worker: `p808:<workerid>/<HITId>`), source 'p808',
and is screened by the same rule as web listeners on the controls it contains.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
import shutil
from pathlib import Path

from benchmark.core.errors import BenchmarkError
from benchmark.core.files import write_csv
from benchmark.listentest.analysis import rows as rating_rows
from benchmark.listentest.db import RatingsDB
from benchmark.listentest.design import TestDesign, load_design

QUESTION = re.compile(r"^answer\.q(\d+)_url$")


def pseudonym(token: str) -> str:
    return "L" + hashlib.sha256(token.encode()).hexdigest()[:12]


def _url(base: str, sid: str) -> str:
    return f"{base.rstrip('/')}/{sid}.wav" if base else f"{sid}.wav"


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    write_csv(path, header, [dict(zip(header, r, strict=True)) for r in rows])


def export(folder: Path, out: Path, base_url: str = "") -> dict[str, Path]:
    design = load_design(folder)
    out.mkdir(parents=True, exist_ok=True)
    st = design.stimuli
    files = {}
    files["rating_clips"] = out / "rating_clips.csv"
    _write_csv(files["rating_clips"], ["rating_clips"],
               [[_url(base_url, s.id)] for s in st if s.kind == "rating"])
    files["gold_clips"] = out / "gold_clips.csv"
    _write_csv(files["gold_clips"], ["gold_clips", "gold_clips_ans"],
               [[_url(base_url, s.id), s.answer] for s in st if s.kind == "gold"])
    files["trapping_clips"] = out / "trapping_clips.csv"
    _write_csv(files["trapping_clips"], ["trapping_clips", "trapping_ans"],
               [[_url(base_url, s.id), s.answer] for s in st if s.kind == "trap"])
    first = design.items[0] if design.items else None
    files["training_clips"] = out / "training_clips.csv"
    _write_csv(files["training_clips"], ["training_clips"],
               [[_url(base_url, s.id)] for s in st if s.kind == "rating" and s.item == first])
    clips = out / "clips"
    clips.mkdir(exist_ok=True)
    for s in st:
        shutil.copyfile(folder / s.file, clips / f"{s.id}.wav")
    files["answers"] = out / "answers.csv"
    _write_answers(design, folder, files["answers"], base_url)
    return files


def _write_answers(design: TestDesign, folder: Path, path: Path, base_url: str) -> int:
    db = RatingsDB(folder)
    try:
        rows = rating_rows(design, db)
        plays = {(r.listener, r.trial): r.plays for r in db.ratings()}
        known = db.listeners()
    finally:
        db.close()
    sessions: dict[str, list] = {}
    for r in rows:
        sessions.setdefault(r.listener, []).append(r)
    n_max = max((len(v) for v in sessions.values()), default=0)
    header = ["HITId", "WorkerId", "AssignmentId", "AssignmentStatus", "Input.gold_clips",
              "Input.gold_clips_ans", "Input.TP", "Input.TP_ANS"]
    for k in range(1, n_max + 1):
        header += [f"Answer.q{k}_url", f"Answer.q{k}", f"Answer.audio_n_play_q{k}",
                   f"Answer.audio_n_finish_q{k}"]
    def worker_of(lst: str) -> str:
        return lst.split(":", 1)[1].split("/")[0] if known.get(lst, ("",))[0] == "p808" else pseudonym(lst)

    out = []
    for lst, rs in sorted(sessions.items(), key=lambda kv: (worker_of(kv[0]), kv[0])):
        _, n_trials = known.get(lst, ("?", len(rs)))
        if len(rs) < n_trials:
            continue                       # unfinished: no submitted assignment
        rs = sorted(rs, key=lambda r: r.trial)
        gold = next((r for r in rs if r.kind == "gold"), None)
        trap = next((r for r in rs if r.kind == "trap"), None)
        worker = worker_of(lst)
        row = [f"{design.name}-{worker}", worker, f"{design.name}-{worker}-a", "Submitted",
               _url(base_url, gold.stimulus) if gold else "", gold.answer if gold else "",
               _url(base_url, trap.stimulus) if trap else "", trap.answer if trap else ""]
        for r in rs:
            row += [_url(base_url, r.stimulus), r.score, plays.get((lst, r.trial), 0), 1]
        row += [""] * (len(header) - len(row))
        out.append(row)
    _write_csv(path, header, out)
    return len(out)


def _stimulus_of(design: TestDesign, url: str) -> str:
    name = url.strip().rsplit("/", 1)[-1].split("?", 1)[0]
    sid = name[:-4] if name.endswith(".wav") else name
    if sid not in design.by_id():
        raise BenchmarkError(f"clip '{url}' is not a stimulus of listening test '{design.name}' "
                             "(export the clips with `listen-test export-p808` and keep their file names)")
    return sid


def _integer(text: str, low: int, high: int, where: str, problems: list[str]) -> int | None:
    """A vote (1..5) or a play count as P.808 writes them: an integer, "4.0" allowed; anything
    else (4.9, nan, inf, abc, out of range) is recorded in `problems`, never rounded or cut."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value != int(value) or not low <= value <= high:
        problems.append(f"{where} = {text!r} (expected an integer {low} to {high})")
        return None
    return int(value)


def _read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, row with lower-case column names) of a CSV: UTF-8 (a BOM allowed), every row
    with as many fields as the header; else one BenchmarkError."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows = []
            for row in reader:
                if None in row:
                    raise BenchmarkError(f"{path}:{reader.line_num}: {len(reader.fieldnames or []) + len(row[None])} "
                                         f"fields, the header has {len(reader.fieldnames or [])}; nothing "
                                         "was imported")
                rows.append((reader.line_num, {(k or "").strip().lower(): (v or "").strip()
                                               for k, v in row.items()}))
            return rows
    except UnicodeDecodeError as exc:
        raise BenchmarkError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at byte "
                             f"{exc.start}); P.808 writes UTF-8: re-save it as UTF-8 (e.g. iconv -f "
                             "latin1 -t utf-8); nothing was imported") from None
    except csv.Error as exc:
        raise BenchmarkError(f"{path}: not a readable CSV ({exc}); nothing was imported") from exc
    except OSError as exc:
        raise BenchmarkError(f"cannot read P.808 answers {path}: {exc}") from exc


def import_answers(folder: Path, path: Path) -> tuple[int, int]:
    """Store the ratings of a P.808 answers file; returns (sessions, ratings) added. Every vote is
    checked before anything is stored: one bad cell imports nothing and names the cells."""
    from benchmark.listentest.server import MAX_PLAYS
    design = load_design(folder)
    rows = _read_rows(path)
    if not rows:
        raise BenchmarkError(f"{path}: no rows")
    cols = set(rows[0][1])
    sessions: dict[str, list[tuple[int, str, int, int]]] = {}
    problems: list[str] = []
    if any(QUESTION.match(c) for c in cols):
        qs = sorted(int(m.group(1)) for c in cols if (m := QUESTION.match(c)))
        for line, row in rows:
            if row.get("assignmentstatus", "").lower() == "rejected":
                continue
            lst = f"p808:{row.get('workerid', '?')}/{row.get('assignmentid') or row.get('hitid', '?')}"
            for trial, q in enumerate(qs):
                url, vote = row.get(f"answer.q{q}_url", ""), row.get(f"answer.q{q}", "")
                if not url or not vote:
                    continue
                plays = row.get(f"answer.audio_n_play_q{q}") or "0"
                v = _integer(vote, 1, 5, f"line {line}, Answer.q{q}", problems)
                k = _integer(plays, 0, MAX_PLAYS, f"line {line}, Answer.audio_n_play_q{q}", problems)
                if v is not None and k is not None:
                    sessions.setdefault(lst, []).append((trial, _stimulus_of(design, url), v, k))
    elif {"workerid", "file", "vote"} <= cols:
        for line, row in rows:
            lst = f"p808:{row['workerid']}/{row.get('hitid', '?')}"
            s = sessions.setdefault(lst, [])
            v = _integer(row["vote"], 1, 5, f"line {line}, vote", problems)
            if v is not None:
                s.append((len(s), _stimulus_of(design, row["file"]), v, 0))
    else:
        raise BenchmarkError(f"{path}: neither a P.808 batch result (Answer.q<k>_url columns) nor "
                             f"a votes_per_worker file (workerid, file, vote); found {sorted(cols)[:8]}")
    if problems:
        more = f" and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise BenchmarkError(f"{path}: {len(problems)} invalid values: {'; '.join(problems[:5])}{more}. "
                             "ACR votes are integers 1 to 5; nothing was imported")
    db = RatingsDB(folder)
    n = 0
    try:
        for lst, votes in sessions.items():
            db.ensure_listener(lst, "p808", len(votes))
            for trial, sid, vote, plays in votes:
                n += db.add(lst, trial, sid, vote, plays, source="p808")
    finally:
        db.close()
    return len(sessions), n
