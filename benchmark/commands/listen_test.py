"""`listen-test`: subjective ACR listening tests (MOS ± 95 % CI) from a run's stored outputs."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "listen-test"
HELP = "build, serve and report a subjective listening test (ACR MOS, P.808 style)"
DESCRIPTION = """\
A listening test as in MaskSR (001) Table 3 / MaskSR2 (002) Table II: listeners rate each
stimulus on the ITU-T P.808 ACR scale (5 Excellent .. 1 Bad); the report gives MOS ± 95 % CI per
system beside the published MOS rows.

  create RUN --testset SET --items N --systems S... [--seed S] [--listeners L]
        choose N items (stratified as on the listening page), write loudness-normalised
        stimuli (BS.1770, -26 LUFS), gold and trapping clips and manifest.json into
        $BENCHMARK_DATA/listening_tests/<name>/; print the listeners' links
  serve TEST [--port P] [--host H]   the web application (one sample at a time; ratings in
        TEST/ratings.sqlite, committed one by one; a listener resumes where they stopped)
  report TEST [--bootstrap]          TEST/report.md and mos.json; the section is joined to
        the run's report
  export-p808 TEST --out DIR [--base-url URL]   the ITU-T P.808 toolkit's input CSVs, clips,
        and the stored ratings as an answers CSV
  import-p808 TEST FILE.csv          ratings from a P.808 batch result / votes_per_worker CSV

example:
  python -m benchmark listen-test create demo --testset all_gsr --items 40 \\
      --systems voicefixer nsnet2 masksr_m --listeners 14
  python -m benchmark listen-test serve demo-all_gsr --port 8000
  python -m benchmark listen-test report demo-all_gsr --bootstrap
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = sub.add_parser("create", help="build a test from a run")
    c.add_argument("run_name", metavar="RUN")
    c.add_argument("--testset", required=True)
    c.add_argument("--items", type=int, default=40, help="items (default 40, as the papers)")
    c.add_argument("--systems", nargs="+", default=[], help="systems of the run to rate "
                   "(Unprocessed and the hidden Target are always in)")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--listeners", type=int, default=20, help="listener links to make (default 20)")
    c.add_argument("--gold", type=int, default=2, help="gold clips per listener (default 2)")
    c.add_argument("--traps", type=int, default=2, help="trapping clips per listener (default 2)")
    c.add_argument("--name", help="test name (default RUN-TESTSET)")
    c.add_argument("--out", metavar="DIR", help="test folder (default $BENCHMARK_DATA/listening_tests/NAME)")
    c.add_argument("--force", action="store_true", help="replace an existing test folder and its ratings")
    s = sub.add_parser("serve", help="serve the test to listeners")
    s.add_argument("test", metavar="TEST", help="test name or folder")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback only)")
    r = sub.add_parser("report", help="MOS ± 95 %% CI, screening, paired tests")
    r.add_argument("test", metavar="TEST")
    r.add_argument("--bootstrap", action="store_true", help="also a bootstrap over listeners and items")
    r.add_argument("--no-join", action="store_true", help="do not add the section to the run's report")
    e = sub.add_parser("export-p808", help="write the P.808 toolkit's CSV inputs and answers")
    e.add_argument("test", metavar="TEST")
    e.add_argument("--out", required=True, metavar="DIR")
    e.add_argument("--base-url", default="", help="URL the clips/ folder will be uploaded to")
    i = sub.add_parser("import-p808", help="read ratings from a P.808 answers CSV")
    i.add_argument("test", metavar="TEST")
    i.add_argument("answers", metavar="FILE.csv")


def run(args: argparse.Namespace) -> int:
    from benchmark.listentest.design import test_folder
    if args.action == "create":
        from benchmark.listentest.create import CreateOptions, create_test
        folder, design = create_test(CreateOptions(
            run=args.run_name, testset=args.testset, items=args.items, systems=tuple(args.systems),
            seed=args.seed, listeners=args.listeners, gold=args.gold, traps=args.traps,
            name=args.name, out=Path(args.out) if args.out else None, force=args.force))
        print(f"listening test '{design.name}' in {folder}: {len(design.items)} items x "
              f"{len(design.conditions)} conditions + controls = {len(design.stimuli)} samples per listener")
        for tok in design.listeners:
            print(f"  listener link: /t/{tok}")
        return 0
    folder = test_folder(args.test)
    if args.action == "serve":
        from benchmark.listentest.server import serve
        serve(folder, host=args.host, port=args.port)
        return 0
    if args.action == "report":
        from benchmark.listentest.report import write
        path, a = write(folder, bootstrap=args.bootstrap, join_run=not args.no_join)
        print(path.read_text().split("\n\n### ")[0])
        print(f"\nreport: {path}")
        return 0
    if args.action == "export-p808":
        from benchmark.listentest.p808 import export
        files = export(folder, Path(args.out), args.base_url)
        print("\n".join(f"{k}: {v}" for k, v in files.items()))
        return 0
    from benchmark.listentest.p808 import import_answers
    n_sessions, n = import_answers(folder, Path(args.answers))
    print(f"imported {n} ratings from {n_sessions} P.808 sessions into {folder}")
    return 0
