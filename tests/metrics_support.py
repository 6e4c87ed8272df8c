"""Real clips from ../shared/data used by the metric tests (helpers only; no tests here)."""

from __future__ import annotations

from pathlib import Path

from corpora_support import dns_pair

from benchmark.core.audio import read_audio
from metrics import MetricItem

DNS_IDS = (15, 16, 72)


def item(path: Path, ref: Path | None = None, text: str | None = None, id: str | None = None) -> MetricItem:
    x, r = read_audio(path)
    rx, rr = read_audio(ref) if ref is not None else (None, None)
    return MetricItem(id or path.stem, x, r, rx, rr, text)


def dns_pairs(corpora: Path) -> list[tuple[Path, Path]]:
    """(noisy, clean) paths of the DNS synthetic no-reverb pairs."""
    return [dns_pair(corpora, i) for i in DNS_IDS]


def vctk_clips(corpora: Path) -> list[Path]:
    return sorted((corpora / "VCTK-Corpus-0.92" / "wav48_silence_trimmed").glob("*/*.flac"))


def voicebank(corpora: Path) -> list[tuple[Path, Path, str]]:
    """(noisy, clean, transcript) of the VoiceBank-DEMAND p287 pairs."""
    d = corpora / "VoiceBank-DEMAND"
    out = []
    for clean in sorted((d / "clean_testset_wav").glob("*.wav")):
        text = (d / "testset_txt" / f"{clean.stem}.txt").read_text().strip()
        out.append((d / "noisy_testset_wav" / clean.name, clean, text))
    return out
