"""`doctor`: load every system and metric backend, run each on one real clip, table the result.

For each entry: its assets are found (cache, then $BENCHMARK_ASSET_MIRROR; with --fetch also
downloaded), the plugin is loaded and run on one real clip, and the output is checked (a finite
mono waveform of the input's length for systems; finite values or the metric's own per-item error
for metrics). Status per entry:

  OK       loaded and ran
  missing  an asset (with the `assets fetch` command) or an optional package (with its install
           command) is not there; nothing was run
  failed   it is there but does not load or run (the error is shown)

The clip is a real noisy/clean pair with its transcript: by default the first VoiceBank-DEMAND
pair under $BENCHMARK_CORPORA, else the demo corpus's pair (asset demo_p287_001_*); or the files
given with --degraded / --reference / --transcript (`--seconds` keeps only its start).
Exit status 1 when any entry failed or a named (--systems / --metrics) entry is missing.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.commands._util import print_table
from benchmark.core.errors import AssetError, BenchmarkError, MissingDependencyError

NAME = "doctor"
HELP = "load every system and metric backend on one real clip and table what works"
DESCRIPTION = __doc__.split("\n", 2)[2]


@dataclass(frozen=True)
class Clip:
    degraded: np.ndarray
    reference: np.ndarray
    rate: int
    transcript: str | None
    source: str


@dataclass
class DoctorRow:
    kind: str               # "system" / "metric"
    name: str               # system name / "metric (backend)"
    status: str             # "OK", "missing", "failed"
    version: str = ""
    sha256: str = ""
    seconds: float = math.nan
    detail: str = ""

    def as_dict(self) -> dict:
        """Table cells; a "|" inside a cell is escaped (Markdown table)."""
        cells = {"kind": self.kind, "name": self.name, "status": self.status,
                 "version": self.version or "–", "sha256": self.sha256 or "–",
                 "seconds": "–" if math.isnan(self.seconds) else f"{self.seconds:.1f}",
                 "detail": self.detail or "–"}
        return {k: v.replace("|", "\\|") for k, v in cells.items()}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", choices=("all", "paper", "offline"), default="all",
                   help="metric backends to check: every backend (default), or the one each "
                        "metric uses under `run --profile paper|offline`")
    p.add_argument("--systems", nargs="*", metavar="NAME", help="only these systems (none: all)")
    p.add_argument("--metrics", nargs="*", metavar="NAME", help="only these metrics (none: all)")
    p.add_argument("--fetch", action="store_true",
                   help="download missing assets (default: cache and mirror only)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (systems that support it)")
    p.add_argument("--degraded", metavar="WAV", help="the clip to run on (default: see above)")
    p.add_argument("--reference", metavar="WAV", help="its clean reference")
    p.add_argument("--transcript", metavar="TEXT", help="its transcript (for WER)")
    p.add_argument("--seconds", type=float, default=None,
                   help="use only the first seconds of the clip (default: all of it)")


# --- the clip ----------------------------------------------------------------------------------

def find_clip(args: argparse.Namespace) -> Clip:
    from benchmark.assets import fetch
    from benchmark.core.audio import read_audio, resample
    from benchmark.core.paths import corpora_dir

    if args.degraded:
        deg, ref = Path(args.degraded), Path(args.reference or args.degraded)
        text = args.transcript
    else:
        vb = corpora_dir() / "VoiceBank-DEMAND"
        noisy = sorted((vb / "noisy_testset_wav").glob("*.wav"))
        if noisy:
            deg, ref = noisy[0], vb / "clean_testset_wav" / noisy[0].name
            txt = vb / "testset_txt" / f"{noisy[0].stem}.txt"
        else:
            try:
                deg = fetch("demo_p287_001_noisy", offline=not args.fetch)
                ref = fetch("demo_p287_001_clean", offline=not args.fetch)
            except AssetError as exc:
                raise BenchmarkError(
                    "doctor needs one real clip: none under $BENCHMARK_CORPORA/VoiceBank-DEMAND "
                    "and the demo clip is not cached. Give one with --degraded WAV [--reference "
                    "WAV], or fetch it: python -m benchmark assets fetch demo_p287_001_noisy "
                    f"demo_p287_001_clean\n{exc}") from None
            txt = None
        text = args.transcript or (txt.read_text().strip() if txt and txt.exists() else None)
    x, rate = read_audio(deg)
    r, rrate = read_audio(ref)
    if rrate != rate:
        r = resample(r, rrate, rate)
    n = min(x.size, r.size)
    if args.seconds:
        n = min(n, int(args.seconds * rate))
    return Clip(x[:n], r[:n], rate, text, str(deg))


# --- checks ------------------------------------------------------------------------------------

def _assets(names: tuple[str, ...], fetch_missing: bool) -> tuple[list[str], str]:
    """(missing asset names, "name:sha12 ..." of the present ones)."""
    from benchmark.assets import asset_fingerprints, fetch, get_asset
    missing = []
    for n in names:
        try:
            fetch(n, offline=not fetch_missing)
        except AssetError:
            missing.append(n)
    shas = asset_fingerprints([n for n in names if n not in missing])
    parts = [f"{n}:{sha[:12]}" + ("" if get_asset(n).sha256 else " (unpinned)")
             for n, sha in shas.items()]
    return missing, " ".join(parts)


def _fetch_hint(missing: list[str]) -> str:
    return "fetch: python -m benchmark assets fetch " + " ".join(missing)


def _failure(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {msg[0] if msg else ''}"


def _guarded(row: DoctorRow, fn) -> DoctorRow:
    t0 = time.perf_counter()
    try:
        fn(row)
        row.status = "OK"
    except MissingDependencyError as exc:
        row.status, row.detail = "missing", str(exc).splitlines()[0]
    except AssetError as exc:
        row.status, row.detail = "missing", str(exc).splitlines()[0]
    except Exception as exc:     # any failure of a plugin is reported, never raised
        row.status, row.detail = "failed", _failure(exc)
        if not isinstance(exc, BenchmarkError):
            traceback.print_exc(file=sys.stderr)
    row.seconds = time.perf_counter() - t0
    return row


def check_system(name: str, clip: Clip, device: str, fetch_missing: bool) -> DoctorRow:
    from benchmark.core.audio import resample
    from systems import SYSTEMS
    from systems.base import RestoreItem

    cls = SYSTEMS.get(name)
    info = cls.info
    row = DoctorRow("system", name, "failed", version=info.version)
    missing, row.sha256 = _assets(info.assets, fetch_missing)
    if missing:
        row.status, row.detail = "missing", _fetch_hint(missing)
        return row
    needs = cls.prerequisites({})       # e.g. a trained checkpoint, with the command that makes it
    if needs:
        row.status, row.detail = "missing", "; ".join(needs)
        return row
    dev = device if device in info.devices else "cpu"

    def run(r: DoctorRow) -> None:
        system = cls(device=dev)
        system.load()
        x = resample(clip.degraded, clip.rate, info.rate)
        t = resample(clip.reference, clip.rate, info.rate)[:x.size] if info.needs_target else None
        (y,) = system.restore([RestoreItem("doctor", x, target=t)])
        y = np.asarray(y)
        if y.ndim != 1 or y.size != x.size:
            raise BenchmarkError(f"returned shape {y.shape} for an input of {x.size} samples")
        if not np.isfinite(y).all():
            raise BenchmarkError("returned non-finite samples")
        r.detail = f"{x.size / info.rate:.2f} s at {info.rate} Hz" + (f" on {dev}" if dev != "cpu" else "")
    return _guarded(row, run)


def check_metric(name: str, backend: str, clip: Clip, device: str, fetch_missing: bool) -> DoctorRow:
    from metrics import METRICS
    from metrics.base import MetricItem, metric_version

    cls = METRICS.get(name)
    info = cls.info
    row = DoctorRow("metric", f"{name} ({backend})", "failed")
    missing, row.sha256 = _assets(tuple(info.assets.get(backend, ())), fetch_missing)
    if missing:
        row.status, row.detail = "missing", _fetch_hint(missing)
        return row

    def run(r: DoctorRow) -> None:
        metric = cls(backend=backend, device=info.device_for(device))
        metric.load()
        r.version = metric_version(metric)
        item = MetricItem("doctor", clip.degraded, clip.rate,
                          reference=clip.reference if info.needs_reference else None,
                          reference_rate=clip.rate if info.needs_reference else None,
                          transcript=clip.transcript if info.needs_transcript else None)
        if info.needs_transcript and not clip.transcript:
            raise BenchmarkError("the clip has no transcript (give --transcript)")
        (score,) = metric.score([item])
        if score.error:
            raise BenchmarkError(score.error)
        bad = [c for c, v in score.values.items() if not np.isfinite(v)]
        if bad or not score.values:
            raise BenchmarkError(f"non-finite or no values: {score.values}")
        r.detail = ", ".join(f"{c}={v:.3g}" for c, v in score.values.items())
    return _guarded(row, run)


def metric_backends(profile: str, names: list[str] | None) -> list[tuple[str, str]]:
    """Every backend (profile 'all'), or the one `run`/`score` plan for each metric under the
    profile (benchmark.run.plan.resolve)."""
    from benchmark.run.plan import resolve
    from metrics import METRICS
    chosen = [n for n, _ in METRICS if not names or n in names]
    if profile == "all":
        return [(n, b) for n in chosen for b in METRICS.get(n).info.backends]
    return [(p.name, p.backend) for p in resolve(chosen, profile).metrics]


def run(args: argparse.Namespace) -> int:
    from metrics import METRICS
    from systems import SYSTEMS

    for n in args.systems or []:
        SYSTEMS.get(n)          # unknown names: the registry's clear error
    for n in args.metrics or []:
        METRICS.get(n)
    clip = find_clip(args)
    print(f"clip: {clip.source} ({clip.degraded.size / clip.rate:.2f} s at {clip.rate} Hz)",
          file=sys.stderr)
    rows: list[DoctorRow] = []
    if args.metrics is None or args.systems:
        for name in (args.systems or [n for n, _ in SYSTEMS]):
            print(f"doctor: system {name} ...", file=sys.stderr, flush=True)
            rows.append(check_system(name, clip, args.device, args.fetch))
    if args.systems is None or args.metrics:
        for name, backend in metric_backends(args.profile, args.metrics):
            print(f"doctor: metric {name} ({backend}) ...", file=sys.stderr, flush=True)
            rows.append(check_metric(name, backend, clip, args.device, args.fetch))
    print_table([r.as_dict() for r in rows])
    for name, err in list(SYSTEMS.load_errors.items()) + list(METRICS.load_errors.items()):
        print(f"warning: plugin '{name}' failed to import: {err}")
    counts = {s: sum(r.status == s for r in rows) for s in ("OK", "missing", "failed")}
    print(f"\n{counts['OK']} OK, {counts['missing']} missing, {counts['failed']} failed")
    named = set(args.systems or []) | set(args.metrics or [])
    bad = [r for r in rows if r.status == "failed"
           or (r.status == "missing" and r.name.split(" ")[0] in named)]
    return 1 if bad else 0
