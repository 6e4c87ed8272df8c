import os
import subprocess
import sys

import pytest

from benchmark.cli import build_parser, main

SUBCOMMANDS = ["assets", "compare", "metrics", "report", "run", "runtime", "score", "systems", "testsets", "train"]


def test_every_subcommand_has_real_help(capsys):
    parser = build_parser()
    names = set(parser._subparsers._group_actions[0].choices)
    assert set(SUBCOMMANDS) <= names
    for name in names:
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert f"python -m benchmark {name}" in out and len(out.splitlines()) >= 4, name


def test_top_level_help_runs_as_module():
    r = subprocess.run([sys.executable, "-m", "benchmark", "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for name in SUBCOMMANDS:
        assert name in r.stdout
    assert "BENCHMARK_CORPORA" in r.stdout


def test_user_errors_are_one_line_not_tracebacks(isolated_env):
    env = {**os.environ}
    r = subprocess.run([sys.executable, "-m", "benchmark", "assets", "fetch", "no_such_asset"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "unknown asset 'no_such_asset'" in r.stdout
    assert "Traceback" not in r.stderr
