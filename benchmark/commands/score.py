"""`score`: score audio files or folders outside a run."""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.commands._util import print_table
from benchmark.core.audio import SUPPORTED_SUFFIXES, read_audio
from benchmark.core.errors import BenchmarkError

NAME = "score"
HELP = "score files or folders with chosen metrics (outside a run)"
DESCRIPTION = """\
Scores processed audio produced by any system. PATH is a file or a folder; folders are paired
with --reference by relative file name (the extension may differ: out/a.wav pairs clean/a.flac);
unpaired files are listed as errors. A metric is NAME (its offline backend, or the papers' with
--profile paper) or NAME:BACKEND (exactly that backend, e.g. lsd:voicefixer2021; see `metrics
list`). Every row records metric, backend, backend version (after loading: model file sha256,
resampler) and rate. --out is checked before any scoring and rewritten after every batch, so an
interrupted run keeps what it finished.

example:
  python -m benchmark score --metrics dnsmos lsd:voicefixer2021 --degraded out/ --reference clean/ --out s.csv
"""
BATCH = 16


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--metrics", nargs="+", required=True, metavar="METRIC[:BACKEND]")
    p.add_argument("--degraded", required=True, metavar="PATH", help="file or folder to score")
    p.add_argument("--reference", metavar="PATH", help="clean reference file or folder")
    p.add_argument("--transcripts", metavar="FILE", help="'<relative path or id> <text>' per line")
    p.add_argument("--profile", choices=("paper", "offline"), default="offline")
    p.add_argument("--out", metavar="FILE", help="write per-item scores to .csv or .json")
    p.add_argument("--device", default="cpu", help="device for model-based metrics (default cpu)")


@dataclass
class Pair:
    key: str                        # relative path without extension
    degraded: Path | None
    reference: Path | None = None
    transcript: str | None = None
    problems: list[str] = field(default_factory=list)


def _audio_files(path: Path) -> dict[str, Path]:
    if path.is_file():
        return {path.stem: path}
    if not path.is_dir():
        raise BenchmarkError(f"{path}: no such file or folder")
    files = {str(p.relative_to(path).with_suffix("")): p for p in sorted(path.rglob("*"))
             if p.suffix.lower() in SUPPORTED_SUFFIXES and p.is_file()}
    if not files:
        raise BenchmarkError(f"{path}: no .wav or .flac files found (searched recursively)")
    return files


def read_transcripts(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise BenchmarkError(f"{path}: no such transcripts file")
    out: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        key, _, text = line.strip().partition(" ")
        if not text.strip():
            raise BenchmarkError(f"{path}:{n}: expected '<relative path or id> <text>', got {line!r}")
        out[str(Path(key).with_suffix("")) if Path(key).suffix.lower() in SUPPORTED_SUFFIXES
            else key] = text.strip()
    return out


def collect(degraded: str, reference: str | None, transcripts: str | None) -> list[Pair]:
    deg = _audio_files(Path(degraded))
    pairs = {k: Pair(k, p) for k, p in deg.items()}
    if reference:
        ref_path = Path(reference)
        if Path(degraded).is_file() != ref_path.is_file():
            raise BenchmarkError("--degraded and --reference must both be files or both be folders")
        if ref_path.is_file():
            only = next(iter(pairs.values()))
            only.reference = ref_path
        else:
            refs = _audio_files(ref_path)
            for k, p in pairs.items():
                p.reference = refs.get(k)
                if p.reference is None:
                    p.problems.append(f"no reference '{k}.*' in {ref_path}")
            for k in sorted(set(refs) - set(pairs)):
                pairs[k] = Pair(k, None, refs[k], problems=[f"reference has no processed file '{k}.*'"])
    if transcripts:
        texts = read_transcripts(Path(transcripts))
        for k, p in pairs.items():
            p.transcript = texts.get(k, texts.get(Path(k).name))
    return [pairs[k] for k in sorted(pairs)]


def _row(metric, backend, version, rate, pair: Pair, col, value, error, aux) -> dict:
    return {"item": pair.key, "metric": metric, "column": col, "value": value, "error": error,
            "backend": backend, "backend_version": version, "rate": rate,
            "degraded": str(pair.degraded or ""), "reference": str(pair.reference or ""),
            "aux": json.dumps(aux, sort_keys=True) if aux else ""}


def score_pairs(pairs: list[Pair], metric_names: list[str], profile: str, device: str = "cpu",
                on_batch: Callable[[list[dict], list[dict]], None] | None = None
                ) -> tuple[list[dict], list[dict]]:
    """Per-item rows and per-metric summary rows (aggregate over scored items). `on_batch(rows,
    summary)` is called with everything so far after each scored batch (to write it as it goes)."""
    from metrics import METRICS, MetricItem
    from metrics.base import choose_backend, parse_metric_spec
    metrics = []
    for text in metric_names:
        spec = parse_metric_spec(text)
        cls = METRICS.get(spec.name)
        if getattr(cls, "measured_by_runner", False):
            raise BenchmarkError(f"metric '{spec.name}' is measured by the runner around a system call; "
                                 "it cannot score files (use `python -m benchmark runtime`)")
        m = cls(backend=choose_backend(cls.info, spec.backend, profile, True), device=device)
        if any(o.info.name == m.info.name and o.backend == m.backend for o in metrics):
            continue
        m.load()                                   # missing weights/extras: one clear error here
        metrics.append(m)
    rows, summary = [], []
    for m in metrics:
        i = m.info
        scores, used = [], []
        t0 = time.perf_counter()
        todo = []
        for p in pairs:
            if p.degraded is None:
                problems = list(p.problems)
            elif i.needs_reference and p.reference is None:
                problems = p.problems or ["no --reference given and this metric needs one"]
            else:
                problems = []
            if p.degraded is not None and i.needs_transcript and not p.transcript:
                problems.append("no transcript for this item in --transcripts")
            if problems:
                for col in i.columns:
                    rows.append(_row(i.name, m.backend, "", i.rate, p, col, None, "; ".join(problems), {}))
                continue
            todo.append(p)
        for start in range(0, len(todo), BATCH):
            chunk, items = todo[start:start + BATCH], []
            for p in chunk:
                try:
                    x, r = read_audio(p.degraded, mix_channels=True)
                    ref, rr = read_audio(p.reference, mix_channels=True) if p.reference else (None, None)
                    items.append(MetricItem(p.key, x, r, ref, rr, p.transcript))
                except BenchmarkError as exc:
                    items.append(exc)
            ok = [it for it in items if not isinstance(it, Exception)]
            got = iter(m.score(ok) if ok else [])
            for p, it in zip(chunk, items, strict=True):
                if isinstance(it, Exception):
                    for col in i.columns:
                        rows.append(_row(i.name, m.backend, m.backend_version, i.rate, p, col, None, str(it), {}))
                    continue
                s = next(got)
                scores.append(s)
                used.append(p)
                for col in i.columns:
                    v = s.values.get(col) if s.error is None else None
                    rows.append(_row(i.name, m.backend, m.backend_version, i.rate, p, col, v, s.error, s.aux))
            if on_batch is not None:
                on_batch(rows, summary)
        agg = m.aggregate(scores) if scores else {c: math.nan for c in i.columns}
        n_ok = sum(1 for s in scores if s.error is None)
        for col in i.columns:
            summary.append({"metric": i.name, "column": col, "value": agg.get(col, math.nan),
                            "scored": n_ok, "errors": len(pairs) - n_ok, "backend": m.backend,
                            "backend_version": m.backend_version, "rate": i.rate,
                            "seconds": round(time.perf_counter() - t0, 2)})
    return rows, summary


def check_out(out: Path) -> None:
    """--out must be writable before any scoring starts: a known extension, not a folder, and a
    folder we can create files in."""
    if out.suffix.lower() not in (".csv", ".json"):
        raise BenchmarkError(f"--out {out}: unsupported extension, use .csv or .json")
    if out.is_dir():
        raise BenchmarkError(f"--out {out}: is a folder; give a .csv or .json file name")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.name}.", suffix=".check"):
            pass
    except OSError as exc:
        raise BenchmarkError(f"--out {out}: cannot write there ({exc.strerror or exc})") from exc


def write_rows(rows: list[dict], summary: list[dict], out: Path) -> None:
    """Write (atomically: temp file + rename) all rows so far; called after every batch."""
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise BenchmarkError(f"--out {out}: unsupported extension '{suffix}', use .csv or .json")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    os.close(fd)
    try:
        if suffix == ".json":
            Path(tmp).write_text(json.dumps({"items": rows, "summary": summary}, indent=1, default=str))
        else:
            import pandas as pd
            pd.DataFrame(rows).to_csv(tmp, index=False)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def run(args: argparse.Namespace) -> int:
    from metrics import METRICS
    from metrics.base import choose_backend, parse_metric_spec
    for text in args.metrics:                     # unknown metric/backend: fail before anything else
        spec = parse_metric_spec(text)
        choose_backend(METRICS.get(spec.name).info, spec.backend, args.profile, True)
    out = Path(args.out) if args.out else None
    if out is not None:
        check_out(out)
    pairs = collect(args.degraded, args.reference, args.transcripts)
    rows, summary = score_pairs(pairs, args.metrics, args.profile, args.device,
                                on_batch=(lambda r, s: write_rows(r, s, out)) if out else None)
    print_table([{k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in r.items()
                  if k != "seconds"} for r in summary])
    errors = list({(r["metric"], r["item"]): r for r in rows if r["error"]}.values())
    for r in errors[:20]:
        print(f"error: {r['metric']} {r['item']}: {r['error']}")
    if len(errors) > 20:
        print(f"... and {len(errors) - 20} more item errors (see --out)")
    if out is not None:
        write_rows(rows, summary, out)
        print(f"wrote {len(rows)} rows to {out}")
    return 0
