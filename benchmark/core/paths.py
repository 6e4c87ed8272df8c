"""Where things live. Each location is an environment variable and also a CLI flag.

- BENCHMARK_CORPORA: raw corpora in their standard layouts (VCTK-Corpus-0.92/, LibriSpeech/,
  VoiceBank-DEMAND/, DNS-Challenge/, noise/, rirs/). Default ./corpora.
- BENCHMARK_DATA: built test sets (testsets/<name>/) and run stores (runs/<name>/). Default ./data.
- BENCHMARK_CACHE: downloaded assets (weights, corpora archives). Default: the user cache dir.
- BENCHMARK_REPORTS: generated reports (<run>/report.md). Default ./reports.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def _env_path(var: str, default: Path) -> Path:
    value = os.environ.get(var, "").strip()
    return Path(value).expanduser() if value else default


def corpora_dir() -> Path:
    return _env_path("BENCHMARK_CORPORA", Path("corpora"))


def data_dir() -> Path:
    return _env_path("BENCHMARK_DATA", Path("data"))


def testsets_dir() -> Path:
    return data_dir() / "testsets"


def runs_dir() -> Path:
    return data_dir() / "runs"


def cache_dir() -> Path:
    return _env_path("BENCHMARK_CACHE", Path(platformdirs.user_cache_dir("speech-restoration-benchmark")))


def reports_dir() -> Path:
    return _env_path("BENCHMARK_REPORTS", Path("reports"))
