r"""`--source official`: VoiceFixer's released test sets (Zenodo 5528144, GSR_and_SSR_testsets.zip,
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

Pairs are made from the folders by exactly those rules, as VoiceFixer does before every
evaluation (datasets/datasetParser/test_set_speech_all_distortion.py L18-20 runs
`Config.refresh_lists()`, which rewrites every `.lst` from the folders): a shipped pair list is
never trusted, only compared (each difference is reported in info.json and on stderr). SR and
DEREV files must carry `<spk>_<nnn>_mic1` in their names (regex `[sp]\d+_\d+_mic1`, config.py
L178/L188); DECLI files `<spk>_<nnn>` (L158, the target gets `_mic1`); a file without it is an
error naming the file. A degraded/target pair of different frame counts is an error naming the
pair (`Config.checklst` asserts equal lengths, config.py L203). `unify_energy` is recorded per
subset as config.py sets it (True for SR only); what it does in VoiceFixer's evaluation is a mel
energy match of the output to the input (`amp_to_original_f`, eval_gsr_voicefixer.py L54-55),
not a waveform rescaling. The release's files may be FLAC (voicefixer_main converts them with
`convert_flac_to_wav` first): .wav and .flac are both read.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.core.errors import BenchmarkError
from testsets.base import BuildOptions
from testsets.corpora import AUDIO_SUFFIXES, CORPORA, MissingCorpusError, _info, _rel
from testsets.engine import build_set, warn
from testsets.manifest import ManifestItem, conditions

VCTK_NAME = re.compile(r"[sp]\d+_\d+")                 # config.py L158 (DECLI)
VCTK_MIC1_NAME = re.compile(r"[sp]\d+_\d+_mic1")      # config.py L178 (SR), L188 (DEREV)
SR_CUTOFFS = (1000, 2000, 4000, 8000, 12000)
DECLI_RATIOS = ("0.1", "0.25", "0.5")


@dataclass(frozen=True)
class OfficialSubset:
    subset: str                 # manifest subset name ("" for a set without subsets)
    folder: str                 # degraded files, relative to TestSets/
    target_folder: str
    pair_list: str
    target_rule: str            # how a degraded name maps to its target: "allgsr", "vctk_mic1"
                                # (name must carry _mic1), "vctk" (_mic1 appended), "same"
    params: dict = field(default_factory=dict)
    conditions: dict = field(default_factory=dict)   # typed (testsets.manifest.conditions)


def _subsets() -> dict[str, tuple[OfficialSubset, ...]]:
    return {
        "all_gsr": (OfficialSubset("", "ALL_GSR/simulated", "ALL_GSR/target",
                                   "ALL_GSR/pair_random_filter_type.lst", "allgsr",
                                   {"unify_energy": False}),),
        "sr": tuple(OfficialSubset(f"{2 * c // 1000}kHz", f"SR/cheby1/{c}", "SR/GroundTruth",
                                   f"SR/cheby1/pair_cheby1_{c}.lst", "vctk_mic1",
                                   {"low_rate": 2 * c, "cutoff": c, "filter": "cheby1", "order": 8,
                                    "unify_energy": True}, conditions(cutoff_hz=c))
                    for c in SR_CUTOFFS),
        "decli": tuple(OfficialSubset(r, f"DECLI/{r}", "DECLI/GroundTruth",
                                      f"DECLI/pair_{float(r):.2f}.lst", "vctk",
                                      {"clip_eta": float(r), "unify_energy": False},
                                      conditions(clip_level=float(r)))
                       for r in DECLI_RATIOS),
        "derev": (OfficialSubset("", "DEREV/Reverb_Speech", "DEREV/GroundTruth",
                                 "DEREV/pair_vctk_reverb.lst", "vctk_mic1", {"unify_energy": False},
                                 conditions(reverb=True)),),
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
        m = re.search(r"\d+_", degraded)                       # config.py L144
        if not m:
            raise BenchmarkError(f"ALL_GSR file {degraded!r} has no '<digits>_' prefix to pair it")
        return m.group(0) + "clean.wav"
    if rule == "vctk_mic1":
        m = VCTK_MIC1_NAME.search(degraded)
        if not m:
            raise BenchmarkError(f"{degraded!r} has no VCTK '<spk>_<nnn>_mic1' in its name; "
                                 f"VoiceFixer's refresh_lists (config.py L178/L188) cannot pair it")
        return m.group(0) + ".wav"
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


def _rel_to(root: Path, p: Path) -> str:
    try:
        return p.relative_to(root).with_suffix("").as_posix()
    except ValueError:
        return p.with_suffix("").as_posix()


def compare_pair_list(root: Path, sub: OfficialSubset, pairs: list[tuple[Path, Path]]) -> list[str]:
    """Differences between the shipped pair list and the pairs the folder rules give (empty:
    the list agrees). Suffixes are ignored (the release may be FLAC, lists name .wav)."""
    lst = root / sub.pair_list
    listed: dict[str, str] = {}
    for n, line in enumerate(lst.read_text(errors="replace").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            return [f"{sub.pair_list}:{n}: not '<degraded> <target>' ({line[:80]!r}): list ignored"]
        deg = _rel_to(root, _resolve(root, parts[0], sub.folder))
        listed[deg] = _rel_to(root, _resolve(root, parts[1], sub.target_folder))
    derived = {_rel_to(root, d): _rel_to(root, t) for d, t in pairs}
    out = []
    only_list = sorted(set(listed) - set(derived))
    only_folder = sorted(set(derived) - set(listed))
    other = sorted(k for k in set(listed) & set(derived) if listed[k] != derived[k])
    for what, keys in (("listed but not in the folder", only_list),
                       ("in the folder but not listed", only_folder),
                       ("paired with another target in the list", other)):
        if keys:
            shown = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
            out.append(f"{sub.pair_list}: {len(keys)} file(s) {what} ({shown})")
    return out


def official_pairs(root: Path, sub: OfficialSubset) -> tuple[list[tuple[Path, Path]], list[str]]:
    """(degraded, target) paths of one subset by the folder rules of `refresh_lists`, and notes:
    how they were paired and how the shipped pair list (if any) differs."""
    folder = root / sub.folder
    if not folder.is_dir():
        raise MissingCorpusError(f"VoiceFixer release: {folder} not found (expected "
                                 f"{CORPORA['voicefixer_testsets'].layout})")
    pairs: list[tuple[Path, Path]] = []
    for f in _audio(folder):
        tgt = _with_suffix(root / sub.target_folder / target_name(sub.target_rule, f.name))
        if not _inside(root, tgt) or not tgt.exists():
            raise BenchmarkError(f"VoiceFixer release: target {tgt} of {f} not found (pairing rule of "
                                 f"evaluation_proc/config.py refresh_lists for {sub.folder})")
        pairs.append((f, tgt))
    if not pairs:
        raise MissingCorpusError(f"VoiceFixer release: no audio in {folder}")
    notes = ["pairs from the folders by evaluation_proc/config.py refresh_lists rules"]
    if (root / sub.pair_list).exists():
        diffs = compare_pair_list(root, sub, pairs)
        notes += diffs or [f"{sub.pair_list} agrees with the folders"]
    else:
        notes.append(f"{sub.pair_list} absent (VoiceFixer regenerates it from the folders)")
    return pairs, notes


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
            label = sub.subset or self.official_key
            notes.extend(f"{label}: {h}" for h in how)
            for h in how:
                if "file(s)" in h or "list ignored" in h:
                    warn(f"{self.official_key}: the shipped pair list differs from the folders, "
                         f"which are used (as VoiceFixer does): {h}")
            for deg, tgt in pairs[: opts.items] if opts.items else pairs:
                frames, rate = _info(corpora, deg)
                tframes, trate = _info(corpora, tgt)
                if tframes != frames:
                    # evaluation_proc/config.py L203 (checklst) asserts equal frame counts
                    raise BenchmarkError(
                        f"VoiceFixer release: {_rel(corpora, deg)} has {frames} frames but its target "
                        f"{_rel(corpora, tgt)} has {tframes}; VoiceFixer's checklst refuses such a "
                        f"pair (evaluation_proc/config.py L203)")
                if trate != rate:
                    notes.append(f"{deg.name}: {rate} Hz, target {tgt.name} {trate} Hz")
                item_id = f"{sub.subset}/{deg.stem}" if sub.subset else deg.stem
                spk, text = transcript(corpora, deg.name)
                items.append(ManifestItem(
                    id=item_id, degraded=f"degraded/{item_id}{deg.suffix.lower()}",
                    target=f"target/{item_id}{tgt.suffix.lower()}", rate=rate, target_rate=trate,
                    duration=frames / rate, subset=sub.subset, transcript=text, speaker=spk,
                    params={"source": "official", **sub.params}, conditions=sub.conditions,
                    sources={"degraded": _rel(corpora, deg), "target": _rel(corpora, tgt)}))
        return items, notes

    def build_official(self, opts: BuildOptions) -> Path:
        items, notes = self.official_items(opts)
        self.result = build_set(self, opts, items, 0, notes)
        return self.result.folder

    def render_item(self, corpora: Path, set_dir: Path, item: ManifestItem):
        if item.params.get("source") != "official":
            return super().render_item(corpora, set_dir, item)
        for rel, key in ((item.degraded, "degraded"), (item.target, "target")):
            (set_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(corpora / item.sources[key], set_dir / rel)
        return None
