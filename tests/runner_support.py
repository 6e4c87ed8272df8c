"""Test-only helpers for the runner/store/report tests: small test sets built by hand from the real
mini corpora, and tiny System/Metric classes registered only while a test needs them.

Run as a script (`python tests/runner_support.py run ...`) it registers the test plugins and
runs the CLI: the kill -9 test uses this to run the real runner in a subprocess.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmark.core.audio import read_audio, write_audio  # noqa: E402
from metrics.base import METRICS, ItemScore, Metric, MetricInfo  # noqa: E402
from systems.base import SYSTEMS, System, SystemInfo  # noqa: E402
from testsets.manifest import ManifestItem, write_manifest  # noqa: E402

CALLS_ENV = "RUNNER_TEST_CALLS"     # file the test plugins append one line per call to


def _log_call(what: str, n: int) -> None:
    path = os.environ.get(CALLS_ENV)
    if path:
        with open(path, "a") as f:
            f.write(f"{what} {n}\n")


class HalfGain(System):
    """Scales by 0.5 at 16 kHz: exercises the runner's resampling in and out."""
    info = SystemInfo(name="t_half", version="1", rate=16000, description="test: x 0.5 at 16 kHz",
                      backend="numpy", max_batch=4)

    def restore(self, items):
        _log_call("restore t_half", len(items))
        delay = float(os.environ.get("RUNNER_TEST_DELAY", "0"))
        if delay:
            time.sleep(delay * len(items))
        return [0.5 * it.audio for it in items]


class Exploding(System):
    """Returns NaN for items whose id ends in '3' and raises for ids ending in '4'."""
    info = SystemInfo(name="t_bad", version="1", rate=16000, description="test: failures",
                      backend="numpy", max_batch=8)

    def restore(self, items):
        _log_call("restore t_bad", len(items))
        out = []
        for it in items:
            if it.id.endswith("4"):
                raise RuntimeError(f"cannot restore {it.id}")
            y = it.audio.copy()
            if it.id.endswith("3"):
                y[100] = np.nan
            out.append(y)
        return out


class RmsDb(Metric):
    info = MetricInfo(name="t_rms", rate=16000, needs_reference=False, needs_transcript=False,
                      higher_is_better=True, columns=("dB",), backends=("numpy",),
                      paper_backend="numpy")

    @property
    def backend_version(self) -> str:
        return "1"

    def score(self, items):
        _log_call("score t_rms", len(items))
        return [ItemScore(values={"dB": float(10 * np.log10(np.mean(self.at_rate(i.audio, i.rate) ** 2)))})
                for i in items]


class Snr(Metric):
    info = MetricInfo(name="t_snr", rate=16000, needs_reference=True, needs_transcript=False,
                      higher_is_better=True, columns=("SNR",), backends=("numpy",),
                      paper_backend="numpy")

    @property
    def backend_version(self) -> str:
        return "1"

    def score(self, items):
        _log_call("score t_snr", len(items))
        out = []
        for i in items:
            x = self.at_rate(i.audio, i.rate)
            r = self.at_rate(i.reference, i.reference_rate)
            n = min(x.size, r.size)
            err = np.sum((x[:n] - r[:n]) ** 2)
            out.append(ItemScore(values={"SNR": float(10 * np.log10(np.sum(r[:n] ** 2) / err))}))
        return out


TEST_SYSTEMS = (HalfGain, Exploding)
TEST_METRICS = (RmsDb, Snr)


def register() -> None:
    for cls in TEST_SYSTEMS:
        SYSTEMS.register(cls)
    for cls in TEST_METRICS:
        METRICS.register(cls)


def unregister() -> None:
    for cls in TEST_SYSTEMS:
        SYSTEMS.unregister(cls.info.name)
    for cls in TEST_METRICS:
        METRICS.unregister(cls.info.name)


def make_vb_set(corpora: Path, root: Path, name: str = "vb_pairs", n: int = 6) -> Path:
    """A hand-made set over the real VoiceBank-DEMAND pairs (16 kHz), SNR params from the audio."""
    src = corpora / "VoiceBank-DEMAND"
    folder = root / name
    (folder / "degraded").mkdir(parents=True, exist_ok=True)
    (folder / "target").mkdir(parents=True, exist_ok=True)
    items = []
    for k, noisy in enumerate(sorted((src / "noisy_testset_wav").glob("*.wav"))[:n]):
        stem = noisy.stem
        clean = src / "clean_testset_wav" / noisy.name
        shutil.copy(noisy, folder / "degraded" / noisy.name)
        shutil.copy(clean, folder / "target" / noisy.name)
        x, sr = read_audio(noisy)
        s, _ = read_audio(clean)
        snr = float(10 * np.log10(np.sum(s ** 2) / np.sum((x - s) ** 2)))
        text = (src / "testset_txt" / f"{stem}.txt")
        items.append(ManifestItem(
            id=f"{name}_{k:03d}", degraded=f"degraded/{noisy.name}", target=f"target/{noisy.name}",
            rate=sr, target_rate=sr, duration=x.size / sr, subset="odd" if k % 2 else "even",
            transcript=text.read_text().strip() if text.exists() else None, speaker="p287",
            seed=k, params={"noise": {"snr_db": snr}, "rir": None if k % 2 else "rirs/rir_clap.wav"},
            conditions={"snr_db": snr, "reverb": not k % 2}))     # typed, as builders write them
    write_manifest(folder / "manifest.jsonl", items)
    (folder / "info.json").write_text('{"builder": "test", "seed": 0, "version": "1"}')
    return folder


def make_vctk_set(corpora: Path, root: Path, name: str = "vctk_mini", n: int = 3) -> Path:
    """A 48 kHz set over real VCTK utterances, degraded by a 4 kHz band limit (resample)."""
    from benchmark.core.audio import resample
    folder = root / name
    items = []
    for k, f in enumerate(sorted((corpora / "VCTK-Corpus-0.92" / "wav48_silence_trimmed").glob("*/*.flac"))[:n]):
        x, sr = read_audio(f)
        x = x[: 3 * sr]
        low = resample(resample(x, sr, 8000), 8000, sr)[: x.size]
        write_audio(folder / "degraded" / f"{f.stem}.wav", low, sr)
        write_audio(folder / "target" / f"{f.stem}.wav", x, sr)
        items.append(ManifestItem(id=f"{name}_{k:03d}", degraded=f"degraded/{f.stem}.wav",
                                  target=f"target/{f.stem}.wav", rate=sr, target_rate=sr,
                                  duration=x.size / sr, params={"lowpass": {"cutoff_hz": 4000}}))
    write_manifest(folder / "manifest.jsonl", items)
    return folder


if __name__ == "__main__":
    register()
    from benchmark.cli import main
    raise SystemExit(main(sys.argv[1:]))


def item_rows(con) -> dict:
    """Outputs and scores of a run store keyed by (system, set, item[, metric, column])."""
    return {
        "outputs": {(s, t, i): (sha, err) for s, t, i, sha, err in con.execute(
            "SELECT io.system, io.testset, io.item_id, o.sha256, o.error FROM item_outputs io "
            "JOIN outputs o ON o.system_key=io.system_key AND o.input_sha256=io.input_sha256")},
        "scores": {(s, t, i, m, c): v for s, t, i, m, c, v in con.execute(
            "SELECT io.system, io.testset, io.item_id, sc.metric, sc.column_name, sc.value "
            "FROM item_outputs io JOIN outputs o ON o.system_key=io.system_key AND "
            "o.input_sha256=io.input_sha256 JOIN scores sc ON sc.output_sha256=o.sha256")},
    }
