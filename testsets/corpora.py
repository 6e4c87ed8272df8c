"""The raw corpora the builders read (under BENCHMARK_CORPORA), how to find their files, and the
one error a missing corpus gives: what, where it was looked for, where to get it, what layout."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from benchmark.core.errors import BenchmarkError


class MissingCorpusError(BenchmarkError):
    pass


@dataclass(frozen=True)
class Corpus:
    name: str
    folder: str                 # relative to BENCHMARK_CORPORA
    homepage: str
    layout: str                 # the files a builder reads, relative to `folder`
    asset: str = ""             # asset-registry name of its archive (`assets fetch`), if any
    probe: str = ""             # a sub-path that must exist for the corpus to count as found
    alt_folders: tuple[str, ...] = ()   # older / other layouts accepted too, tried after `folder`

    def _candidates(self, corpora: Path) -> list[Path]:
        return [Path(corpora) / f for f in (self.folder, *self.alt_folders)]

    def root(self, corpora: Path) -> Path:
        """The first candidate folder that holds the corpus (the main layout if none does)."""
        for root in self._candidates(corpora):
            if (root / self.probe).is_dir():
                return root
        return Path(corpora) / self.folder

    def found(self, corpora: Path) -> bool:
        return any((root / self.probe).is_dir() for root in self._candidates(corpora))

    def require(self, corpora: Path) -> Path:
        if not self.found(corpora):
            root = Path(corpora) / self.folder
            looked = " or ".join(str(r / self.probe) for r in self._candidates(corpora))
            fetch = f"\n  or, with internet: python -m benchmark assets fetch {self.asset} " \
                    f"(then unpack it into {Path(corpora).resolve()})" if self.asset else ""
            raise MissingCorpusError(
                f"corpus '{self.name}' not found: looked for {looked}\n"
                f"  (BENCHMARK_CORPORA={Path(corpora).resolve()})\n"
                f"  download it from {self.homepage}{fetch}\n"
                f"  expected layout under {root}: {self.layout}")
        return self.root(corpora)


CORPORA: dict[str, Corpus] = {c.name: c for c in (
    Corpus("vctk", "VCTK-Corpus-0.92", "https://datashare.ed.ac.uk/handle/10283/3443",
           "wav48_silence_trimmed/<spk>/<spk>_<nnn>_mic1.flac and txt/<spk>/<spk>_<nnn>.txt",
           asset="vctk_0.92", probe="wav48_silence_trimmed"),
    Corpus("librispeech", "LibriSpeech", "https://www.openslr.org/12",
           "test-clean/<spk>/<chapter>/<spk>-<chapter>-<nnnn>.flac and <spk>-<chapter>.trans.txt",
           asset="librispeech_test_clean", probe="test-clean"),
    Corpus("voicebank_demand", "VoiceBank-DEMAND", "https://datashare.ed.ac.uk/handle/10283/2791",
           "clean_testset_wav/<id>.wav, noisy_testset_wav/<id>.wav (same ids), testset_txt/<id>.txt",
           probe="noisy_testset_wav"),
    Corpus("noise", "noise", "https://dcase.community/challenge2018/task-acoustic-scene-"
           "classification (TUT Urban Acoustic Scenes 2018, evaluation set)",
           "<any name>.wav|.flac noise recordings (DCASE-Eval for all_gsr)", probe="."),
    # A clone of microsoft/DNS-Challenge (branch interspeech2020/master) holds the test set under
    # datasets/test_set/; the older form DNS-Challenge/test_set/ (a copied folder) is accepted too.
    Corpus("dns2020", "DNS-Challenge/datasets/test_set",
           "https://github.com/microsoft/DNS-Challenge/tree/interspeech2020/master/datasets/test_set",
           "synthetic/no_reverb/noisy/clnsp<k>_<noise>_snr<S>_tl<T>_fileid_<n>.wav paired with "
           "synthetic/no_reverb/clean/clean_fileid_<n>.wav, the same under synthetic/with_reverb/, "
           "real_recordings/*.wav", probe=".", alt_folders=("DNS-Challenge/test_set",)),
)}

VCTK_TEST_SPEAKERS = ("p360", "p361", "p362", "p363", "p364", "p374", "p376", "s5")
AUDIO_SUFFIXES = (".wav", ".flac")


@dataclass(frozen=True)
class Utterance:
    path: str                   # relative to BENCHMARK_CORPORA
    speaker: str
    transcript: str | None
    frames: int
    rate: int


def _info(corpora: Path, path: Path) -> tuple[int, int]:
    try:
        info = sf.info(str(path))
    except Exception as exc:
        raise BenchmarkError(f"{path}: cannot read audio header ({exc})") from exc
    return int(info.frames), int(info.samplerate)


def _rel(corpora: Path, path: Path) -> str:
    return path.relative_to(corpora).as_posix()


def vctk_utterances(corpora: Path, speakers=VCTK_TEST_SPEAKERS, mic: str = "mic1") -> list[Utterance]:
    root = CORPORA["vctk"].require(corpora)
    out = []
    for spk in speakers:
        folder = root / "wav48_silence_trimmed" / spk
        files = sorted(folder.glob(f"{spk}_*_{mic}.flac")) + sorted(folder.glob(f"{spk}_*_{mic}.wav"))
        if not files:
            raise MissingCorpusError(f"corpus 'vctk': no {mic} files of speaker {spk} in {folder} "
                                     f"(expected {spk}_<nnn>_{mic}.flac)")
        for f in files:
            stem = f.name.rsplit(f"_{mic}", 1)[0]
            txt = root / "txt" / spk / f"{stem}.txt"
            frames, rate = _info(corpora, f)
            out.append(Utterance(_rel(corpora, f), spk,
                                 txt.read_text().strip() if txt.exists() else None, frames, rate))
    return out


def librispeech_utterances(corpora: Path, subset: str = "test-clean") -> list[Utterance]:
    root = CORPORA["librispeech"].require(corpora) / subset
    out = []
    for trans in sorted(root.glob("*/*/*.trans.txt")):
        lines = dict(line.split(" ", 1) for line in trans.read_text().splitlines() if " " in line)
        for f in sorted(trans.parent.glob("*.flac")):
            frames, rate = _info(corpora, f)
            out.append(Utterance(_rel(corpora, f), f.name.split("-")[0],
                                 lines.get(f.stem, "").strip() or None, frames, rate))
    if not out:
        raise MissingCorpusError(f"corpus 'librispeech': no utterances under {root} "
                                 f"(expected {CORPORA['librispeech'].layout})")
    return out


@dataclass(frozen=True)
class NoiseSource:
    path: str                   # relative to BENCHMARK_CORPORA (the noisy file for VB-DEMAND)
    clean: str | None           # VB-DEMAND: the clean file to subtract (noise = noisy - clean)
    frames: int
    rate: int


def noise_files(corpora: Path) -> list[NoiseSource]:
    root = CORPORA["noise"].require(corpora)
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise MissingCorpusError(f"corpus 'noise': no .wav/.flac files under {root}")
    return [NoiseSource(_rel(corpora, f), None, *_info(corpora, f)) for f in files]


def voicebank_noises(corpora: Path) -> list[NoiseSource]:
    root = CORPORA["voicebank_demand"].require(corpora)
    out = []
    for noisy in sorted((root / "noisy_testset_wav").glob("*.wav")):
        clean = root / "clean_testset_wav" / noisy.name
        if not clean.exists():
            raise MissingCorpusError(f"corpus 'voicebank_demand': {noisy.name} has no clean "
                                     f"counterpart {clean}")
        out.append(NoiseSource(_rel(corpora, noisy), _rel(corpora, clean), *_info(corpora, noisy)))
    if not out:
        raise MissingCorpusError(f"corpus 'voicebank_demand': no files in {root / 'noisy_testset_wav'}")
    return out


FILEID = re.compile(r"fileid_(\d+)$")
# DNS 2020 synthetic noisy names: clnsp<k>_<noise>_snr<S>_tl<T>_fileid_<n> (S, T integers, dB)
DNS_NOISY = re.compile(r"_snr(-?\d+(?:\.\d+)?)_tl(-?\d+(?:\.\d+)?)_fileid_\d+$")


def file_id(path: Path) -> int | None:
    """The `fileid_<n>` a DNS file name ends with (None when it has none)."""
    m = FILEID.search(path.stem)
    return int(m.group(1)) if m else None


def dns_mix_levels(path: Path) -> tuple[float, float] | None:
    """(SNR dB, target level dB) encoded in a DNS 2020 noisy file name, or None."""
    m = DNS_NOISY.search(path.stem)
    return (float(m.group(1)), float(m.group(2))) if m else None
