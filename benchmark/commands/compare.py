"""`compare RUN_A RUN_B`: paired differences between two runs over the items both scored."""

from __future__ import annotations

import argparse

from benchmark.core.errors import BenchmarkError

NAME = "compare"
HELP = "paired comparison of two runs (e.g. two checkpoints of one model) over their shared items"
DESCRIPTION = """\
Reads the stores of two runs and compares, for every system both ran and every metric column both
scored with the same backend and version, run B against run A over the items both restored:
B - A with a 95 % CI (paired bootstrap over items), p (Wilcoxon signed-rank; corpus-level
columns such as WER: paired bootstrap over utterances) Holm-corrected within each test set, and
the smallest difference detectable at that N (α 0.05, power 0.8). Refused when the runs scored
different builds of a test set, or share no item. Markdown to stdout; --out also writes CSV/JSON.

example:
  python -m benchmark compare ckpt200k ckpt400k --systems masksr2_s
  python -m benchmark compare demo demo2 --metrics dnsmos wer --out diff.csv
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_a", metavar="RUN_A", help="the run compared against (A)")
    p.add_argument("run_b", metavar="RUN_B", help="the run compared (B); differences are B - A")
    p.add_argument("--systems", nargs="+", metavar="SYSTEM",
                   help="systems to compare (default: every system both runs ran)")
    p.add_argument("--metrics", nargs="+", metavar="METRIC",
                   help="metrics as the report names them, NAME or NAME:BACKEND (default: every "
                        "metric both runs scored with the same backend and version)")
    p.add_argument("--out", metavar="FILE.csv|FILE.json", help="also write the rows to this file")


def _load(run: str):
    from benchmark.report.results import load
    from benchmark.run.store import Store
    store = Store.existing(run)
    try:
        return load(store, run)
    finally:
        store.close()


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from benchmark.core.files import atomic_write
    from benchmark.report.paired import PAIR_FIELDS, compare_markdown, compare_runs
    from benchmark.run.store import validate_run_name

    for name in (args.run_a, args.run_b):
        validate_run_name(name)            # a name, never a path
    out = Path(args.out) if args.out else None
    if out is not None:                    # checked before any work
        if out.suffix.lower() not in (".csv", ".json"):
            raise BenchmarkError(f"--out {out}: the file name must end in .csv or .json")
        if not out.parent.is_dir():
            raise BenchmarkError(f"--out {out}: folder {out.parent} does not exist")
    if args.run_a == args.run_b:
        raise BenchmarkError(f"compare needs two different runs, got '{args.run_a}' twice")
    result = compare_runs(_load(args.run_a), _load(args.run_b), args.systems, args.metrics)
    print(compare_markdown(result))
    if out is not None:
        if out.suffix.lower() == ".json":
            import json
            atomic_write(out, json.dumps(result.to_dict(), indent=2) + "\n")
        else:
            from benchmark.core.files import write_csv
            write_csv(out, list(PAIR_FIELDS), [p.to_dict() for p in result.pairs])
        print(f"\nwritten: {out}")
    return 0
