"""The Python API: restore your own recordings, score files, read a run's results, from a script.

Three functions, the library face of three commands (each returns rows: one dict per item, and a
pandas DataFrame with `as_frame=True` when pandas is installed):

- `restore(systems, input, out)`: `python -m benchmark restore`, every system on a file or folder;
- `score(degraded, metrics, reference=...)`: `python -m benchmark score`, metrics on files;
- `load_results(run)`: the per-item scores of a `python -m benchmark run`, from its store.

They run the same code as the commands (the runner's restore and score jobs: resampling, item
errors, caching), so numbers agree with the reports. Failures the user can fix (an unknown system
or metric, missing weights, an unwritable folder) raise `benchmark.core.errors.BenchmarkError`
with one clear message; a file that cannot be restored or scored is a row with an `error`.
The examples below are run by tests/test_api.py on the real clips in ../shared/data.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmark.core.audio import DEFAULT_MAX_ITEM_SECONDS
from benchmark.core.errors import BenchmarkError
from benchmark.run.processes import DEFAULT_ITEM_TIMEOUT

__all__ = ["restore", "score", "load_results"]

PathLike = str | os.PathLike


def _rows_or_frame(rows: list[dict], as_frame: bool) -> Any:
    if not as_frame:
        return rows
    from benchmark.core.deps import require
    pd = require("pandas", "dev", "as_frame=True")
    return pd.DataFrame(rows)


def restore(systems: list[str] | str, input: PathLike, out: PathLike, *, device: str = "cpu",
            workers: int = 1, checkpoints: Mapping[str, PathLike] | None = None,
            max_item_seconds: float | None = DEFAULT_MAX_ITEM_SECONDS,
            item_timeout: float | None = DEFAULT_ITEM_TIMEOUT,
            retry_errors: bool = False, as_frame: bool = False) -> Any:
    """Restore a .wav/.flac file, or every one under a folder, with each system.

    Outputs go to `out/<system>/<the input's relative name>` at the input's sample rate and
    length. Calling again restores only new or changed files. Rows: system, name (relative to
    `input`), input, output (None on error), rate, seconds (the system's wall time for the file),
    audio_seconds, cached, error.

    >>> import tempfile, soundfile as sf
    >>> from benchmark import api
    >>> vb = "../shared/data/corpora/VoiceBank-DEMAND"        # real clips beside the repository
    >>> out = tempfile.mkdtemp()
    >>> rows = api.restore(["nsnet2"], f"{vb}/noisy_testset_wav", out)
    >>> [(r["name"], r["error"]) for r in rows][:2]
    [('p287_001.wav', None), ('p287_002.wav', None)]
    >>> o, i = sf.info(rows[0]["output"]), sf.info(rows[0]["input"])
    >>> rows[0]["output"] == f"{out}/nsnet2/p287_001.wav", o.samplerate, o.frames == i.frames
    (True, 16000, True)
    >>> all(r["cached"] for r in api.restore(["nsnet2"], f"{vb}/noisy_testset_wav", out))
    True
    """
    from benchmark.run.restore_files import restore_files
    from systems.base import SystemSpec
    names = [systems] if isinstance(systems, str) else list(systems)
    ckpt = dict(checkpoints or {})
    unknown = sorted(set(ckpt) - set(names))
    if unknown:
        raise BenchmarkError(f"checkpoints given for systems not in `systems`: {', '.join(unknown)}")
    specs = [SystemSpec(n, {"checkpoint": str(ckpt[n])} if n in ckpt else {})
             for n in dict.fromkeys(names)]
    rows = restore_files(specs, input, out, device=device, workers=workers,
                         max_item_seconds=max_item_seconds, retry_errors=retry_errors,
                         item_timeout=item_timeout)
    return _rows_or_frame([asdict(r) for r in rows], as_frame)


def score(degraded: PathLike, metrics: list[str] | str, *, reference: PathLike | None = None,
          transcripts: PathLike | Mapping[str, str] | None = None, profile: str = "offline",
          device: str = "cpu", summary: bool = False, as_frame: bool = False) -> Any:
    """Score a file, or a folder of files, with metrics (`NAME` or `NAME:BACKEND`).

    Folders pair with `reference` by relative name (the extension may differ). `transcripts`
    (for WER) is a file of '<name> <text>' lines or a {name: text} dict (name without extension).
    Rows: item, metric, column, value, error, backend, backend_version, rate, degraded, reference,
    aux. `summary=True` returns one row per metric column instead: value (the set value, as the
    report computes it), scored, errors, backend, backend_version, rate, seconds.

    >>> from benchmark import api
    >>> vb = "../shared/data/corpora/VoiceBank-DEMAND"
    >>> rows = api.score(f"{vb}/noisy_testset_wav/p287_001.wav", ["si_snr", "pesq"],
    ...                  reference=f"{vb}/clean_testset_wav/p287_001.wav")
    >>> [(r["metric"], r["column"], round(r["value"], 2), r["backend"]) for r in rows]
    [('si_snr', 'SI-SNR', 12.75, 'numpy'), ('pesq', 'PESQ-wb', 1.76, 'pesq')]
    >>> api.score(f"{vb}/noisy_testset_wav", "si_snr", reference=f"{vb}/clean_testset_wav",
    ...           summary=True)[0]["scored"]
    6
    """
    from benchmark.commands.score import collect, score_pairs
    from benchmark.run.plan import resolve
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    resolve(names, profile)              # an unknown metric or backend fails before any reading
    texts = transcripts if isinstance(transcripts, Mapping) else None
    pairs = collect(str(degraded), str(reference) if reference is not None else None,
                    None if texts is not None or transcripts is None else str(transcripts))
    if texts is not None:
        for p in pairs:
            p.transcript = texts.get(p.key, texts.get(Path(p.key).name))
    rows, summ = score_pairs(pairs, names, profile, device)
    return _rows_or_frame(summ if summary else rows, as_frame)


def load_results(run: str, *, as_frame: bool = False) -> Any:
    """The per-item scores of a run (`python -m benchmark run ... --name RUN`), read from its
    store: the rows of the report's scores.csv. Rows: testset, subset, item_id, system, metric
    (the report's column name: `lsd`, or `lsd:voicefixer2021` for a second backend), column,
    value, error, backend, backend_version, rate, aux.

    For this example a run named `example` was made as the tests make it (tests/test_api.py):
    `python -m benchmark run --systems unprocessed nsnet2 --testsets vb --metrics si_snr
    --profile offline --name example` on two VoiceBank-DEMAND pairs.

    >>> from benchmark import api
    >>> rows = api.load_results("example")
    >>> sorted({(r["system"], r["metric"], r["column"]) for r in rows})
    [('nsnet2', 'si_snr', 'SI-SNR'), ('unprocessed', 'si_snr', 'SI-SNR')]
    >>> df = api.load_results("example", as_frame=True)       # needs pandas
    >>> df.groupby("system")["value"].mean().round(2).to_dict()
    {'nsnet2': 5.39, 'unprocessed': 10.87}
    """
    from benchmark.report.results import load
    from benchmark.run.store import Store
    store = Store.existing(run)
    try:
        data = load(store, run)
    finally:
        store.close()
    return _rows_or_frame([asdict(r, dict_factory=_record) for r in data.records], as_frame)


def _record(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A report record as a row of scores.csv: without the store's keys (metric key, build)."""
    return {k: v for k, v in pairs if k not in ("metric_key", "build")}
