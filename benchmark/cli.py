"""`python -m benchmark`: one subcommand per module in `benchmark/commands/`.

Each command module defines NAME, HELP, DESCRIPTION, `add_arguments(parser)` and `run(args) -> int`.
User-caused failures (BenchmarkError) print one clear message, never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import pkgutil
import sys

from benchmark import __version__
from benchmark.core.errors import BenchmarkError

EPILOG = """\
typical use:
  make testsets                                     build every test set
  python -m benchmark run --systems masksr2_l voicefixer
  python -m benchmark report RUN                    regenerate a report from its store

locations (flags override environment variables):
  BENCHMARK_CORPORA   raw corpora in their standard layouts (default ./corpora)
  BENCHMARK_DATA      built test sets and run stores (default ./data)
  BENCHMARK_CACHE     downloaded weights/corpora (default: user cache dir)
  BENCHMARK_ASSET_MIRROR  local folder or file:// URL tried before the internet
"""


def _command_modules():
    import benchmark.commands as pkg
    for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if not mod.name.startswith("_"):
            yield importlib.import_module(f"benchmark.commands.{mod.name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark",
        description="Benchmark and evaluation harness for full-band (44.1 kHz) speech restoration: "
                    "build test sets, run restoration systems, score them, write paper-style reports.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--corpora", metavar="DIR", help="corpora folder (sets BENCHMARK_CORPORA)")
    parser.add_argument("--data", metavar="DIR", help="data folder (sets BENCHMARK_DATA)")
    parser.add_argument("--cache", metavar="DIR", help="asset cache folder (sets BENCHMARK_CACHE)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.DESCRIPTION,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for flag, var in (("corpora", "BENCHMARK_CORPORA"), ("data", "BENCHMARK_DATA"),
                      ("cache", "BENCHMARK_CACHE")):
        if getattr(args, flag, None):
            os.environ[var] = getattr(args, flag)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except PermissionError as exc:   # a read-only folder met outside the store (reports, caches)
        where = exc.filename or "a file"
        print(f"error: cannot write {where}: {errno.errorcode.get(exc.errno, exc.errno)} ({exc.strerror}): "
              "the folder is read-only. Make it writable (chmod u+w) or choose another location "
              "(--data, BENCHMARK_REPORTS, --out); finished work is kept", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: finished work is kept; re-run the same command to continue.",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
