"""`assets list|fetch|verify`: the asset registry from the command line."""

from __future__ import annotations

import argparse

from benchmark import assets as registry
from benchmark.commands._util import print_table
from benchmark.core.errors import AssetError
from benchmark.core.paths import cache_dir

NAME = "assets"
HELP = "list, fetch and verify external weights and corpora"
DESCRIPTION = """\
Every external weight file or corpus archive is one record of the asset registry (URL, sha256,
size, licence, cache path, the feature that needs it).

  assets list                 show every asset and whether it is cached
  assets fetch NAME [NAME..]  download (resumable, sha256-verified) into the cache
  assets verify [NAME..]      re-hash cached files; exit 1 if any is corrupted

Sources tried in order: the cache ($BENCHMARK_CACHE), $BENCHMARK_ASSET_MIRROR (a local folder or
file:// URL laid out like the cache, e.g. <mirror>/gtcrn/gtcrn.onnx), then the asset's URLs.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="list assets and their cache status")
    f = sub.add_parser("fetch", help="download and verify assets")
    f.add_argument("names", nargs="+", metavar="NAME", help="asset names (see `assets list`), or 'all'")
    f.add_argument("--offline", action="store_true", help="only the cache and the mirror; no internet")
    v = sub.add_parser("verify", help="re-hash cached assets")
    v.add_argument("names", nargs="*", metavar="NAME", help="asset names (default: all cached)")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        rows = [{"name": a.name, "kind": a.kind, "size": _size(a.size),
                 "cached": "yes" if a.cached_path().exists() else "no",
                 "used by": a.used_by, "licence": a.licence} for a in registry.all_assets()]
        print_table(rows)
        print(f"\ncache: {cache_dir()}")
        return 0
    if args.action == "fetch":
        names = [a.name for a in registry.all_assets()] if args.names == ["all"] else args.names
        failed = []
        for name in names:
            try:
                path = registry.fetch(name, offline=args.offline or None)
                print(f"{name}: ok -> {path}")
            except AssetError as exc:
                failed.append(name)
                print(f"error: {exc}")
        return 1 if failed else 0
    results = registry.verify(args.names or None)
    if not args.names:
        results = [r for r in results if r.status != "missing"]
    for r in results:
        print(f"{r.name}: {r.status.upper()}  {r.path}" + (f"\n  {r.detail}" if r.detail else ""))
    if not results:
        print(f"no cached assets under {cache_dir()}")
    bad = [r for r in results if r.status not in ("ok", "unpinned")]
    if bad:
        print(f"\n{len(bad)} asset(s) failed verification: "
              + ", ".join(f"{r.name} ({r.status})" for r in bad)
              + ". Delete the file(s) and fetch again: python -m benchmark assets fetch NAME")
        return 1
    return 0
