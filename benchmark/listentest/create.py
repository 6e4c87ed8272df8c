"""`listen-test create`: build a listening test from a run's stored outputs.

What goes in (all decided here, recorded in the manifest's `notes`):
- Items: of the chosen test set, those where every condition has audio (the system outputs
  exist and did not fail, the item has a target), chosen with the listening page's stratified
  round-robin (`benchmark.report.listen.choose`: strata by dominant distortion, SNR bin and
  bandwidth bin) in the order of the test's --seed.
- Conditions: Unprocessed (the test set's degraded file, the low anchor), Target (the clean
  reference, a hidden reference: it is rated like every other stimulus and never labelled) and
  each --systems output; shuffled by the seed into anonymous codes C1..Cn.
- Stimuli: every source resampled to 44.1 kHz (the papers' full-band rate; the band a system
  returned is kept), loudness-normalised to -26 LUFS (ITU-R BS.1770-4 integrated loudness with
  pyloudnorm: the -26 dBov level P.808 asks for, measured as loudness so systems that change the
  spectrum are heard at one level), written as 16-bit WAV. A stimulus that would clip at -26 LUFS
  is scaled to a 0.999 peak instead and flagged `peak_limited` with its actual loudness.
- Gold questions (P.808 "gold standard clips": answers obvious to every listener, 5 or 1): the
  Target of a test-set item that is not rated (expected 5), and the same kind of Target made
  very poor (expected 1): band-limited to 1 kHz, white noise at 0 dB SNR, clipped at 20 % of
  its peak.
- Trapping questions (P.808 section 6.3.8; microsoft/P.808 src/create_trapping_stimuli.py): the
  first 3 s of an item's Unprocessed file followed by the spoken message "This is an
  interruption. Please select the answer <label> to confirm your attention now." for a score
  drawn from 1..5 by the seed; both parts at -26 LUFS.
- Listeners: --listeners N random tokens (the personal links); every listener hears every
  stimulus once, in an order of their own (TestDesign.order).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.core.audio import read_audio, resample, write_audio
from benchmark.core.deps import require
from benchmark.core.errors import BenchmarkError, UnsafePathError
from benchmark.core.files import MEDIA_MARKER
from benchmark.listentest import tts
from benchmark.listentest.design import (
    LABELS,
    MANIFEST,
    STIMULI,
    TARGET,
    UNPROCESSED,
    Condition,
    Stimulus,
    TestDesign,
    save_design,
    tests_dir,
)
from benchmark.report import listen
from benchmark.report.results import RunData, load
from benchmark.run.store import RUN_NAME_MAX, Store, validate_run_name

RATE = 44100
LOUDNESS_LUFS = -26.0
PEAK = 0.999
TRAP_SOURCE_S = 3.0
GOLD_BAD_CUTOFF_HZ = 1000
GOLD_BAD_SNR_DB = 0.0
GOLD_BAD_CLIP = 0.2
IDENTITY = {"unprocessed": UNPROCESSED, "target": TARGET}


@dataclass(frozen=True)
class CreateOptions:
    run: str
    testset: str
    items: int = 40
    systems: tuple[str, ...] = ()
    seed: int = 0
    listeners: int = 20
    gold: int = 2          # gold clips per listener (alternately expected 5 and 1)
    traps: int = 2         # trapping clips per listener
    name: str | None = None
    out: Path | None = None
    force: bool = False


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Normaliser:
    """BS.1770-4 integrated loudness (pyloudnorm.Meter: K-weighting, 400 ms blocks, gating)."""

    def __init__(self, rate: int, target: float):
        pyln = require("pyloudnorm", "listen", "loudness-normalised listening-test stimuli")
        self.meter = pyln.Meter(rate)
        self.rate, self.target = rate, target

    def loudness(self, x: np.ndarray, where: str) -> float:
        if x.size < int(0.4 * self.rate):
            raise BenchmarkError(f"{where}: {x.size / self.rate:.2f} s is shorter than the 0.4 s "
                                 "BS.1770 block; cannot measure its loudness")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lufs = float(self.meter.integrated_loudness(x.astype(np.float64)))
        if not math.isfinite(lufs):
            raise BenchmarkError(f"{where}: silent (integrated loudness {lufs}); cannot normalise it")
        return lufs

    def __call__(self, x: np.ndarray, where: str) -> tuple[np.ndarray, float, float, bool]:
        """(normalised audio, input LUFS, gain dB, peak limited)."""
        lin = self.loudness(x, where)
        gain_db = self.target - lin
        y = x * 10 ** (gain_db / 20)
        peak = float(np.max(np.abs(y)))
        limited = peak > PEAK
        if limited:
            y = y * (PEAK / peak)
            gain_db += 20 * math.log10(PEAK / peak)
        return y.astype(np.float32), lin, gain_db, limited


def _conditions(data: RunData, systems: tuple[str, ...], seed: int) -> list[Condition]:
    chosen: list[tuple[str, str]] = [(UNPROCESSED, "anchor"), (TARGET, "reference")]
    for s in systems:
        if s in IDENTITY:
            continue          # the identity baselines are the test set's own files (always in)
        if s not in data.systems:
            raise BenchmarkError(f"system '{s}' is not in run '{data.run}' (it has: "
                                 f"{', '.join(data.systems) or 'none'})")
        chosen.append((s, "system"))
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(chosen))
    return [Condition(f"C{k + 1}", chosen[i][0], chosen[i][1]) for k, i in enumerate(perm)]


def _sources(data: RunData, testset: str, conditions: list[Condition]) -> tuple[dict, dict]:
    """{item: {system: path}} for items with audio for every condition; {item: manifest}."""
    ts = next((t for t in data.testsets if t.name == testset), None)
    if ts is None:
        raise BenchmarkError(f"test set '{testset}' is not in run '{data.run}' (it has: "
                             f"{', '.join(t.name for t in data.testsets) or 'none'})")
    folder = Path(ts.folder)
    outs = {(o.system, o.item_id): o for o in data.outputs if o.testset == testset}
    ok: dict[str, dict[str, str]] = {}
    manifests: dict[str, dict] = {}
    for (name, iid), row in sorted(data.items.items()):
        if name != testset:
            continue
        man = row.manifest
        manifests[iid] = man
        if not man.get("target"):
            continue
        paths = {UNPROCESSED: str(folder / man["degraded"]), TARGET: str(folder / man["target"])}
        for c in conditions:
            if c.role != "system":
                continue
            o = outs.get((c.system, iid))
            if o and not o.error and o.path and o.sha256:
                paths[c.system] = str(o.path)
        if all(c.system in paths for c in conditions):
            ok[iid] = paths
    if not any(m.get("target") for m in manifests.values()):
        raise BenchmarkError(f"test set '{testset}' has no targets: a listening test needs the "
                             "clean reference as its hidden reference")
    return ok, manifests


def _read(path: str) -> np.ndarray:
    x, rate = read_audio(path, mix_channels=True)
    return resample(x, rate, RATE)


def _very_poor(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    low = resample(resample(x, RATE, 2 * GOLD_BAD_CUTOFF_HZ), 2 * GOLD_BAD_CUTOFF_HZ, RATE)[: x.size]
    noise = rng.standard_normal(low.size).astype(np.float32)
    noise *= np.sqrt(np.mean(low ** 2) / np.mean(noise ** 2) / 10 ** (GOLD_BAD_SNR_DB / 10))
    y = low + noise
    lim = GOLD_BAD_CLIP * float(np.max(np.abs(y)))
    return np.clip(y, -lim, lim)


class _Writer:
    def __init__(self, folder: Path, norm: Normaliser, salt: str):
        self.folder, self.norm, self.salt = folder, norm, salt
        self.stimuli: list[Stimulus] = []

    def add(self, kind: str, item: str, audio: np.ndarray, source: str, *, condition=None,
            answer=None, parts: list[np.ndarray] | None = None) -> Stimulus:
        sid = hashlib.sha256(f"{self.salt}|{kind}|{item}|{condition}|{answer}|{len(self.stimuli)}"
                             .encode()).hexdigest()[:16]
        where = f"{kind} stimulus of {item}"
        if parts is None:
            y, lin, gain, limited = self.norm(audio, where)
        else:   # trap: each part normalised on its own, then joined
            done = [self.norm(p, where) for p in parts]
            y = np.concatenate([d[0] for d in done])
            lin, gain, limited = done[0][1], done[0][2], any(d[3] for d in done)
        path = self.folder / STIMULI / f"{sid}.wav"
        write_audio(path, y, RATE, subtype="PCM_16")
        written, _ = read_audio(path)
        st = Stimulus(id=sid, kind=kind, item=item, condition=condition, answer=answer,
                      source=source, source_sha256=_sha256(Path(source)) if Path(source).exists() else "",
                      sha256=_sha256(path), duration=round(written.size / RATE, 4),
                      loudness_in=round(lin, 3),
                      loudness_out=round(self.norm.loudness(written, where), 3),
                      gain_db=round(gain, 3), peak_limited=bool(limited))
        self.stimuli.append(st)
        return st


# What `create` (and `report`, `serve`) put in a test folder: a folder holding anything else, or no
# manifest, was not made by the harness and is never deleted by --force.
TEST_FILES = {MEDIA_MARKER, MANIFEST, MANIFEST + ".part", STIMULI, "ratings.sqlite",
              "ratings.sqlite-wal", "ratings.sqlite-shm", "ratings.sqlite-journal", "report.md", "mos.json"}


def test_name(name: str) -> str:
    """A test name as `create` accepts it: a folder name like a run name, never a path."""
    try:
        return validate_run_name(name)
    except UnsafePathError:
        raise UnsafePathError(f"listening test name {name!r} is not allowed: use 1 to {RUN_NAME_MAX} "
                              "characters from A-Z a-z 0-9 . _ - (not starting with '.'); a test name "
                              "is a folder name, never a path (--out DIR puts the test elsewhere)") from None


def _made_by_create(folder: Path) -> bool:
    """The folder carries create's marker, or (tests made before the marker) holds a manifest and
    nothing but what create, serve and report write."""
    if folder.is_symlink() or not folder.is_dir():
        return False
    if (folder / MEDIA_MARKER).is_file():
        return True
    names = {p.name for p in folder.iterdir()}
    return MANIFEST in names and names <= TEST_FILES


def _check_folder(folder: Path, force: bool) -> None:
    """Refuse (before any work) an existing folder without --force, and with --force any folder
    that `create` did not make: --force deletes a listening test's ratings, never a user's files."""
    if not (folder.exists() or folder.is_symlink()):
        return
    if not force:
        raise BenchmarkError(f"listening test folder {folder} exists; pass --force to rebuild "
                             "it (its ratings are deleted) or choose another --name")
    if not _made_by_create(folder):
        raise UnsafePathError(f"{folder} exists and is not a listening test made by `listen-test "
                              f"create` (no {MEDIA_MARKER} file{', a symlink' if folder.is_symlink() else ''}); "
                              "nothing was deleted. Move it away or choose another --name or --out")


def create_test(opt: CreateOptions) -> tuple[Path, TestDesign]:
    validate_run_name(opt.run)
    name = test_name(opt.name if opt.name is not None else f"{opt.run}-{opt.testset}")
    folder = opt.out or tests_dir() / name
    _check_folder(folder, opt.force)
    if opt.items < 1:
        raise BenchmarkError(f"--items must be at least 1, got {opt.items}")
    if opt.listeners < 1 or opt.gold < 0 or opt.traps < 0:
        raise BenchmarkError("--listeners must be >= 1 and --gold/--traps >= 0")
    store = Store.existing(opt.run)
    try:
        data = load(store, opt.run)
    finally:
        store.close()
    conditions = _conditions(data, tuple(opt.systems), opt.seed)
    usable, manifests = _sources(data, opt.testset, conditions)
    if not usable:
        raise BenchmarkError(f"no item of '{opt.testset}' has audio for every condition "
                             f"({', '.join(c.system for c in conditions)})")
    items = listen.choose([(i, manifests[i]) for i in sorted(usable)], opt.items, seed=opt.seed)
    _check_folder(folder, opt.force)          # again: it may have appeared while we chose items
    if folder.exists():
        shutil.rmtree(folder)
    (folder / STIMULI).mkdir(parents=True)
    (folder / MEDIA_MARKER).write_text("made by `listen-test create`; `create --force` replaces it\n")
    rng = np.random.default_rng(opt.seed)
    w = _Writer(folder, Normaliser(RATE, LOUDNESS_LUFS), secrets.token_hex(8))
    for iid in items:
        for c in sorted(conditions, key=lambda c: c.code):
            src = usable[iid][c.system]
            w.add("rating", iid, _read(src), src, condition=c.code)
    # Gold and trap clips come from items that are not rated where the set has them.
    with_target = [i for i in sorted(manifests) if manifests[i].get("target")]
    spare = [i for i in with_target if i not in items] or list(items)
    spare = [spare[k] for k in rng.permutation(len(spare))]
    ts_folder = Path(next(t.folder for t in data.testsets if t.name == opt.testset))
    for g in range(opt.gold):
        iid = spare[g % len(spare)]
        src = str(ts_folder / manifests[iid]["target"])
        x = _read(src)
        if g % 2 == 0:
            w.add("gold", iid, x, src, answer=5)
        else:
            w.add("gold", iid, _very_poor(x, rng), src, answer=1)
    for t in range(opt.traps):
        iid = spare[(opt.gold + t) % len(spare)]
        src = str(ts_folder / manifests[iid]["degraded"])
        head = _read(src)[: int(TRAP_SOURCE_S * RATE)]
        answer = int(rng.integers(1, 6))
        msg, mrate = tts.trap_message(LABELS[answer])
        w.add("trap", iid, head, src, answer=answer, parts=[head, resample(msg, mrate, RATE)])
    notes = [
        f"{len(items)} items of {opt.testset} chosen stratified (listening-page strata) with seed "
        f"{opt.seed} from {len(usable)} items that have audio for every condition",
        f"stimuli: 44.1 kHz 16-bit WAV, BS.1770-4 integrated loudness {LOUDNESS_LUFS:g} LUFS "
        f"(pyloudnorm); {sum(s.peak_limited for s in w.stimuli)} peak-limited to {PEAK}",
        f"controls per listener: {opt.gold} gold (expected 5 / 1 alternately), {opt.traps} trapping "
        "(spoken instruction after 3 s of an Unprocessed file)",
    ]
    design = TestDesign(name=name, run=opt.run, testset=opt.testset, seed=opt.seed, rate=RATE,
                        loudness_lufs=LOUDNESS_LUFS, items=list(items), conditions=conditions,
                        stimuli=w.stimuli, listeners=[secrets.token_urlsafe(12) for _ in range(opt.listeners)],
                        created=time.time(), notes=notes)
    save_design(design, folder)
    return folder, design
