"""`--source official`: VoiceFixer's released test sets (Zenodo 5528144, GSR_and_SSR_testsets.zip,
unpacked as `TestSets/` under BENCHMARK_CORPORA), ingested exactly: their pair lists, their files
(copied byte for byte), their rates. 001 Table 1 and 003/004's tables were measured on them.

The layout and the pairing rules are those of voicefixer_main `evaluation_proc/config.py`
(commit 0c206f7f5eb1dbd03cfd3509c0eb1de6669b14e9, `Config.refresh_lists` / `SSR_DATA` ...):

  set      degraded folder            target folder          pair list                     target name
  all_gsr  ALL_GSR/simulated          ALL_GSR/target         ALL_GSR/pair_random_filter_type.lst  <n>_clean.wav (first "<digits>_")
  sr       SR/cheby1/<c>, c = 1000, 2000, 4000, 8000, 12000 Hz cutoff (2-24 kHz rates)
                                      SR/GroundTruth         SR/cheby1/pair_cheby1_<c>.lst <spk>_<nnn>_mic1.wav
  decli    DECLI/0.1, 0.25, 0.5       DECLI/GroundTruth      DECLI/pair_0.10.lst ...       <spk>_<nnn>_mic1.wav
  derev    DEREV/Reverb_Speech        DEREV/GroundTruth      DEREV/pair_vctk_reverb.lst    <spk>_<nnn>_mic1.wav
  denoise  DENOISE/vd_test/noisy_testset_wav  .../clean_testset_wav  DENOISE/vd_test/pair.lst  the same name

A pair list names absolute paths of the machine that wrote it (`refresh_lists` writes `join(ROOT,
...)`): each path is resolved by its part after `TestSets/`, else by its file name in the folder the
table gives. Without a pair list the pairs are derived from the file names by the same rules (and
info.json says so). `unify_energy` is recorded per subset as config.py sets it (True for SR only:
VoiceFixer's evaluation rescales those outputs to the target's peak). The release's files may be
FLAC (voicefixer_main converts them with `convert_flac_to_wav`): .wav and .flac are both read.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.core.errors import BenchmarkError
from testsets.base import BuildOptions, BuildResult
from testsets.corpora import AUDIO_SUFFIXES, CORPORA, MissingCorpusError, _info, _rel
from testsets.engine import build_set
from testsets.manifest import ManifestItem

VCTK_NAME = re.compile(r"[sp]\d+_\d+")
SR_CUTOFFS = (1000, 2000, 4000, 8000, 12000)
DECLI_RATIOS = ("0.1", "0.25", "0.5")


@dataclass(frozen=True)
class OfficialSubset:
    subset: str                 # manifest subset name ("" for a set without subsets)
    folder: str                 # degraded files, relative to TestSets/
    target_folder: str
    pair_list: str
    target_rule: str            # how a degraded name maps to its target: "allgsr", "vctk_mic1", "same"
    params: dict = field(default_factory=dict)


def _subsets() -> dict[str, tuple[OfficialSubset, ...]]:
    return {
        "all_gsr": (OfficialSubset("", "ALL_GSR/simulated", "ALL_GSR/target",
                                   "ALL_GSR/pair_random_filter_type.lst", "allgsr",
                                   {"unify_energy": False}),),
        "sr": tuple(OfficialSubset(f"{2 * c // 1000}kHz", f"SR/cheby1/{c}", "SR/GroundTruth",
                                   f"SR/cheby1/pair_cheby1_{c}.lst", "vctk_mic1",
                                   {"low_rate": 2 * c, "cutoff": c, "filter": "cheby1", "order": 8,
                                    "unify_energy": True})
                    for c in SR_CUTOFFS),
        "decli": tuple(OfficialSubset(r, f"DECLI/{r}", "DECLI/GroundTruth",
                                      f"DECLI/pair_{float(r):.2f}.lst", "vctk_mic1",
                                      {"clip_eta": float(r), "unify_energy": False})
                       for r in DECLI_RATIOS),
        "derev": (OfficialSubset("", "DEREV/Reverb_Speech", "DEREV/GroundTruth",
                                 "DEREV/pair_vctk_reverb.lst", "vctk_mic1", {"unify_energy": False}),),
        "denoise": (OfficialSubset("", "DENOISE/vd_test/noisy_testset_wav",
                                   "DENOISE/vd_test/clean_testset_wav", "DENOISE/vd_test/pair.lst",
                                   "same", {"unify_energy": False}),),
    }


OFFICIAL_SUBSETS = _subsets()


def _audio(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*") if p.suffix.lower() in AUDIO_SUFFIXES)


def _with_suffix(path: Path) -> Path:
    """`path`, or the same name with the other audio suffix when only that one exists."""
    if path.exists():
        return path
    for suf in AUDIO_SUFFIXES:
        alt = path.with_suffix(suf)
        if alt.exists():
            return alt
    return path


def target_name(rule: str, degraded: str) -> str:
    """The target file name of a degraded file (evaluation_proc/config.py `refresh_lists`)."""
    if rule == "same":
        return degraded
    if rule == "allgsr":
        m = re.search(r"\d+_", degraded)
        if not m:
            raise BenchmarkError(f"ALL_GSR file {degraded!r} has no '<digits>_' prefix to pair it")
        return m.group(0) + "clean.wav"
    m = VCTK_NAME.search(degraded)
    if not m:
        raise BenchmarkError(f"{degraded!r} has no VCTK '<spk>_<nnn>' in its name to pair it")
    return m.group(0) + "_mic1.wav"


def _resolve(root: Path, entry: str, folder: str) -> Path:
    """A path from a pair list: its part after TestSets/, else its file name in `folder`."""
    norm = entry.replace("\\", "/")
    if "TestSets/" in norm:
        cand = _with_suffix(root / norm.split("TestSets/", 1)[1])
        if cand.exists():
            return cand
    return _with_suffix(root / folder / norm.rsplit("/", 1)[-1])


def _inside(root: Path, p: Path) -> bool:
    try:
        p.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def official_pairs(root: Path, sub: OfficialSubset) -> tuple[list[tuple[Path, Path]], str]:
    """(degraded, target) paths of one subset, and how they were paired."""
    lst = root / sub.pair_list
    pairs: list[tuple[Path, Path]] = []
    if lst.exists():
        for n, line in enumerate(lst.read_text().splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2:
                raise BenchmarkError(f"{lst}:{n}: expected '<degraded> <target>', got {line!r}")
            pairs.append((_resolve(root, parts[0], sub.folder), _resolve(root, parts[1], sub.target_folder)))
        how = f"pairs from {sub.pair_list}"
    else:
        folder = root / sub.folder
        if not folder.is_dir():
            raise MissingCorpusError(f"VoiceFixer release: {folder} not found (expected "
                                     f"{CORPORA['voicefixer_testsets'].layout})")
        for f in _audio(folder):
            pairs.append((f, _with_suffix(root / sub.target_folder / target_name(sub.target_rule, f.name))))
        how = f"{sub.pair_list} absent: pairs derived from the file names (evaluation_proc/config.py rules)"
    for deg, tgt in pairs:
        for p in (deg, tgt):
            if not _inside(root, p):
                raise BenchmarkError(f"VoiceFixer release: {p} (from {sub.pair_list}) lies outside {root}")
            if not p.exists():
                raise BenchmarkError(f"VoiceFixer release: {p} (listed in {sub.pair_list}) not found")
    if not pairs:
        raise MissingCorpusError(f"VoiceFixer release: no pairs for {sub.folder} under {root}")
    return pairs, how


def _vctk_transcript(corpora: Path, name: str) -> tuple[str | None, str | None]:
    m = VCTK_NAME.search(name)
    if not m:
        return None, None
    spk = m.group(0).split("_")[0]
    txt = CORPORA["vctk"].root(corpora) / "txt" / spk / f"{m.group(0)}.txt"
    return spk, (txt.read_text().strip() if txt.exists() else None)


def _vb_transcript(corpora: Path, name: str) -> tuple[str | None, str | None]:
    stem = Path(name).stem
    txt = CORPORA["voicebank_demand"].root(corpora) / "testset_txt" / f"{stem}.txt"
    return stem.split("_")[0], (txt.read_text().strip() if txt.exists() else None)


class OfficialMixin:
    """Adds `--source official` to a builder: `official_key` names its rows of OFFICIAL_SUBSETS."""
    official_key: str = ""
    sources = ("rebuild", "official")

    def official_items(self, opts: BuildOptions) -> tuple[list[ManifestItem], list[str]]:
        corpora = Path(opts.corpora)
        root = CORPORA["voicefixer_testsets"].require(corpora)
        items = []
        notes = [f"source: VoiceFixer's release (Zenodo 5528144) at {_rel(corpora, root)}"]
        transcript = _vb_transcript if self.official_key == "denoise" else _vctk_transcript
        for sub in OFFICIAL_SUBSETS[self.official_key]:
            pairs, how = official_pairs(root, sub)
            notes.append(f"{sub.subset or self.official_key}: {how}")
            for deg, tgt in pairs[: opts.items] if opts.items else pairs:
                frames, rate = _info(corpora, deg)
                tframes, trate = _info(corpora, tgt)
                if tframes != frames or trate != rate:
                    notes.append(f"{deg.name}: {frames} frames at {rate} Hz, target {tgt.name} "
                                 f"{tframes} at {trate} Hz")
                item_id = f"{sub.subset}/{deg.stem}" if sub.subset else deg.stem
                spk, text = transcript(corpora, deg.name)
                items.append(ManifestItem(
                    id=item_id, degraded=f"degraded/{item_id}{deg.suffix.lower()}",
                    target=f"target/{item_id}{tgt.suffix.lower()}", rate=rate, target_rate=trate,
                    duration=frames / rate, subset=sub.subset, transcript=text, speaker=spk,
                    params={"source": "official", **sub.params},
                    sources={"degraded": _rel(corpora, deg), "target": _rel(corpora, tgt)}))
        return items, notes

    def build_official(self, opts: BuildOptions) -> BuildResult:
        items, notes = self.official_items(opts)
        return build_set(self, opts, items, 0, notes)

    def render_item(self, corpora: Path, set_dir: Path, item: ManifestItem):
        if item.params.get("source") != "official":
            return super().render_item(corpora, set_dir, item)
        for rel, key in ((item.degraded, "degraded"), (item.target, "target")):
            (set_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(corpora / item.sources[key], set_dir / rel)
        return None
