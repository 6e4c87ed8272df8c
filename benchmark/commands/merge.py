"""`merge RUN`: merge the shard stores of a run (`run --shard K/N`) and write its report."""

from __future__ import annotations

import argparse

NAME = "merge"
HELP = "merge the shard stores of a run (run --shard K/N) and write the report"
DESCRIPTION = """\
Merges $BENCHMARK_DATA/runs/<RUN>/shards/K-of-N/store.sqlite (every shard K of one split N) into
$BENCHMARK_DATA/runs/<RUN>/store.sqlite and writes reports/<RUN>/report.md. Merging again adds
only what is new (idempotent); rows with the same key and different content in two stores stop
the merge with a message and nothing is changed.

example (Slurm job array, then one merge):
  sbatch --array=1-8 --wrap 'python -m benchmark run --systems nsnet2 --name full \\
      --shard $SLURM_ARRAY_TASK_ID/8'
  python -m benchmark merge full
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_name", metavar="RUN", help="run name (the --name given to the shards)")
    p.add_argument("--partial", action="store_true",
                   help="merge the shards that exist even if some have no store yet")


def run(args: argparse.Namespace) -> int:
    from benchmark.report.writer import write_report
    from benchmark.run.lock import run_lock
    from benchmark.run.shard import merge_shards
    from benchmark.run.store import validate_run_name
    validate_run_name(args.run_name)       # a name, never a path
    with run_lock(args.run_name):          # no run or merge of this name at the same time
        summary = merge_shards(args.run_name, partial=args.partial)
    added = ", ".join(f"{n} {t}" for t, n in summary.added.items() if n) or "nothing new"
    print(f"merged {len(summary.shards)} shard(s) of '{args.run_name}' ({', '.join(summary.shards)}): "
          f"{added}")
    if summary.missing:
        print(f"note: shard(s) {', '.join(summary.missing)} missing: the report is partial")
    print(f"report: {write_report(args.run_name)}")
    return 0
