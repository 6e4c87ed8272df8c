"""`run --shard K/N` + `merge`: two shards plus a merge equal one unsharded run (store and report),
merging again changes nothing, conflicting duplicates are refused with nothing changed."""

from __future__ import annotations

import re
import sqlite3

import pytest
import runner_support as rs

from benchmark.cli import main
from benchmark.core import paths
from benchmark.core.errors import BenchmarkError
from benchmark.run.shard import Shard, parse_shard
from benchmark.run.store import Store

ARGS = ["run", "--systems", "unprocessed", "target", "nsnet2_16k", "--metrics", "si_snr", "lsd",
        "--profile", "offline"]
TABLES = ("testsets", "items", "systems", "metrics", "outputs", "item_outputs", "scores", "invocations",
          "meta")


@pytest.fixture
def sets(isolated_env, corpora):
    root = paths.testsets_dir()
    return rs.make_vb_set(corpora, root), rs.make_vctk_set(corpora, root)


def results(run: str) -> dict:
    """What a report is made of, independent of where/when it was computed."""
    con = sqlite3.connect(Store.existing(run).path)
    out = {
        **rs.item_rows(con),
        "items": set(con.execute("SELECT testset, item_id, degraded_sha256 FROM items")),
        "testsets": set(con.execute("SELECT name, n_items, checksums_sha256 FROM testsets")),
    }
    con.close()
    return out


def dump(run: str) -> dict:
    con = sqlite3.connect(Store.existing(run).path)
    d = {t: sorted(map(tuple, con.execute(f"SELECT * FROM {t}"))) for t in TABLES}
    con.close()
    return d


def report_tables(run: str) -> str:
    text = (paths.reports_dir() / run / "report.md").read_text().replace(f"`{run}`", "`RUN`")
    text = text.split("\nInvocations:")[0]     # invocations (argv, counters) differ by design
    # so do the wall times the runner measured around each system call
    text = re.sub(r"## Runtime per item \(measured by the runner\).*?(?=\n## )", "", text, flags=re.S)
    # the git commit moves when someone commits while the test runs
    return "\n".join(line for line in text.splitlines() if not line.startswith("- git commit:"))


def test_parse_shard_is_strict():
    assert parse_shard("3/8") == Shard(3, 8) and parse_shard("1/1").label == "1-of-1"
    for bad in ("0/2", "3/2", "2", "a/b", ""):
        with pytest.raises(BenchmarkError, match="--shard expects K/N"):
            parse_shard(bad)


@pytest.mark.slow
def test_two_shards_plus_merge_equal_one_run(sets, capsys):
    assert main(ARGS + ["--name", "whole"]) == 0
    assert main(ARGS + ["--name", "sh", "--shard", "1/2"]) == 0
    assert main(["merge", "sh"]) == 2                      # shard 2 has not run yet
    assert "shard(s) 2-of-2 have no store yet" in capsys.readouterr().err
    assert main(ARGS + ["--name", "sh", "--shard", "2/2"]) == 0
    capsys.readouterr()

    # the slices are disjoint, balanced to one input, and cover every item
    parts = [results(f"sh/shards/{k}-of-2")["items"] for k in (1, 2)]
    assert not parts[0] & parts[1] and abs(len(parts[0]) - len(parts[1])) <= 1
    whole = results("whole")
    assert parts[0] | parts[1] == whole["items"] and len(whole["items"]) == 9

    assert main(["merge", "sh"]) == 0
    assert "merged 2 shard(s) of 'sh' (1-of-2, 2-of-2)" in capsys.readouterr().out
    merged = results("sh")
    assert merged["outputs"].keys() == whole["outputs"].keys() and len(merged["outputs"]) == 27
    assert merged["outputs"] == whole["outputs"]           # same output files, bit for bit
    assert merged["scores"].keys() == whole["scores"].keys() and len(whole["scores"]) == 54
    for k, v in whole["scores"].items():
        assert merged["scores"][k] == pytest.approx(v, rel=1e-6, abs=1e-9), k
    assert merged["testsets"] == whole["testsets"]      # n_items: the whole sets again
    assert {n: c for n, c, _ in merged["testsets"]} == {"vb_pairs": 6, "vctk_mini": 3}
    # measured (first item of each set): the oracle through the 44.1 kHz round trip is near
    # perfect; the 4 kHz band limit costs ~10 dB LSD, which a 16 kHz denoiser cannot restore
    first = {(s, t, m): v for (s, t, i, m, c), v in merged["scores"].items() if i.endswith("_000")}
    assert first[("target", "vb_pairs", "si_snr")] > 50 and first[("target", "vctk_mini", "si_snr")] > 50
    assert first[("target", "vctk_mini", "lsd")] < 1 < 10 < first[("unprocessed", "vctk_mini", "lsd")]
    assert first[("nsnet2_16k", "vctk_mini", "lsd")] > first[("unprocessed", "vctk_mini", "lsd")]
    assert report_tables("sh") == report_tables("whole")
    csv = sorted((paths.reports_dir() / "sh" / "scores.csv").read_text().splitlines())
    assert len(csv) == 55 and sorted((paths.reports_dir() / "whole" / "scores.csv").read_text()
                                     .splitlines()) == csv

    # merging again changes nothing, not even the invocations
    before = dump("sh")
    assert len(before["invocations"]) == 2
    assert main(["merge", "sh"]) == 0
    assert "nothing new" in capsys.readouterr().out
    assert dump("sh") == before
    assert report_tables("sh") == report_tables("whole")

    # a resumed unsharded run under the merged name finds everything done
    assert main(ARGS + ["--name", "sh"]) == 0
    assert "0 outputs restored (27 cached), 0 items scored (54 cached)" in capsys.readouterr().out


def test_conflicting_duplicates_are_refused_and_nothing_changes(sets, capsys):
    args = ARGS[:3] + ["--metrics", "si_snr", "--profile", "offline", "--testsets", "vb_pairs",
                       "--name", "c"]
    for k in (1, 2):
        assert main(args + ["--shard", f"{k}/2"]) == 0
    assert main(["merge", "c"]) == 0
    before = dump("c")
    shard2 = paths.runs_dir() / "c" / "shards" / "2-of-2" / "store.sqlite"
    con = sqlite3.connect(shard2)
    con.execute("UPDATE scores SET value = value + 0.5")   # e.g. another metric build on that node
    con.commit()
    con.close()
    capsys.readouterr()
    assert main(["merge", "c"]) == 2
    err = capsys.readouterr().err
    assert "shard 2-of-2" in err and "conflicts with rows already merged" in err
    assert "scores (metric_key=" in err and "value:" in err and "Traceback" not in err
    assert dump("c") == before                             # atomic: the merged store is unchanged
    assert not list((paths.runs_dir() / "c").glob("*.merging*"))
