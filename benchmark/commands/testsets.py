"""`testsets build|list|verify`: rebuild the papers' test sets from raw corpora."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from benchmark.commands._util import print_table
from benchmark.core.errors import BenchmarkError
from benchmark.core.paths import corpora_dir, testsets_dir

NAME = "testsets"
HELP = "build, list and verify test sets"
DESCRIPTION = """\
Builds the papers' test sets deterministically from raw corpora ($BENCHMARK_CORPORA) into
$BENCHMARK_DATA/testsets/<name>/ with manifest.jsonl and CHECKSUMS.

  testsets list                         each set, its source corpora and whether they are found
  testsets build NAME|all [--items N] [--seed S] [--out DIR] [--workers W] [--allow-repeat]
                 [--source rebuild|official] [--rirs rir44k|simulate]
                 [--reverb-alignment none|direct_path] [--rooms whamr_csv|simulate]
                 [--fetch] [--dry-run]
  testsets verify [NAME..] [--out DIR]  re-hash rendered files against CHECKSUMS and the corpus
                                        files each item was made from against SOURCES

--source official: ingest VoiceFixer's released test sets (Zenodo 5528144, unpacked as
$BENCHMARK_CORPORA/TestSets/) for all_gsr, sr, decli, derev, denoise: exactly their pairs and
files (001 Table 1 was measured on them). --rirs: RIR-44k's test split (the default of all_gsr and
derev, Zenodo 5528124 unpacked as $BENCHMARK_CORPORA/RIR_44k/) or rooms simulated from the seed.
--reverb-alignment: "none" (default) cuts the convolved speech to length as voicefixer_main's
reverb code does; "direct_path" advances it by the RIR's direct-path delay (recorded per item).
--rooms (vctk_gsr): the WHAMR! test rooms, one row of reverb_params_tt.csv per item (default;
asset `whamr_reverb_params_tt`), or rooms drawn from the WHAMR! distributions (simulate).

A build never destroys: one build of a set folder at a time (a second one exits with a message);
the new set is staged in <out>/.<name>.building/ and replaces the old one only when complete; an
<out>/<name> the benchmark did not write (no marker), or a symlink, is refused, never deleted.

--items N: items to simulate (all_gsr, vctk_gsr, libri_noisy), utterances per rate (sr), at most
N per subset (dns2020, ingested). More items than source utterances is an error for one set
(unless --allow-repeat); with 'all', such a set is built from every utterance once, with a note. Same corpora + same --seed => byte-identical files, whatever
--workers is.

--fetch: before building, every missing corpus the chosen sets need is downloaded through the
asset registry (cache, $BENCHMARK_ASSET_MIRROR, then the official URLs; resumable; sha256 where
published, md5 or size otherwise), unpacked safely and laid out under $BENCHMARK_CORPORA as the
builders expect; a marker makes a second call do no work. The plan (corpora, bytes, licences,
destinations, free disk) is printed first; --dry-run prints it alone. Corpora already present are
used as they are.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="list test sets and whether their corpora are found")
    b = sub.add_parser("build", help="build one test set or all")
    b.add_argument("names", nargs="+", metavar="NAME", help="test set name(s) or 'all'")
    b.add_argument("--items", type=int, help="number of items (default: the paper's count)")
    b.add_argument("--seed", type=int, help="random seed (default: the set's paper seed)")
    b.add_argument("--out", help="output folder (default $BENCHMARK_DATA/testsets)")
    b.add_argument("--workers", type=int, default=2, help="rendering processes (default 2)")
    b.add_argument("--allow-repeat", action="store_true",
                   help="reuse source utterances when the corpus has fewer than --items")
    b.add_argument("--source", choices=("rebuild", "official"), default="rebuild",
                   help="rebuild from raw corpora (default) or ingest VoiceFixer's released sets")
    b.add_argument("--rirs", choices=("rir44k", "simulate"),
                   help="RIRs of the reverberant sets (default: the set's, RIR-44k for all_gsr/derev)")
    b.add_argument("--reverb-alignment", choices=("none", "direct_path"),
                   help="reverberant input cut to length as voicefixer_main does (none, default) "
                        "or advanced by the RIR's direct path (direct_path)")
    b.add_argument("--rooms", choices=("whamr_csv", "simulate"),
                   help="vctk_gsr rooms: WHAMR!'s reverb_params_tt.csv rows (default) or drawn")
    b.add_argument("--fetch", action="store_true",
                   help="first download, verify and unpack every missing corpus the sets need "
                        "(prints the plan first; BENCHMARK_OFFLINE=1: one message listing them)")
    b.add_argument("--dry-run", action="store_true",
                   help="print the corpus plan (what is present, what would be fetched, bytes, "
                        "destinations, free disk) and stop")
    v = sub.add_parser("verify", help="re-hash built test sets against their CHECKSUMS")
    v.add_argument("names", nargs="*", metavar="NAME")
    v.add_argument("--out", help="test-set folder (default $BENCHMARK_DATA/testsets)")


def _names(requested: list[str]) -> list[str]:
    from testsets import TESTSETS
    if "all" in requested:
        return TESTSETS.names()
    for n in requested:
        TESTSETS.get(n)          # unknown name: one clear error listing the known sets
    return list(dict.fromkeys(requested))


def _list() -> int:
    from testsets import TESTSETS
    corpora = corpora_dir()
    rows = []
    for name, cls in TESTSETS:
        found = [f"{c} ({'found' if (corpora / c).is_dir() else 'MISSING'})" for c in cls.info.corpora]
        found += [f"{c} ({'found' if (corpora / c).is_dir() else 'absent: stand-in used'})"
                  for c in cls.info.optional_corpora]
        rows.append({"set": name, "rate": cls.info.rate, "items": cls.info.default_items or "all",
                     "corpora": ", ".join(found), "recipe": cls.info.paper})
    print_table(rows)
    print(f"\ncorpora: {corpora.resolve()}  (BENCHMARK_CORPORA or --corpora)")
    return 0


def _build(args: argparse.Namespace) -> int:
    from testsets import TESTSETS, BuildOptions
    from testsets.corpora import MissingCorpusError
    from testsets.simulated import CorpusTooSmallError
    if args.items is not None and args.items < 1:
        raise BenchmarkError(f"--items must be at least 1, got {args.items}")
    if args.workers < 1:
        raise BenchmarkError(f"--workers must be at least 1, got {args.workers}")
    out = Path(args.out) if args.out else testsets_dir()
    opts = BuildOptions(corpora=corpora_dir(), out=out, items=args.items, seed=args.seed,
                        workers=args.workers, allow_repeat=args.allow_repeat, source=args.source,
                        rirs=args.rirs, reverb_alignment=args.reverb_alignment, rooms=args.rooms)
    names = _names(args.names)
    if args.source == "official":
        if "all" in args.names:
            names = [n for n in names if "official" in TESTSETS.get(n).sources]
        for n in names:
            if "official" not in TESTSETS.get(n).sources:
                raise BenchmarkError(f"test set '{n}' has no official release; --source official "
                                     f"applies to: {', '.join(x for x, c in TESTSETS if 'official' in c.sources)}")
    if args.fetch or args.dry_run:
        from testsets.provision import describe, plan, provision
        p = plan(names, opts.corpora, source=args.source, rirs=args.rirs)
        print(describe(p))
        if args.dry_run:
            return 0
        fetched = provision(p)
        if fetched:
            print(f"fetched: {', '.join(fetched)}")
    failed = []
    for name in names:
        builder = TESTSETS.get(name)()
        t0 = time.perf_counter()
        note = ""
        try:
            try:
                res = builder.build(opts)
            except CorpusTooSmallError as exc:
                if len(names) == 1:
                    raise
                # `build all`: a corpus smaller than --items gives every utterance it has, once
                res = builder.build(dataclasses.replace(opts, items=exc.available))
                note = (f"corpus has {exc.available} source utterances: built {exc.available} "
                        f"items, not {opts.items} (build it alone with --allow-repeat to reuse)")
        except MissingCorpusError as exc:
            if len(names) == 1:
                raise
            print(f"{name}: not built: {exc}", file=sys.stderr)
            failed.append(name)
            continue
        secs = time.perf_counter() - t0
        print(f"{name}: {res.items} items, {res.seconds_audio:.1f} s of audio in {secs:.1f} s -> {res.folder}")
        for line in res.notes + ([note] if note else []):
            print(f"  note: {line}")
    if failed:
        print(f"{len(failed)} set(s) not built (missing corpora): {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _verify(args: argparse.Namespace) -> int:
    from testsets.engine import verify_set
    out = Path(args.out) if args.out else testsets_dir()
    corpora = corpora_dir()
    if args.names:
        folders = [out / n for n in args.names]
    else:
        folders = sorted(p.parent for p in Path(out).glob("*/CHECKSUMS"))
    if not folders:
        raise BenchmarkError(f"no built test sets under {out}. Build them first: "
                             "python -m benchmark testsets build all")
    bad = 0
    for folder in folders:
        if not folder.is_dir():
            raise BenchmarkError(f"test set folder {folder} does not exist; build it first: "
                                 f"python -m benchmark testsets build {folder.name}")
        rep = verify_set(folder, corpora)
        status = "ok" if rep.clean else "MISMATCH"
        sources = (f"; sources: {rep.sources_ok} ok, {len(rep.sources_changed)} changed, "
                   f"{len(rep.sources_missing)} missing" if rep.sources_recorded
                   else "; sources not recorded (built before SOURCES existed: rebuild to record them)")
        print(f"{rep.name}: {status} ({rep.ok} files ok, {len(rep.mismatched)} differ, "
              f"{len(rep.missing)} missing{sources})")
        for rel in rep.mismatched:
            print(f"  differs: {rel}")
        for rel in rep.missing:
            print(f"  missing: {rel}")
        for what, found in (("changed", rep.sources_changed), ("missing", rep.sources_missing)):
            for rel, ids in found.items():
                used = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
                print(f"  source {what}: {corpora / rel} (used by {used})")
        bad += (len(rep.mismatched) + len(rep.missing) + len(rep.sources_changed)
                + len(rep.sources_missing))
    return 1 if bad else 0


def run(args: argparse.Namespace) -> int:
    return {"list": _list, "build": _build, "verify": _verify}[args.action](
        *([] if args.action == "list" else [args]))
