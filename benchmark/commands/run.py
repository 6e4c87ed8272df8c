"""`run`: restore every item of the selected test sets with every system, score, report."""

from __future__ import annotations

import argparse

from benchmark.commands._util import add_restore_arguments
from benchmark.core.errors import BenchmarkError
from benchmark.run.processes import sigterm_as_interrupt

NAME = "run"
HELP = "run systems on test sets, score the outputs and write the report"
DESCRIPTION = """\
Restores every item of every selected test set with every system, scores the outputs, stores
everything in $BENCHMARK_DATA/runs/<run>/store.sqlite and writes reports/<run>/report.md.
Re-running the same command recomputes nothing; an interrupted run continues where it stopped.

example:
  python -m benchmark run --systems masksr2_l voicefixer
  python -m benchmark run --systems unprocessed nsnet2 --testsets dns2020 --profile offline
  python -m benchmark run --systems voicefixer --testsets sr --metrics lsd:voicefixer2021 dnsmos
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--systems", nargs="+", required=True, metavar="SYSTEM",
                   help="systems to run (see `systems list`)")
    p.add_argument("--testsets", nargs="+", metavar="SET", help="test sets (default: all built)")
    p.add_argument("--metrics", nargs="+", metavar="METRIC[:BACKEND]",
                   help="metrics, each NAME or NAME:BACKEND (e.g. lsd:voicefixer2021; see `metrics "
                        "list`); default: the metrics of each set's paper tables, with the backends "
                        "their published numbers used")
    p.add_argument("--profile", choices=("paper", "offline"), default="paper",
                   help="metric backends: the papers' (needs downloaded weights) or bundled ones")
    p.add_argument("--name", help="run name: 1-100 of A-Z a-z 0-9 . _ - (default: derived from "
                   "the systems)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes")
    p.add_argument("--limit", type=int, help="only the first N items of each set")
    p.add_argument("--verify", action="store_true",
                   help="hash every file of the selected sets in full against their CHECKSUMS at the "
                        "start (default: files whose size, mtime and inode are unchanged since they "
                        "last matched are not re-hashed; every restored or scored file is hashed as "
                        "it is read either way)")
    p.add_argument("--retry-errors", action="store_true",
                   help="redo items whose restoration failed in an earlier invocation")
    p.add_argument("--baseline", metavar="SYSTEM",
                   help="compare every system with this one in the report's paired columns "
                        "(default: each column's best measured system)")
    p.add_argument("--listen-items", type=int, metavar="N",
                   help="items per listening-page table (default 3; see `report --html`)")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local processes, or a Ray cluster (extra 'ray'; --workers = CPU actors "
                        "per system/metric, one actor per GPU with --device cuda)")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="Ray cluster to join (sets RAY_ADDRESS; default: $RAY_ADDRESS, else a new "
                        "local cluster)")
    p.add_argument("--shard", metavar="K/N", help="only the K-th of N deterministic slices, into "
                   "runs/<name>/shards/K-of-N (job arrays); then: python -m benchmark merge <name>")
    add_restore_arguments(p, unit="item")


def _specs(args: argparse.Namespace):
    from benchmark.commands._util import precision_config
    from systems.base import SystemSpec
    ckpt = {}
    for entry in args.checkpoint:
        name, sep, path = entry.partition("=")
        if not sep or not name or not path:
            raise BenchmarkError(f"--checkpoint expects NAME=PATH, got '{entry}'")
        if name not in args.systems:
            raise BenchmarkError(f"--checkpoint {entry}: system '{name}' is not in --systems")
        ckpt[name] = path
    return [SystemSpec(s, {**({"checkpoint": ckpt[s]} if s in ckpt else {}),
                           **precision_config(s, getattr(args, "precision", "fp32"))})
            for s in dict.fromkeys(args.systems)]


def _argv() -> list[str]:
    """The command line as the store records it: what was typed (`python -m benchmark ...`)."""
    import sys
    return list(sys.argv[1:])


def run(args: argparse.Namespace) -> int:
    from benchmark.report.writer import write_report
    from benchmark.run.runner import RunConfig, Runner, default_run_name
    from benchmark.run.store import validate_run_name

    if args.workers < 1:
        raise BenchmarkError(f"--workers must be at least 1, got {args.workers}")
    if args.limit is not None and args.limit < 1:
        raise BenchmarkError(f"--limit must be at least 1, got {args.limit}")
    if not 0 < args.item_timeout <= 1e7:
        raise BenchmarkError(f"--item-timeout must be 0 < S <= 1e7 seconds, got {args.item_timeout:g}")
    if not args.max_item_seconds > 0:
        raise BenchmarkError(f"--max-item-seconds must be positive, got {args.max_item_seconds:g}")
    from metrics.base import parse_metric_spec
    for text in args.metrics or []:
        parse_metric_spec(text)              # a malformed NAME:BACKEND fails before any work
    from benchmark.report.listen import listen_items
    listen_items(args.listen_items)        # a bad N fails before any work
    if args.baseline is not None and args.baseline not in args.systems:
        raise BenchmarkError(f"--baseline {args.baseline}: not one of --systems "
                             f"({', '.join(args.systems)})")
    systems = _specs(args)
    name = validate_run_name(args.name if args.name is not None else default_run_name(systems))
    if args.shard:
        from benchmark.run.shard import parse_shard, shard_run_name
        shard = parse_shard(args.shard)
        name = shard_run_name(name, shard)                   # <name>/shards/K-of-N
    cfg = RunConfig(name=name, systems=systems, testsets=args.testsets, metrics=args.metrics,
                    profile=args.profile, device=args.device, workers=args.workers,
                    limit=args.limit, retry_errors=args.retry_errors, executor=args.executor,
                    max_item_seconds=args.max_item_seconds, verify=args.verify,
                    item_timeout=args.item_timeout)
    runner = None
    if args.executor == "ray":
        import os

        import benchmark.run.ray_executor  # noqa: F401  (registers the 'ray' executor)
        if args.ray_address:
            os.environ["RAY_ADDRESS"] = args.ray_address
    if args.shard:
        from benchmark.run.shard import ShardRunner
        runner = ShardRunner(cfg, shard)
    with sigterm_as_interrupt():          # `kill` stops the run like Ctrl-C: workers killed, marked
        summary = (runner or Runner(cfg)).run(argv=_argv())
    for note in summary.notes:
        print(f"note: {note}")
    report = write_report(cfg.name, html=True, listen_items=args.listen_items,
                          baseline=args.baseline)
    print(f"run '{cfg.name}': {summary.restored} outputs restored ({summary.cached_outputs} cached), "
          f"{summary.scored} items scored ({summary.cached_scores} cached), "
          f"{summary.item_errors} new item errors, {summary.seconds:.1f} s")
    print(f"report: {report}; listening page: {report.with_name('index.html')}")
    return 0
