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
    unpack_to: str = "."        # where its archive must be unpacked, relative to BENCHMARK_CORPORA

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
            dest = (Path(corpora) / self.unpack_to).resolve()
            fetch = f"\n  or, with internet: python -m benchmark assets fetch {self.asset} " \
                    f"(then unpack the archive into {dest}, e.g. unzip FILE -d {dest})" \
                if self.asset else ""
            raise MissingCorpusError(
                f"corpus '{self.name}' not found: looked for {looked}\n"
                f"  (BENCHMARK_CORPORA={Path(corpora).resolve()})\n"
                f"  download it from {self.homepage}{fetch}\n"
                f"  expected layout under {root}: {self.layout}")
        return self.root(corpora)


CORPORA: dict[str, Corpus] = {c.name: c for c in (
    # VCTK-Corpus-0.92.zip has no top folder (wav48_silence_trimmed/, txt/, speaker-info.txt at
    # its root; torchaudio's VCTK_092 extracts it into <root>/VCTK-Corpus-0.92): unpack it there.
    Corpus("vctk", "VCTK-Corpus-0.92", "https://datashare.ed.ac.uk/handle/10283/3443",
           "wav48_silence_trimmed/<spk>/<spk>_<nnn>_mic1.flac and txt/<spk>/<spk>_<nnn>.txt",
           asset="vctk_0.92", probe="wav48_silence_trimmed", unpack_to="VCTK-Corpus-0.92"),
    Corpus("librispeech", "LibriSpeech", "https://www.openslr.org/12",
           "test-clean/<spk>/<chapter>/<spk>-<chapter>-<nnnn>.flac and <spk>-<chapter>.trans.txt",
           asset="librispeech_test_clean", probe="test-clean"),
    Corpus("voicebank_demand", "VoiceBank-DEMAND", "https://datashare.ed.ac.uk/handle/10283/2791",
           "clean_testset_wav/<id>.wav, noisy_testset_wav/<id>.wav (same ids), testset_txt/<id>.txt",
           asset="voicebank_demand_noisy_testset", probe="noisy_testset_wav",
           unpack_to="VoiceBank-DEMAND"),
    # DCASE 2018 Task 1 (TUT Urban Acoustic Scenes 2018) evaluation audio, Zenodo 1293883: six
    # .audio.N.zip archives that each unpack to TUT-urban-acoustic-scenes-2018-evaluation/audio/.
    Corpus("dcase2018_eval", "TUT-urban-acoustic-scenes-2018-evaluation", "https://zenodo.org/record/1293883",
           "audio/<n>.wav (10 s binaural 48 kHz scene recordings)", asset="dcase2018_task1_eval_audio_1",
           probe="audio"),
    Corpus("noise", "noise", "https://dcase.community/challenge2018/task-acoustic-scene-"
           "classification (TUT Urban Acoustic Scenes 2018, evaluation set)",
           "<any name>.wav|.flac noise recordings (a stand-in for DCASE-Eval)", probe="."),
    # VoiceFixer's RIR-44k (Zenodo 5528124, RIR_44k.zip unpacks to RIR_44k/{train,test}/): RIRs
    # simulated with sunits/rir_simulator_python at 44.1 kHz, file names carrying the room
    # (voicefixer_main datasets/se/size_1_12_rt60_0.05_1.0_sr_44100/delete_more_than_five_meters.py
    # parses rt60_<t>, room_<x>_<y>_<z>, mic_<x>_<y>_<z>, source_<x>_<y>_<z>), loaded with np.load.
    Corpus("rir44k", "RIR_44k", "https://zenodo.org/record/5528124",
           "test/*room_<x>_<y>_<z>*mic_<x>_<y>_<z>*source_<x>_<y>_<z>*rt60_<t>*.npy (RIR-Test) and "
           "train/ (RIR-Train)", asset="voicefixer_rir44k", probe="test"),
    # VoiceFixer's released test sets (Zenodo 5528144, GSR_and_SSR_testsets.zip unpacks to
    # TestSets/), laid out as voicefixer_main evaluation_proc/config.py (commit 0c206f7) reads them.
    Corpus("voicefixer_testsets", "TestSets", "https://zenodo.org/record/5528144",
           "ALL_GSR/{simulated,target}, SR/{GroundTruth,cheby1/<cutoff>}, DECLI/{GroundTruth,0.1,0.25,"
           "0.5}, DEREV/{GroundTruth,Reverb_Speech}, DENOISE/vd_test/{clean,noisy}_testset_wav and "
           "the pair lists *.lst", asset="voicefixer_testsets", probe=".",
           alt_folders=("voicefixer/TestSets",)),
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


@dataclass(frozen=True)
class RirFile:
    path: str                   # relative to BENCHMARK_CORPORA
    rate: int
    mic: tuple[float, float, float] | None      # from the file name, when it carries the room
    source: tuple[float, float, float] | None
    rt60: float | None


_XYZ = r"([-+]?\d+(?:\.\d+)?)_([-+]?\d+(?:\.\d+)?)_([-+]?\d+(?:\.\d+)?)"
RIR44K_RATE = 44100


def _xyz(name: str, key: str) -> tuple[float, float, float] | None:
    m = re.search(key + "_" + _XYZ, name)
    return (float(m.group(1)), float(m.group(2)), float(m.group(3))) if m else None


def rir44k_files(corpora: Path, split: str = "test") -> list[RirFile]:
    """RIR-44k's files of one split (RIR-Test: `test`), sorted by name, with the geometry their
    names carry (.npy files are 44.1 kHz, as the release; .wav/.flac give their own rate)."""
    root = CORPORA["rir44k"].require(corpora) / split
    files = sorted(p for p in root.glob("*") if p.suffix.lower() in (".npy",) + AUDIO_SUFFIXES)
    if not files:
        raise MissingCorpusError(f"corpus 'rir44k': no .npy/.wav/.flac RIRs in {root} "
                                 f"(expected {CORPORA['rir44k'].layout})")
    out = []
    for f in files:
        rate = RIR44K_RATE if f.suffix.lower() == ".npy" else _info(corpora, f)[1]
        rt = re.search(r"rt60_(\d+(?:\.\d+)?)", f.name)
        out.append(RirFile(_rel(corpora, f), rate, _xyz(f.name, "mic"), _xyz(f.name, "source"),
                           float(rt.group(1)) if rt else None))
    return out


def dcase_noises(corpora: Path) -> list[NoiseSource]:
    """DCASE-Eval (all_gsr's noise, 003 App. C.3): the TUT Urban Acoustic Scenes 2018 evaluation
    audio, every file of audio/ (binaural recordings are mixed to mono when read)."""
    root = CORPORA["dcase2018_eval"].require(corpora) / "audio"
    files = sorted(p for p in root.glob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise MissingCorpusError(f"corpus 'dcase2018_eval': no .wav files in {root}")
    return [NoiseSource(_rel(corpora, f), None, *_info(corpora, f)) for f in files]


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


# --- the published sets' corpora, checked --------------------------------------------------------
@dataclass(frozen=True)
class PublishedCorpus:
    """What a published set read: the corpus a builder should find (counts, speakers, rate)."""
    what: str
    items: int
    speakers: tuple[str, ...]
    rate: int
    reference: str


# VCTK-Test: 003 App. C.3 ("2937 pairs" for DECLI and DEREV) over the 8 test speakers of the
# spec, VCTK 0.92 at 48 kHz; VoiceBank-DEMAND test: 824 utterances of p232 and p257 at 48 kHz
# (003 App. C.1/C.3; VoiceFixer's DENOISE/vd_test as refresh_lists pairs it).
VCTK_TEST = PublishedCorpus("VCTK-Test (mic1)", 2937, VCTK_TEST_SPEAKERS, 48000, "003 App. C.3")
VOICEBANK_TEST = PublishedCorpus("VoiceBank-DEMAND test", 824, ("p232", "p257"), 48000,
                                 "003 App. C.1/C.3")


def corpus_differences(published: PublishedCorpus, speakers: list[str], rates: list[int]) -> list[str]:
    """How the corpus a build read differs from what the published set read (one note each;
    empty when it is the same): item count, speakers, sample rates."""
    notes = []
    if len(speakers) != published.items:
        notes.append(f"{published.what}: {len(speakers)} utterances found, the published set has "
                     f"{published.items} ({published.reference})")
    found = set(speakers)
    if found != set(published.speakers):
        missing = sorted(set(published.speakers) - found)
        extra = sorted(found - set(published.speakers))
        notes.append(f"{published.what}: speakers differ from {', '.join(published.speakers)}"
                     + (f"; missing {', '.join(missing)}" if missing else "")
                     + (f"; other {', '.join(extra)}" if extra else ""))
    other = sorted({r for r in rates if r != published.rate})
    if other:
        n = sum(r != published.rate for r in rates)
        notes.append(f"{published.what}: {n} file(s) at {', '.join(map(str, other))} Hz, the "
                     f"published corpus is {published.rate} Hz: the set is resampled from "
                     f"narrower-band audio and is not the published one")
    return notes
