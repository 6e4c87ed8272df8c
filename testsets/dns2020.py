"""The DNS Challenge 2020 test set (001 Sec. 3.1, 002 Sec. III-A), ingested, not simulated:
`synthetic/no_reverb` and `synthetic/with_reverb` (noisy `clnsp<k>_<noise>_snr<S>_tl<T>_fileid_<n>`
paired with clean `clean_fileid_<n>` by the trailing file id; the SNR and target level in the name
are recorded) and `real_recordings` (no reference; their 2020 names carry no file id). The corpus is found as a clone lays it out
(`DNS-Challenge/datasets/test_set/`) or as `DNS-Challenge/test_set/`. Files are copied byte for byte. `--items N` keeps at most the
first N items of each subset (synthetic: by file id; real recordings: by file name); a subset folder that is absent is skipped with a
warning and recorded in info.json, but a corpus with none of the three is an error."""

from __future__ import annotations

import shutil
from pathlib import Path

from benchmark.core.errors import BenchmarkError
from testsets.base import TESTSETS, BuildOptions, TestSetBuilder, TestSetInfo
from testsets.corpora import CORPORA, MissingCorpusError, _info, _rel, dns_mix_levels, file_id
from testsets.engine import build_set, warn
from testsets.manifest import ManifestItem, conditions

SUBSETS = {"no_reverb": "synthetic/no_reverb", "with_reverb": "synthetic/with_reverb",
           "real_recordings": "real_recordings"}


@TESTSETS.register
class Dns2020(TestSetBuilder):
    info = TestSetInfo(
        name="dns2020", description="DNS Challenge 2020 test sets (synthetic x2, real), 16 kHz",
        rate=16000, corpora=("DNS-Challenge",), paper="001 Sec. 3.1, 002 Sec. III-A",
        default_items=None,
        metrics=("dnsmos", "spk_sim"))

    def _subset(self, corpora: Path, root: Path, sub: str, folder: str) -> list[ManifestItem]:
        base = root / folder
        synthetic = folder.startswith("synthetic")
        noisy_dir = base / "noisy" if synthetic else base
        files = sorted(noisy_dir.glob("*.wav"),
                       key=lambda p: (file_id(p) is None, file_id(p) or 0, p.name))
        cleans: dict[int, Path] = {}
        if synthetic:
            for c in sorted((base / "clean").glob("*.wav")):
                cid = file_id(c)
                if cid is not None and cid in cleans:
                    raise BenchmarkError(f"{base / 'clean'}: two clean files with fileid_{cid} "
                                         f"({cleans[cid].name}, {c.name}); cannot pair them")
                if cid is not None:
                    cleans[cid] = c
        items = []
        for f in files:
            fid = file_id(f)
            clean = None
            params: dict = {"file_id": fid}
            if synthetic:
                if fid is None:
                    raise BenchmarkError(f"{f}: no trailing 'fileid_<n>' in the name; cannot pair it")
                if fid not in cleans:
                    raise BenchmarkError(f"{f}: no clean file with fileid_{fid} in {base / 'clean'}")
                clean = cleans[fid]
                levels = dns_mix_levels(f)
                if levels:
                    params.update(snr_db=levels[0], target_level_db=levels[1])
            frames, rate = _info(corpora, f)
            item_id = f"{sub}/{f.stem}"
            items.append(ManifestItem(
                id=item_id, degraded=f"degraded/{item_id}.wav",
                target=f"target/{item_id}.wav" if clean else None, rate=rate,
                target_rate=rate if clean else None, duration=frames / rate, subset=sub,
                params=params, conditions=conditions(
                    snr_db=params.get("snr_db"), reverb=sub.endswith("with_reverb")) if synthetic else {},
                sources={"noisy": _rel(corpora, f), "clean": _rel(corpora, clean) if clean else None}))
        return items

    def build(self, opts: BuildOptions) -> Path:
        corpora = Path(opts.corpora)
        corpus = CORPORA["dns2020"]
        root = corpus.require(corpora)
        items, notes = [], []
        for sub, folder in SUBSETS.items():
            if not (root / folder).is_dir():
                msg = f"subset {folder} not found at {root / folder}; skipped"
                warn(f"dns2020: {msg}")
                notes.append(msg)
                continue
            found = self._subset(corpora, root, sub, folder)
            items.extend(found[: opts.items] if opts.items else found)
        if not items:
            raise MissingCorpusError(
                f"corpus 'dns2020': no test files under {root}\n  download it from "
                f"{corpus.homepage}\n  expected layout: {corpus.layout}")
        notes.append(f"corpus layout: {root.relative_to(corpora).as_posix()}")
        self.result = build_set(self, opts, items, 0, notes)
        return self.result.folder

    def render_item(self, corpora: Path, set_dir: Path, item: ManifestItem) -> None:
        for rel, key in ((item.degraded, "noisy"), (item.target, "clean")):
            if rel:
                (set_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(item.source(corpora, key), set_dir / rel)
