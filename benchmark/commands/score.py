"""`score`: score audio files or folders outside a run."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmark.commands._util import print_table
from benchmark.core.audio import SUPPORTED_SUFFIXES, find_audio
from benchmark.core.errors import BenchmarkError
from benchmark.core.files import atomic_write, write_csv

NAME = "score"
HELP = "score files or folders with chosen metrics (outside a run)"
DESCRIPTION = """\
Scores processed audio produced by any system. PATH is a file or a folder; folders are paired
with --reference by relative file name (the extension may differ: out/a.wav pairs clean/a.flac);
unpaired files are listed as errors. A metric is NAME (its offline backend, or the papers' with
--profile paper) or NAME:BACKEND (exactly that backend, e.g. lsd:voicefixer2021; see `metrics
list`). Every row records metric, backend, backend version (after loading: model file sha256,
resampler) and the rate the item was scored at (a backend that scores at the files' own rate,
e.g. si_snr:speechmetrics, names each file's rate). --out is checked before any scoring and
rewritten after every batch, so an interrupted run keeps what it finished.

example:
  python -m benchmark score --metrics dnsmos lsd:voicefixer2021 --degraded out/ --reference clean/ --out s.csv
"""


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
    """The audio files of PATH by relative name without the extension (the pairing key)."""
    return {str(Path(name).with_suffix("")): p for name, p in find_audio(path).items()}


def read_transcripts(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise BenchmarkError(f"{path}: no such transcripts file")
    out: dict[str, str] = {}
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        line_no = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise BenchmarkError(f"{path}:{line_no}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); "
                             "re-save the transcripts as UTF-8 (e.g. iconv -f latin1 -t utf-8)") from None
    for n, line in enumerate(text.splitlines(), 1):
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


FIELDS = ["item", "metric", "column", "value", "error", "backend", "backend_version", "rate",
          "degraded", "reference", "aux"]


def _row(metric, backend, version, rate, pair: Pair, col, value, error, aux) -> dict:
    return {"item": pair.key, "metric": metric, "column": col, "value": value, "error": error,
            "backend": backend, "backend_version": version, "rate": rate,
            "degraded": str(pair.degraded or ""), "reference": str(pair.reference or ""),
            "aux": json.dumps(aux, sort_keys=True) if aux else ""}


def _problems(pair: Pair, info) -> list[str]:
    """Why this pair cannot be scored by this metric (nothing: it can)."""
    if pair.degraded is None:
        return list(pair.problems)
    problems = []
    if info.needs_reference and pair.reference is None:
        problems = pair.problems or ["no --reference given and this metric needs one"]
    if info.needs_transcript and not pair.transcript:
        problems.append("no transcript for this item in --transcripts")
    return problems


def score_pairs(pairs: list[Pair], metric_names: list[str], profile: str, device: str = "cpu",
                on_batch: Callable[[list[dict], list[dict]], None] | None = None
                ) -> tuple[list[dict], list[dict]]:
    """Per-item rows and per-metric summary rows (the set value of `benchmark.report.results.summarize`,
    the report's own: mean over items, or the corpus ratio of a corpus-level column). Items are scored by
    the runner's job code (`benchmark.run.jobs.score_job`: batch, then one item at a time when a
    batch fails, every failure recorded per item), with the metrics loaded once up front.
    `on_batch(rows, summary)` gets everything so far after each job (to write it as it goes)."""
    from benchmark.report.results import summarize
    from benchmark.run.jobs import ScoreInput, score_job, score_jobs
    from benchmark.run.plan import load_versions, resolve
    from benchmark.run.store import ItemScoreRow
    # missing weights/extras: one clear error here, before any scoring; the version is taken after
    # load() (model file sha256, resampler)
    plans = load_versions(resolve(metric_names, profile).metrics, device)
    rows, summary = [], []
    for plan in plans:
        info, backend, version = plan.info, plan.backend, plan.version
        dev = info.device_for(device)
        t0 = time.perf_counter()
        inputs, by_key = [], {}
        for p in pairs:
            problems = _problems(p, info)
            if problems:
                rows += [_row(info.name, backend, "", info.scored_rate(backend, {}), p, col, None,
                              "; ".join(problems), {})
                         for col in info.columns]
                continue
            by_key[p.key] = p
            inputs.append(ScoreInput((p.key, ""), str(p.degraded),
                                     str(p.reference) if p.reference else None, p.transcript))
        scores = []
        for job in score_jobs(info.name, backend, dev, inputs, mix_channels=True):
            for oc in score_job(job):
                p = by_key[oc.key[0]]
                scores += [ItemScoreRow("", "", p.key, "", info.name, col, oc.values.get(col), oc.error,
                                           backend, version, info.scored_rate(backend, oc.aux), oc.aux)
                           for col in info.columns]
                rows += [_row(info.name, backend, version, info.scored_rate(backend, oc.aux), p, col,
                              oc.values.get(col) if oc.error is None else None, oc.error, oc.aux)
                         for col in info.columns]
            if on_batch is not None:
                on_batch(rows, summary)
        n_ok = len({s.item_id for s in scores if s.error is None})
        info_dict = asdict(info)
        rates = sorted({r for s in scores if s.error is None
                        if (r := info.scored_rate(backend, s.aux)) is not None})
        for col in info.columns:
            cell = summarize([s for s in scores if s.column == col], info_dict, col)
            summary.append({"metric": info.name, "column": col, "value": cell.mean,
                            "scored": n_ok, "errors": len(pairs) - n_ok, "backend": backend,
                            "backend_version": version,
                            "rate": (rates[0] if len(rates) == 1 else "/".join(map(str, rates))
                                     if rates else info.scored_rate(backend, {})),
                            "seconds": round(time.perf_counter() - t0, 2)})
    order = [(p.name, p.backend) for p in plans]
    rows.sort(key=lambda r: (order.index((r["metric"], r["backend"])), r["item"]))
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
    """Write all rows so far atomically (temp file, then rename); called after every batch."""
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise BenchmarkError(f"--out {out}: unsupported extension '{suffix}', use .csv or .json")
    if suffix == ".json":
        atomic_write(out, json.dumps({"items": rows, "summary": summary}, indent=1, default=str))
    else:
        write_csv(out, FIELDS, rows)


def run(args: argparse.Namespace) -> int:
    from benchmark.run.plan import resolve
    resolve(args.metrics, args.profile)     # unknown metric/backend: fail before anything else
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
