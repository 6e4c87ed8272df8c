"""`restore`: run systems on your own recordings (a file or a folder), outside any test set."""

from __future__ import annotations

import argparse
from collections import Counter

from benchmark.commands._util import add_restore_arguments
from benchmark.core.errors import BenchmarkError

NAME = "restore"
HELP = "restore your own files or folders with chosen systems (outside a run)"
DESCRIPTION = """\
Restores every .wav/.flac file of --input (a file, or a folder searched recursively) with each
system, the way `run` restores test-set items: resampled to the system's rate and back, so each
output has its input's sample rate and length; several channels are averaged to mono. Outputs go
to OUT/<system>/ under the input's relative name. A file that cannot be read or restored is an
item error (listed at the end, the others go on). Calling the same command again restores only
new or changed files (a ledger per system folder keys outputs by system version and input
content); --retry-errors redoes the failed ones. Outputs are written atomically.

example:
  python -m benchmark restore --systems nsnet2 dfnet3 --input my_recordings/ --out restored/
  python -m benchmark restore --systems masksr2_l --checkpoint masksr2_l=ckpt/ --input a.wav --out r/ --device cuda
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--systems", nargs="+", required=True, metavar="SYSTEM",
                   help="systems to run (see `systems list`)")
    p.add_argument("--input", required=True, metavar="FILE|DIR", help="a .wav/.flac file or a folder")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output folder (outside --input); outputs go to DIR/<system>/")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes")
    p.add_argument("--retry-errors", action="store_true",
                   help="redo files whose restoration failed in an earlier call")
    add_restore_arguments(p, unit="file")


def run(args: argparse.Namespace) -> int:
    from benchmark.commands._util import print_table
    from benchmark.commands.run import _specs
    from benchmark.run.restore_files import LEDGER, restore_files

    if args.workers < 1:
        raise BenchmarkError(f"--workers must be at least 1, got {args.workers}")
    if not args.max_item_seconds > 0:
        raise BenchmarkError(f"--max-item-seconds must be positive, got {args.max_item_seconds:g}")
    if not 0 < args.item_timeout <= 1e7:
        raise BenchmarkError(f"--item-timeout must be 0 < S <= 1e7 seconds, got {args.item_timeout:g}")
    results = restore_files(_specs(args), args.input, args.out, device=args.device,
                            workers=args.workers, max_item_seconds=args.max_item_seconds,
                            retry_errors=args.retry_errors, item_timeout=args.item_timeout)
    done = Counter(r.system for r in results if r.error is None and not r.cached)
    cached = Counter(r.system for r in results if r.cached and r.error is None)
    failed = Counter(r.system for r in results if r.error is not None)
    systems = list(dict.fromkeys(r.system for r in results))
    print_table([{"system": s, "restored": done[s], "cached": cached[s], "item errors": failed[s]}
                 for s in systems])
    errors = [r for r in results if r.error is not None]
    for r in errors[:20]:
        print(f"error: {r.system} {r.name}: {r.error}")
    if len(errors) > 20:
        print(f"... and {len(errors) - 20} more item errors")
    print(f"outputs: {args.out}/<system>/ (per-file record: {LEDGER} in each)")
    return 0
