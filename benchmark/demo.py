"""`make demo`: build small test sets from $BENCHMARK_CORPORA, run the offline systems, score them
and write a report. The README's main command."""

from __future__ import annotations

import sys
import time

from benchmark.cli import main as cli

DEMO_ITEMS = "8"
DEMO_SYSTEMS = ["unprocessed", "target", "nsnet2", "dfnet3", "gtcrn"]


def main() -> int:
    t0 = time.perf_counter()
    steps = [
        ["testsets", "build", "all", "--items", DEMO_ITEMS],
        ["run", "--systems", *DEMO_SYSTEMS, "--profile", "offline", "--name", "demo"],
    ]
    for argv in steps:
        print(f"\n$ python -m benchmark {' '.join(argv)}", flush=True)
        rc = cli(argv)
        if rc != 0:
            print(f"\ndemo stopped: step `{' '.join(argv[:2])}` exited with {rc} (see the message above).",
                  file=sys.stderr)
            return rc
    print(f"\ndemo finished in {time.perf_counter() - t0:.0f} s; report: reports/demo/report.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
