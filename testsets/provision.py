"""Fetching the raw corpora the test sets need: plan, download, verify, unpack, lay out.

`plan(names, corpora)` says, before anything is downloaded, which corpus folders the chosen
test sets read, which are present (used as they are), which must be fetched (the asset records,
their bytes, their licences, where they go) and how much free disk there is. `provision(plan)`
fetches through the asset registry (cache, then BENCHMARK_ASSET_MIRROR, then the URLs; resume;
sha256 where published, the publisher's md5 or size otherwise), unpacks with
`benchmark.assets.unpack` (no member outside the destination, one error for a corrupt archive)
and writes a marker `.benchmark-fetched.json` into each corpus folder, so a second call does no
work. Offline (BENCHMARK_OFFLINE=1) the same plan ends in one error listing every missing corpus
with its URLs and target path.

Sources are a registry keyed by the corpus folder a builder reads (`TestSetInfo.corpora`):
- `ArchiveSource`: asset records (archives) and, for each, the member prefix to take and the
  folder (relative to BENCHMARK_CORPORA) it unpacks into;
- `LfsRepoSource`: a folder of a git repository whose audio is stored as Git LFS objects (the
  DNS Challenge test set): a sparse, blob-less checkout of that folder gives the LFS pointer
  files (each with the object's sha256 and size), then every object is downloaded from the
  repository's media URL and verified against its pointer.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.assets import fetch, get_asset, offline_mode
from benchmark.assets.unpack import extract
from benchmark.core.errors import AssetError, BenchmarkError
from benchmark.core.files import atomic_write
from benchmark.core.progress import progress

MARKER = ".benchmark-fetched.json"


class CorpusFetchError(BenchmarkError):
    pass


# ---------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ArchivePart:
    asset: str                  # asset-registry record of the archive
    dest: str                   # folder relative to BENCHMARK_CORPORA the members go into
    member_prefix: str = ""     # take only members under this prefix (stripped); "" = all


@dataclass(frozen=True)
class ArchiveSource:
    corpus: str                 # testsets.corpora.CORPORA name
    folder: str                 # the corpus folder (relative to BENCHMARK_CORPORA) it provides
    parts: tuple[ArchivePart, ...]

    def urls(self) -> list[str]:
        return [u for p in self.parts for u in get_asset(p.asset).urls]

    def licences(self) -> list[str]:
        return list(dict.fromkeys(get_asset(p.asset).licence for p in self.parts))

    def known_bytes(self) -> tuple[int, bool]:
        """(bytes to download, whether every part's size is published)."""
        sizes = [get_asset(p.asset).size for p in self.parts]
        return sum(sizes), all(sizes)


@dataclass(frozen=True)
class LfsRepoSource:
    corpus: str
    folder: str                 # corpus folder it provides (the repository's own layout)
    repo_url: str               # git URL of the repository
    ref: str                    # branch, tag or commit to check out
    subpath: str                # the repository folder to take
    media_url: str              # LFS object URL, {ref} and {path} filled in
    dest: str                   # folder relative to BENCHMARK_CORPORA the repository maps to
    licence: str

    def urls(self) -> list[str]:
        return [self.repo_url]

    def licences(self) -> list[str]:
        return [self.licence]

    def known_bytes(self) -> tuple[int, bool]:
        return 0, False         # not published; the pointer files give exact sizes later


Source = ArchiveSource | LfsRepoSource

# The DNS Challenge (Interspeech 2020) test set lives in the repository as Git LFS objects under
# datasets/test_set (checked: the stored copy of microsoft/DNS-Challenge holds LFS pointers there,
# e.g. datasets/test_set/synthetic/no_reverb/clean/clean_fileid_0.wav -> oid sha256:777bf587...,
# size 320044, at commit 8e2869f752be96599c1173185693840af1de86c7).
DNS_SOURCE = LfsRepoSource(
    corpus="dns2020",
    folder="DNS-Challenge/datasets/test_set",
    repo_url="https://github.com/microsoft/DNS-Challenge.git",
    ref="interspeech2020/master",
    subpath="datasets/test_set",
    media_url="https://media.githubusercontent.com/media/microsoft/DNS-Challenge/{ref}/{path}",
    dest="DNS-Challenge",
    licence="CC BY 4.0 (DNS Challenge audio)")
# Sources that are not one archive per corpus record (the archive sources are derived from
# testsets.corpora.CORPORA and the archive layouts in benchmark.assets.catalog.CORPUS_ARCHIVES).
SOURCES: dict[str, Source] = {"dns2020": DNS_SOURCE}


def source_for(corpus) -> Source | None:
    """How to fetch a corpus (a testsets.corpora.Corpus): its registered source, else every
    archive that CORPUS_ARCHIVES lays out into its folder, else None (placed by hand)."""
    from benchmark.assets.catalog import CORPUS_ARCHIVES
    if corpus.name in SOURCES:
        return SOURCES[corpus.name]
    parts = tuple(ArchivePart(a.asset, a.unpack_to) for a in CORPUS_ARCHIVES.values()
                  if a.corpus_folder == corpus.folder)
    return ArchiveSource(corpus.name, corpus.folder, parts) if parts else None


def corpus_for_folder(folder: str):
    """The testsets.corpora.Corpus a builder's `TestSetInfo.corpora` entry names."""
    from testsets.corpora import CORPORA
    for c in CORPORA.values():
        names = (c.folder, *c.alt_folders)
        if folder in names or any(n.startswith(folder.rstrip("/") + "/") for n in names):
            return c
    return None


def _present(corpora: Path, corpus) -> bool:
    return (Path(corpora) / corpus.folder / MARKER).exists() or corpus.found(corpora)


# ---------------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------------
@dataclass
class PlanEntry:
    folder: str
    sets: list[str]
    status: str                 # "present", "fetch", "no source"
    source: Source | None = None
    bytes: int = 0
    bytes_exact: bool = True

    @property
    def destination(self) -> str:
        return self.source.folder if self.source is not None else self.folder


@dataclass
class Plan:
    corpora: Path
    entries: list[PlanEntry] = field(default_factory=list)

    @property
    def to_fetch(self) -> list[PlanEntry]:
        return [e for e in self.entries if e.status == "fetch"]

    @property
    def unavailable(self) -> list[PlanEntry]:
        return [e for e in self.entries if e.status == "no source"]

    def download_bytes(self) -> int:
        return sum(e.bytes for e in self.to_fetch)

    def free_bytes(self) -> int:
        p = Path(self.corpora).resolve()
        while not p.exists():
            p = p.parent
        return shutil.disk_usage(p).free

    def needed_bytes(self) -> int:
        """The archive (kept in the cache) plus its unpacked audio (about as large again:
        speech FLAC/WAV barely compresses)."""
        return 2 * self.download_bytes()


def plan(names: list[str], corpora: Path, *, source: str = "rebuild",
         rirs: str | None = None) -> Plan:
    """What the named sets need: their corpora, and the optional ones the papers' recipe reads
    (DCASE-Eval noise, RIR-44k) when they can be fetched; `source="official"`: VoiceFixer's
    released test sets only; `rirs="simulate"` drops RIR-44k."""
    from testsets import TESTSETS
    corpora = Path(corpora)
    wanted: dict[str, list[str]] = {}
    for name in names:
        info = TESTSETS.get(name).info
        # --source official ingests the release alone: the raw corpora are not read (issue 28:
        # they were 20.65 GB of downloads the ingestion never used)
        folders = (["TestSets"] if source == "official"
                   else list(info.corpora) + list(info.optional_corpora))
        for folder in folders:
            if rirs == "simulate" and folder == "RIR_44k":
                continue
            wanted.setdefault(folder, []).append(name)
    out = Plan(corpora)
    seen: set[str] = set()
    for folder, sets in wanted.items():
        corpus = corpus_for_folder(folder)
        src = source_for(corpus) if corpus is not None else None
        optional = all(folder not in TESTSETS.get(n).info.corpora for n in sets) \
            and folder != "TestSets"
        if corpus is not None and corpus.name in seen:
            continue
        if corpus is not None:
            seen.add(corpus.name)
        if corpus is not None and _present(corpora, corpus):
            out.entries.append(PlanEntry(corpus.folder, sets, "present", src))
        elif (corpora / folder).exists():
            out.entries.append(PlanEntry(folder, sets, "present", src))
        elif src is None:
            if not optional:            # an optional stand-in (noise/) has no download: skip it
                out.entries.append(PlanEntry(folder, sets, "no source"))
        else:
            nbytes, exact = src.known_bytes()
            out.entries.append(PlanEntry(corpus.folder, sets, "fetch", src, nbytes, exact))
    return out


def _gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def describe(p: Plan) -> str:
    lines = [f"corpora folder: {Path(p.corpora).resolve()}"]
    for e in p.entries:
        sets = ", ".join(e.sets)
        if e.status == "present":
            lines.append(f"  present  {e.folder:<34} used as it is ({sets})")
        elif e.status == "no source":
            lines.append(f"  MISSING  {e.folder:<34} no download source registered: place it "
                         f"there by hand ({sets})")
        else:
            size = _gb(e.bytes) if e.bytes else "size not published"
            if e.bytes and not e.bytes_exact:
                size = f"~{size} (some sizes not published)"
            lines.append(f"  fetch    {e.folder:<34} {size} -> {Path(p.corpora) / e.destination}"
                         f" ({sets})")
            lines.append(f"           licence: {'; '.join(e.source.licences())}")
            for url in e.source.urls():
                lines.append(f"           from {url}")
    if p.to_fetch:
        lines.append(f"download: {_gb(p.download_bytes())}"
                     + (" + sizes not published" if any(not e.bytes_exact for e in p.to_fetch)
                        else "")
                     + f"; needs about {_gb(p.needed_bytes())} of disk (archives + unpacked); "
                     f"free: {_gb(p.free_bytes())}")
    else:
        lines.append("nothing to download")
    return "\n".join(lines)


def check_disk(p: Plan) -> None:
    need, free = p.needed_bytes(), p.free_bytes()
    if need > free:
        raise CorpusFetchError(
            f"not enough disk space for the corpora: about {_gb(need)} needed (archives + "
            f"unpacked), {_gb(free)} free under {Path(p.corpora).resolve()}. Free space or set "
            "BENCHMARK_CORPORA / BENCHMARK_CACHE to a larger disk; nothing was downloaded.")


def offline_message(p: Plan) -> str:
    lines = ["offline (BENCHMARK_OFFLINE=1): these corpora are missing and cannot be fetched:"]
    for e in p.to_fetch + p.unavailable:
        target = Path(p.corpora).resolve() / e.destination
        lines.append(f"  {e.folder} (for {', '.join(e.sets)}) -> {target}")
        if e.source is not None:
            for url in e.source.urls():
                lines.append(f"      {url}")
    lines.append("Fetch them on a machine with internet (python -m benchmark testsets build "
                 "NAME --fetch), or place them there in that layout.")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Fetching
# ---------------------------------------------------------------------------------------------
def _write_marker(folder: Path, record: dict) -> None:
    atomic_write(folder / MARKER, json.dumps(record, indent=1, sort_keys=True))


def _fetch_archives(corpora: Path, src: ArchiveSource) -> dict:
    from benchmark.assets import local_sha256
    done = {}
    for part in src.parts:
        archive = fetch(part.asset, unpack=False)
        dest = Path(os.path.normpath(corpora / part.dest))
        print(f"unpack {archive.name} -> {dest}", file=sys.stderr)
        extract(archive, dest, member_prefix=part.member_prefix)
        done[part.asset] = local_sha256(part.asset, archive)
    return done


def _mirror_base() -> str:
    mirror = os.environ.get("BENCHMARK_ASSET_MIRROR", "").strip()
    if not mirror:
        return ""
    if "://" not in mirror:
        mirror = Path(mirror).expanduser().resolve().as_uri()
    return mirror.rstrip("/")


def _git(*args: str, cwd: Path | None = None) -> str:
    if shutil.which("git") is None:
        raise CorpusFetchError("the DNS Challenge test set is fetched with git (a sparse checkout "
                               "of its repository): install git first")
    env = dict(os.environ, GIT_LFS_SKIP_SMUDGE="1", GIT_TERMINAL_PROMPT="0")
    res = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env)
    if res.returncode:
        raise CorpusFetchError(f"git {' '.join(args)} failed: {res.stderr.strip()[-500:]}")
    return res.stdout.strip()


def _pointer(path: Path) -> tuple[str, int] | None:
    """(sha256, size) of a Git LFS pointer file, or None for an ordinary file."""
    try:
        with open(path, "rb") as f:
            head = f.read(200)
    except OSError:
        return None
    if not head.startswith(b"version https://git-lfs.github.com/spec/v1"):
        return None
    fields = dict(line.split(" ", 1) for line in path.read_text().splitlines() if " " in line)
    oid = fields.get("oid", "")
    if not oid.startswith("sha256:"):
        raise CorpusFetchError(f"{path}: LFS pointer without a sha256 oid")
    return oid.split(":", 1)[1], int(fields.get("size", "0"))


def _download_object(urls: list[str], out: Path, sha: str, size: int, bar) -> None:
    import hashlib
    errors = []
    for url in urls:
        part = out.with_name(out.name + ".part")
        try:
            h = hashlib.sha256()
            with urllib.request.urlopen(url, timeout=60) as resp, open(part, "wb") as f:
                while block := resp.read(1 << 20):
                    f.write(block)
                    h.update(block)
                    bar.update(len(block))
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            part.unlink(missing_ok=True)
            errors.append(f"{url} ({getattr(exc, 'reason', None) or exc})")
            continue
        got_size = part.stat().st_size
        if h.hexdigest() != sha or got_size != size:
            part.unlink()
            errors.append(f"{url} (sha256 {h.hexdigest()}, {got_size} bytes; the pointer says "
                          f"{sha}, {size} bytes)")
            continue
        os.replace(part, out)
        return
    raise CorpusFetchError(f"cannot fetch {out.name}: " + "; ".join(errors))


def _fetch_lfs_repo(corpora: Path, src: LfsRepoSource) -> dict:
    mirror = _mirror_base()
    repo_urls = ([f"{mirror}/git/{Path(urllib.parse.urlparse(src.repo_url).path).name}"]
                 if mirror else []) + ([] if offline_mode() else [src.repo_url])
    dest_root = corpora / src.dest
    with tempfile.TemporaryDirectory(prefix=".dns-checkout-", dir=corpora) as tmp:
        errors, commit, used, work = [], "", "", Path(tmp)
        for i, url in enumerate(repo_urls):
            work = Path(tmp) / f"checkout{i}"
            try:
                _git("init", "-q", str(work))
                _git("remote", "add", "origin", url, cwd=work)
                _git("sparse-checkout", "set", "--no-cone", src.subpath, cwd=work)
                _git("fetch", "-q", "--depth", "1", "--filter=blob:none", "origin", src.ref,
                     cwd=work)
                _git("checkout", "-q", "FETCH_HEAD", cwd=work)
                commit, used = _git("rev-parse", "FETCH_HEAD", cwd=work), url
                break
            except CorpusFetchError as exc:
                errors.append(f"{url}: {exc}")
        if not commit:
            raise CorpusFetchError("cannot check out the DNS Challenge test set: "
                                   + "; ".join(errors))
        base = work / src.subpath
        if not base.is_dir():
            raise CorpusFetchError(f"{used} at {src.ref} has no folder {src.subpath}")
        files = sorted(p for p in base.rglob("*") if p.is_file())
        pointers = {p: _pointer(p) for p in files}
        total = sum(ptr[1] for ptr in pointers.values() if ptr)
        print(f"DNS test set: {len(files)} files, {_gb(total)} of LFS objects (commit {commit})",
              file=sys.stderr)
        target_base = dest_root / src.subpath
        with progress(desc="fetch DNS test set", total=total or None, unit="B",
                      unit_scale=True) as bar:
            for p in files:
                rel = p.relative_to(work).as_posix()
                out = dest_root / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                ptr = pointers[p]
                if ptr is None:
                    shutil.copyfile(p, out)
                    continue
                sha, size = ptr
                if out.exists() and out.stat().st_size == size and _sha256(out) == sha:
                    bar.update(size)       # resumed: already fetched and verified
                    continue
                quoted = urllib.parse.quote(rel)
                urls = ([f"{mirror}/lfs/{Path(urllib.parse.urlparse(src.repo_url).path).stem}/"
                         f"{quoted}"] if mirror else [])
                if not offline_mode():
                    urls.append(src.media_url.format(ref=commit, path=quoted))
                _download_object(urls, out, sha, size, bar)
    return {"repository": used, "ref": src.ref, "commit": commit,
            "files": len(files), "bytes": total, "folder": str(target_base.relative_to(corpora))}


def _sha256(path: Path) -> str:
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def provision(p: Plan) -> list[str]:
    """Fetch everything the plan marks 'fetch'; returns the folders fetched."""
    if p.unavailable:
        raise CorpusFetchError(
            "no download source for: " + ", ".join(e.folder for e in p.unavailable)
            + f"; place them under {Path(p.corpora).resolve()} by hand")
    if not p.to_fetch:
        return []
    if offline_mode():
        raise CorpusFetchError(offline_message(p))
    check_disk(p)
    corpora = Path(p.corpora)
    corpora.mkdir(parents=True, exist_ok=True)
    fetched = []
    for e in p.to_fetch:
        src = e.source
        print(f"fetching corpus {src.folder} (licence: {'; '.join(src.licences())})",
              file=sys.stderr)
        try:
            record = (_fetch_archives(corpora, src) if isinstance(src, ArchiveSource)
                      else _fetch_lfs_repo(corpora, src))
        except AssetError as exc:
            raise CorpusFetchError(f"corpus {src.folder}: {exc}") from None
        _write_marker(corpora / src.folder, {"source": type(src).__name__, "record": record})
        fetched.append(src.folder)
    return fetched
