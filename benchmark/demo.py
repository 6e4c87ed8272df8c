"""`make demo`: build small test sets, run the offline systems, score them, write the report.

Corpora come from $BENCHMARK_CORPORA (the Makefile points it at ../shared/data/corpora when that
exists), else ./corpora; where neither holds any corpus (a fresh machine), a small public demo
corpus is fetched through the asset registry ("Demo corpora" in assets/catalog.py: Mini
LibriSpeech dev-clean-2, VoiceBank-DEMAND pairs, DNS clips, noise and an RIR; ~135 MB).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from benchmark.assets import all_assets, fetch
from benchmark.cli import main as cli
from benchmark.core.errors import BenchmarkError
from benchmark.core.paths import cache_dir, corpora_dir, reports_dir

DEMO_ITEMS = "2"  # per set (sr: per bandwidth, decli: per eta); `make demo` in under 3 minutes on 2 cores
DEMO_SYSTEMS = ["unprocessed", "target", "nsnet2", "dfnet3", "gtcrn"]
DEMO_RUN = "demo"
DEMO_PREFIX = "demo_"
MINI_LIBRISPEECH = "demo_mini_librispeech"
# The real mini corpora shipped beside the repository in development checkouts.
SHARED_CORPORA = Path(__file__).resolve().parents[2] / "shared" / "data" / "corpora"
KNOWN_CORPORA = ("VCTK-Corpus-0.92", "LibriSpeech", "VoiceBank-DEMAND", "DNS-Challenge", "noise", "rirs")


def has_corpora(folder: Path) -> bool:
    return folder.is_dir() and any((folder / name).is_dir() for name in KNOWN_CORPORA)


def demo_assets() -> list[str]:
    return [a.name for a in all_assets() if a.name.startswith(DEMO_PREFIX)]


def fetch_demo_corpora() -> Path:
    """Fetch the demo corpus files into the cache and return a corpora folder laid out for the
    builders: <cache>/demo_corpora/{LibriSpeech/test-clean, VoiceBank-DEMAND, DNS-Challenge, ...}."""
    root = cache_dir() / "demo_corpora"
    for name in demo_assets():
        path = fetch(name)
        if name == MINI_LIBRISPEECH:
            mini = path / "LibriSpeech" / "dev-clean-2"
            if not mini.is_dir():
                raise BenchmarkError(f"{path}: the Mini LibriSpeech archive does not contain "
                                     "LibriSpeech/dev-clean-2/; delete it and run `make demo` again")
            link = root / "LibriSpeech" / "test-clean"
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                # dev-clean-2 stands in for test-clean: the libri_noisy builder reads that name.
                link.symlink_to(mini.resolve(), target_is_directory=True)
    return root


def resolve_corpora() -> tuple[Path, str]:
    env = os.environ.get("BENCHMARK_CORPORA", "").strip()
    if env:
        folder = Path(env).expanduser()
        if not has_corpora(folder):
            raise BenchmarkError(f"BENCHMARK_CORPORA={env} holds none of {', '.join(KNOWN_CORPORA)}; "
                                 "point it at your corpora or unset it to fetch the demo corpus")
        return folder, f"corpora from BENCHMARK_CORPORA ({folder})"
    for folder in (corpora_dir(), SHARED_CORPORA):
        if has_corpora(folder):
            return folder, f"corpora found at {folder}"
    print("no corpora found: fetching the small public demo corpus (~135 MB) through the asset registry",
          flush=True)
    return fetch_demo_corpora(), "demo corpus fetched through the asset registry"


def needed_assets(systems: list[str], metrics: list[str] | None) -> list[str]:
    """Weights of the demo systems and of the metric backends its offline run plans (small; fetched
    up front): the plan of `metrics` (benchmark.run.plan.resolve), or every metric's offline one."""
    from benchmark.run.plan import resolve
    from metrics import METRICS
    from systems import SYSTEMS
    names = [a for s in systems for a in SYSTEMS.get(s).info.assets]
    specs = metrics if metrics is not None else [n for n, _ in METRICS]
    names += [a for p in resolve(specs, "offline").metrics for a in p.assets]
    return list(dict.fromkeys(names))


def parse(argv: list[str] | None):
    import argparse
    p = argparse.ArgumentParser(prog="python -m benchmark.demo", description=__doc__)
    p.add_argument("--items", default=DEMO_ITEMS, help=f"items per test set (default {DEMO_ITEMS})")
    p.add_argument("--systems", nargs="+", default=DEMO_SYSTEMS, metavar="SYSTEM")
    p.add_argument("--metrics", nargs="+", metavar="METRIC", help="default: each set's table")
    p.add_argument("--name", default=DEMO_RUN, help=f"run name (default {DEMO_RUN})")
    p.add_argument("--workers", default="2",
                   help="worker processes for the run (default 2: a stage's batches use both cores)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    t0 = time.perf_counter()
    try:
        corpora, where = resolve_corpora()
        os.environ["BENCHMARK_CORPORA"] = str(corpora)
        print(f"demo: {where}", flush=True)
        for name in needed_assets(args.systems, args.metrics):
            fetch(name)
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    steps = [
        ["testsets", "build", "all", "--items", str(args.items)],
        ["run", "--systems", *args.systems, "--profile", "offline", "--name", args.name,
         "--workers", str(args.workers)] + (["--metrics", *args.metrics] if args.metrics else []),
    ]
    timed = [s for s in args.systems if s not in ("unprocessed", "target")]
    if timed:   # the runtime protocol, short, so the report and page plot runtime vs length
        # --keep-stored: a re-run reuses the timings already stored (delete the run to re-time);
        # --no-report: the run step writes the report right after
        steps.insert(1, ["runtime", "--systems", *timed, "--lengths", "1", "2", "4", "--repeats", "3",
                         "--name", args.name, "--keep-stored", "--no-report"])
    for argv_ in steps:
        print(f"\n$ python -m benchmark {' '.join(argv_)}", flush=True)
        t = time.perf_counter()
        rc = cli(argv_)
        # `build all` exits 1 when some sets lack corpora; the demo runs on the sets it could build.
        if rc != 0 and not (argv_[0] == "testsets" and rc == 1):
            print(f"\ndemo stopped: step `{' '.join(argv_[:2])}` exited with {rc} (see the message above).",
                  file=sys.stderr)
            return rc
        print(f"({argv_[0]} step: {time.perf_counter() - t:.0f} s)", flush=True)
    report = (reports_dir() / args.name / "report.md").resolve()
    print(f"\ndemo finished in {time.perf_counter() - t0:.0f} s; report: {report}; "
          f"listening page: {report.with_name('index.html')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
