"""A run scores exactly the bytes of one test-set build (issue 27 item 1), reproduced with the real
CLI as the audit did: a set rebuilt with another seed and the run resumed, a degraded file changed
during a run, two equal-length degraded files swapped by hand, and a rebuild during a run."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from benchmark.cli import main
from benchmark.core import paths
from benchmark.run import runner as run_runner
from benchmark.run.store import Store

RUN = ["run", "--testsets", "sr", "--metrics", "t_snr", "--profile", "offline", "--name", "b"]


def _build(corpora, name: str, *extra: str) -> None:
    assert main(["--corpora", str(corpora), "testsets", "build", name, "--workers", "1", *extra]) == 0


def _summary(name: str = "b") -> dict:
    return json.loads((paths.reports_dir() / name / "summary.json").read_text())


def _report(name: str = "b") -> str:
    return (paths.reports_dir() / name / "report.md").read_text()


def _scores(name: str = "b") -> list[dict]:
    import csv
    with open(paths.reports_dir() / name / "scores.csv", newline="") as f:
        return list(csv.DictReader(f))


def _build_id(testset: str) -> str:
    return hashlib.sha256((paths.testsets_dir() / testset / "CHECKSUMS").read_bytes()).hexdigest()


def _cells(line: str) -> list[str]:
    """A Markdown table row's cells, stripped."""
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _errors(name: str = "b") -> list[str]:
    """The report's item-error table rows (stage | system | set | item | error)."""
    md = _report(name)
    return [line for line in md.split("Item errors:", 1)[1].splitlines()
            if line.startswith("|") and _cells(line)[0].startswith(("restore", "score "))]


def test_a_set_rebuilt_with_another_seed_starts_afresh_and_nothing_is_mixed(
        isolated_env, corpora, plugins, capsys):
    _build(corpora, "vctk_gsr", "--items", "3")
    args = ["run", "--systems", "unprocessed", "t_half", "--testsets", "vctk_gsr", "--metrics", "t_snr",
            "--profile", "offline", "--name", "b"]
    assert main(args) == 0
    first = _build_id("vctk_gsr")
    old_ids = {json.loads(line)["id"] for line in
               (paths.testsets_dir() / "vctk_gsr" / "manifest.jsonl").read_text().splitlines()}
    _build(corpora, "vctk_gsr", "--items", "3", "--seed", "7")         # other items, other bytes
    new_ids = {json.loads(line)["id"] for line in
               (paths.testsets_dir() / "vctk_gsr" / "manifest.jsonl").read_text().splitlines()}
    assert new_ids != old_ids and _build_id("vctk_gsr") != first
    assert main(args) == 0                                              # the run resumed
    md = _report()
    assert f"## Test set `vctk_gsr` (3 items, build `{_build_id('vctk_gsr')[:12]}`)" in md
    assert "output(s) of earlier builds of this set are stored but not counted" in md
    # the audit's "6 items for nsnet2 (3 stale + 3 new), 3 for unprocessed": now 3 and 3
    lines = md.splitlines()
    first = lines.index(next(line for line in lines if _cells(line)[:2] == ["System", "N"]))
    table = lines[first + 2:lines.index("", first)]
    rows = [_cells(line)[:2] for line in table if "(paper)" not in line]
    assert sorted(rows) == [["t_half", "3"], ["unprocessed", "3"]]
    assert {r["item_id"] for r in _scores()} == new_ids    # no stale item in the per-item scores
    assert len([r for r in _scores() if r["system"] == "t_half"]) == 3
    store = Store.existing("b")
    try:
        assert {r.build for r in store.items()} == {_build_id("vctk_gsr")}
    finally:
        store.close()


def test_a_degraded_file_changed_during_a_run_is_an_item_error_and_never_cached(
        isolated_env, corpora, plugins, monkeypatch, capsys):
    _build(corpora, "sr", "--items", "1")
    folder = paths.testsets_dir() / "sr"
    victim = folder / "degraded" / "2kHz" / sorted(os.listdir(folder / "degraded" / "2kHz"))[0]
    good = victim.read_bytes()
    other = (folder / "target" / "2kHz" / victim.name).read_bytes()   # same length, other audio
    real = run_runner.Runner.load_sets

    def then_change(self, names, store):      # the file changes after the start check, before it is read
        sets = real(self, names, store)
        victim.write_bytes(other)
        return sets
    monkeypatch.setattr(run_runner.Runner, "load_sets", then_change)
    assert main(["run", "--systems", "t_half", *RUN[1:]]) == 0
    out = capsys.readouterr().out
    assert "1 new item errors" in out
    errors = _errors()
    assert len(errors) == 1 and "2kHz" in errors[0] and "differs from the set" in errors[0]
    assert "CHECKSUMS" in errors[0]
    store = Store.existing("b")
    try:
        key = store.systems()[0].key
        want = hashlib.sha256(good).hexdigest()
        assert want not in store.output_keys(key)         # no output cached under the build's hash
        assert not [s for s in store.item_scores() if s.item_id.startswith("2kHz") and s.value is not None]
    finally:
        store.close()
    # the file put back: the same command redoes that item (no --retry-errors needed)
    monkeypatch.setattr(run_runner.Runner, "load_sets", real)
    victim.write_bytes(good)
    assert main(["run", "--systems", "t_half", *RUN[1:]]) == 0
    assert "1 outputs restored (4 cached)" in capsys.readouterr().out
    assert _summary()["item_errors"] == 0


def test_a_reference_changed_during_a_run_is_a_score_error_redone_next_run(
        isolated_env, corpora, plugins, monkeypatch, capsys):
    _build(corpora, "sr", "--items", "1")
    ref = paths.testsets_dir() / "sr" / "target" / "16kHz"
    [name] = os.listdir(ref)
    good = (ref / name).read_bytes()
    real = run_runner.Runner.load_sets

    def then_change(self, names, store):
        sets = real(self, names, store)
        (ref / name).write_bytes((paths.testsets_dir() / "sr" / "degraded" / "16kHz" / name).read_bytes())
        return sets
    monkeypatch.setattr(run_runner.Runner, "load_sets", then_change)
    assert main(["run", "--systems", "unprocessed", *RUN[1:]]) == 0
    [err] = _errors()
    assert _cells(err)[:3] == ["score t_snr", "unprocessed", "sr"] and _cells(err)[3].startswith("16kHz")
    [row] = [r for r in _scores() if r["error"]]
    assert row["item_id"].startswith("16kHz/") and f"target/16kHz/{name}: sha256 " in row["error"]
    assert "differs from the set's CHECKSUMS" in row["error"] and not row["value"]
    monkeypatch.setattr(run_runner.Runner, "load_sets", real)
    (ref / name).write_bytes(good)
    capsys.readouterr()
    assert main(["run", "--systems", "unprocessed", *RUN[1:]]) == 0
    assert "1 items scored (4 cached)" in capsys.readouterr().out     # no --retry-errors needed
    assert _summary()["item_errors"] == 0


def test_two_equal_length_degraded_files_swapped_by_hand_are_item_errors_naming_them(
        isolated_env, corpora, plugins, capsys):
    _build(corpora, "sr", "--items", "1")
    assert main(["run", "--systems", "unprocessed", *RUN[1:]]) == 0      # records the files' stats
    deg = paths.testsets_dir() / "sr" / "degraded"
    a, b = deg / "2kHz", deg / "8kHz"
    [name] = os.listdir(a)
    assert (a / name).stat().st_size == (b / name).stat().st_size   # equal length, as in the audit
    tmp = deg / "swap.tmp"
    os.replace(a / name, tmp)
    os.replace(b / name, a / name)
    os.replace(tmp, b / name)
    capsys.readouterr()
    assert main(["run", "--systems", "unprocessed", "t_half", *RUN[1:]]) == 0
    out = capsys.readouterr().out
    assert "note: test set 'sr': 2 item(s) whose files differ from its CHECKSUMS are item errors" in out
    assert f"degraded/2kHz/{name}" in out and f"degraded/8kHz/{name}" in out
    assert "2 new item errors" in out
    errors = _errors()
    assert len(errors) == 2 and {_cells(e)[3].split("/")[0] for e in errors} == {"2kHz", "8kHz"}
    assert all("t_half" in e for e in errors)          # unprocessed: the build's bytes, restored before
    # t_half's three good items are scored, the swapped two are restore errors without a score
    scored = {r["item_id"].split("/")[0] for r in _scores() if r["system"] == "t_half" and r["value"]}
    assert scored == {"4kHz", "16kHz", "24kHz"}


def test_a_file_changed_in_place_with_its_mtime_kept_is_caught_by_verify(
        isolated_env, corpora, plugins, capsys):
    _build(corpora, "sr", "--items", "1")
    assert main(["run", "--systems", "unprocessed", *RUN[1:]]) == 0
    target = paths.testsets_dir() / "sr" / "target" / "4kHz"
    [name] = os.listdir(target)
    f = target / name
    st = f.stat()
    data = bytearray(f.read_bytes())
    data[-2:] = bytes([data[-2] ^ 0x40, data[-1]])           # one sample changed, same size
    with open(f, "r+b") as fh:                               # in place: same inode
        fh.write(data)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))         # and the old mtime: the fast path is blind
    capsys.readouterr()
    assert main(["run", "--systems", "unprocessed", *RUN[1:]]) == 0
    assert "differ from its CHECKSUMS" not in capsys.readouterr().out     # cached: nothing read
    assert main(["run", "--systems", "unprocessed", *RUN[1:], "--verify"]) == 0
    out = capsys.readouterr().out
    assert "1 item(s) whose files differ from its CHECKSUMS" in out and f"target/4kHz/{name}" in out


def test_a_rebuild_during_a_run_is_redone_by_the_next_run_not_a_permanent_error(
        isolated_env, corpora, plugins, monkeypatch, capsys):
    _build(corpora, "sr", "--items", "1")
    real = run_runner.Runner.load_sets

    def rebuild_after_check(self, names, store):
        sets = real(self, names, store)
        _build(corpora, "sr", "--items", "1", "--seed", "3")     # another build lands mid-run
        return sets
    monkeypatch.setattr(run_runner.Runner, "load_sets", rebuild_after_check)
    assert main(["run", "--systems", "t_half", *RUN[1:]]) == 0
    out = capsys.readouterr().out
    changed = len(_errors())
    assert changed >= 1 and f"{changed} new item errors" in out
    monkeypatch.setattr(run_runner.Runner, "load_sets", real)
    assert main(["run", "--systems", "t_half", *RUN[1:]]) == 0     # no --retry-errors
    assert _summary()["item_errors"] == 0
    assert f"build `{_build_id('sr')[:12]}`" in _report()


@pytest.fixture
def plugins(monkeypatch, tmp_path):
    import runner_support as rs
    rs.register()
    yield
    rs.unregister()
