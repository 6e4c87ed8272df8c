"""`testsets build --fetch`: corpora fetched from a file:// mirror of small archives made here in the
real archives' layouts (a VCTK-style zip with no top folder, a LibriSpeech-style tar.gz, the
VoiceBank-DEMAND zips, DCASE-style zips, and a git repository holding the DNS test set as Git LFS
pointers with the objects beside it), built from the real excerpts in ../shared/data."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
from testsets_support import make_official_release, make_rir44k

from benchmark import assets
from benchmark.assets.unpack import extract
from benchmark.cli import main
from benchmark.core.errors import AssetError
from testsets import provision

SETS = ["sr", "all_gsr", "vctk_gsr", "libri_noisy", "dns2020", "denoise", "derev", "decli"]
OFFICIAL = ["all_gsr", "sr", "decli", "derev", "denoise"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _zip(path: Path, files: dict[str, Path]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for arc, src in files.items():
            zf.write(src, arc)
    return path


def _register(monkeypatch, name: str, archive: Path, *, md5: bool = False) -> None:
    real = assets.get_asset(name)
    data = archive.read_bytes()
    monkeypatch.setitem(assets.ASSETS, name, dataclasses.replace(
        real, urls=(), sha256="" if md5 else hashlib.sha256(data).hexdigest(),
        md5=hashlib.md5(data).hexdigest() if md5 else "", size=len(data)))


def _lfs_repo(tmp: Path, corpora: Path) -> tuple[Path, Path]:
    """A git repository whose datasets/test_set holds LFS pointers; the objects lie in `media`."""
    repo, media = tmp / "DNS-Challenge", tmp / "media"
    src_root = next(p for p in (corpora / "DNS-Challenge" / "datasets" / "test_set",
                                corpora / "DNS-Challenge" / "test_set") if p.is_dir())
    for f in sorted(src_root.rglob("*.wav")):
        rel = Path("datasets/test_set") / f.relative_to(src_root)
        data = f.read_bytes()
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text("version https://git-lfs.github.com/spec/v1\n"
                                f"oid sha256:{hashlib.sha256(data).hexdigest()}\nsize {len(data)}\n")
        (media / rel).parent.mkdir(parents=True, exist_ok=True)
        (media / rel).write_bytes(data)
    (repo / "README.md").write_text("not part of the test set\n")
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run([*git, "-C", str(repo), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-q", "-m", "test set"], check=True)
    for key in ("uploadpack.allowFilter", "uploadpack.allowAnySHA1InWant"):
        subprocess.run(["git", "-C", str(repo), "config", key, "true"], check=True)
    return repo, media


@pytest.fixture
def mirror(isolated_env, corpora, monkeypatch, tmp_path):
    """Archives in the public downloads' layouts, registered with their own hashes."""
    m = tmp_path / "mirror"
    vctk = corpora / "VCTK-Corpus-0.92"
    files = {p.relative_to(vctk).as_posix(): p for p in sorted(vctk.rglob("*")) if p.is_file()}
    _register(monkeypatch, "vctk_0.92", _zip(m / "corpora" / "VCTK-Corpus-0.92.zip", files))
    tgz = m / "corpora" / "test-clean.tar.gz"
    with tarfile.open(tgz, "w:gz") as tf:
        tf.add(corpora / "LibriSpeech" / "test-clean", arcname="LibriSpeech/test-clean")
        info = tarfile.TarInfo("LibriSpeech/README.TXT")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"hello"))
    _register(monkeypatch, "librispeech_test_clean", tgz)
    vb = corpora / "VoiceBank-DEMAND"
    for asset, folder in (("voicebank_demand_clean_testset", "clean_testset_wav"),
                          ("voicebank_demand_noisy_testset", "noisy_testset_wav"),
                          ("voicebank_demand_testset_txt", "testset_txt")):
        z = _zip(m / "corpora" / "VoiceBank-DEMAND" / f"{folder}.zip",
                 {f"{folder}/{p.name}": p for p in sorted((vb / folder).glob("*"))})
        _register(monkeypatch, asset, z)
    noises = sorted(p for p in (corpora / "noise").rglob("*") if p.is_file())
    dcase = "TUT-urban-acoustic-scenes-2018-evaluation"
    for i in range(1, 7):      # the six DCASE audio zips; md5-only records as Zenodo publishes
        part = noises[(i - 1) % len(noises)]
        z = _zip(m / "corpora" / "dcase2018" / f"{dcase}.audio.{i}.zip",
                 {f"{dcase}/audio/part{i}_{part.stem}.wav": part})
        _register(monkeypatch, f"dcase2018_task1_eval_audio_{i}", z, md5=True)
    readme = tmp_path / "meta.csv"
    readme.write_text("filename\tscene_label\n")
    _register(monkeypatch, "dcase2018_task1_eval_meta", _zip(
        m / "corpora" / "dcase2018" / f"{dcase}.meta.zip", {f"{dcase}/meta.csv": readme}), md5=True)
    # RIR-44k and VoiceFixer's released test sets as Zenodo zips (their own top folders)
    staging = tmp_path / "staging"
    make_rir44k(staging, rooms=3)
    make_official_release(corpora, staging / "TestSets")
    for asset, top, name in (("voicefixer_rir44k", "RIR_44k", "voicefixer/RIR_44k.zip"),
                             ("voicefixer_testsets", "TestSets",
                              "voicefixer/GSR_and_SSR_testsets.zip")):
        files = {p.relative_to(staging).as_posix(): p for p in sorted((staging / top).rglob("*"))
                 if p.is_file()}
        _register(monkeypatch, asset, _zip(m / "corpora" / name, files))
    repo, media = _lfs_repo(tmp_path, corpora)
    dns = dataclasses.replace(provision.DNS_SOURCE, repo_url=repo.as_uri(), ref="main",
                              media_url=media.as_uri() + "/{path}")
    for key, src in list(provision.SOURCES.items()):
        if src is provision.DNS_SOURCE:
            monkeypatch.setitem(provision.SOURCES, key, dns)
    monkeypatch.setenv("BENCHMARK_ASSET_MIRROR", m.as_uri())
    monkeypatch.setenv("BENCHMARK_OFFLINE", "0")
    fresh = tmp_path / "fresh_corpora"
    monkeypatch.setenv("BENCHMARK_CORPORA", str(fresh))
    return m, fresh, media


def test_fresh_corpora_folder_gets_every_set_built_by_one_command(mirror, capsys):
    m, fresh, media = mirror
    assert main(["testsets", "build", "all", "--fetch", "--items", "2"]) == 0
    out = capsys.readouterr().out
    for name in SETS:
        assert f"{name}:" in out and (Path(f"{fresh.parent}/data/testsets/{name}/manifest.jsonl")
                                      .exists()), out
    # laid out exactly as the builders read them (VCTK zip had no folder of its own)
    assert (fresh / "VCTK-Corpus-0.92" / "wav48_silence_trimmed" / "p360").is_dir()
    assert (fresh / "LibriSpeech" / "test-clean").is_dir()
    assert (fresh / "RIR_44k" / "test").is_dir() and (fresh / "TUT-urban-acoustic-scenes-2018-"
                                                         "evaluation" / "audio").is_dir()
    manifest = Path(f"{fresh.parent}/data/testsets/all_gsr/manifest.jsonl").read_text()
    assert "TUT-urban-acoustic-scenes-2018-evaluation/audio/" in manifest   # DCASE-Eval noise
    assert all(json.loads(line)["sources"].get("rir", "RIR_44k/test/").startswith("RIR_44k/test/")
               for line in manifest.splitlines())                          # RIR-Test rooms
    dns_clean = sorted((fresh / "DNS-Challenge/datasets/test_set").rglob("*.wav"))
    assert dns_clean and all(_sha(p) == _sha(media / p.relative_to(fresh / "DNS-Challenge"))
                             for p in dns_clean)
    assert not (fresh / "DNS-Challenge" / "README.md").exists()  # sparse: only the test set
    assert not list(fresh.glob(".*checkout*")) and not list(fresh.glob(".*unpack*"))
    # a second call does no work: the mirror is gone and nothing is fetched
    shutil.rmtree(m)
    assert main(["testsets", "build", "all", "--fetch", "--items", "2"]) == 0
    out2 = capsys.readouterr().out
    assert "nothing to download" in out2 and "fetch    " not in out2


def test_official_release_is_fetched_from_its_zenodo_zip_and_ingested(mirror, capsys):
    _, fresh, _ = mirror
    assert main(["testsets", "build", *OFFICIAL, "--source", "official", "--fetch"]) == 0
    out = capsys.readouterr().out
    assert (fresh / "TestSets" / "ALL_GSR").is_dir()
    # only the release is fetched: no raw corpus the ingestion does not read
    assert sorted(p.name for p in fresh.iterdir()) == ["TestSets"]
    assert [line.split()[1] for line in out.splitlines() if line.startswith("  fetch ")] == ["TestSets"]
    for name in OFFICIAL:
        assert f"{name}:" in out


def test_dry_run_prints_the_plan_and_touches_nothing(mirror, capsys):
    _, fresh, _ = mirror
    assert main(["testsets", "build", "all", "--dry-run"]) == 0
    out = capsys.readouterr().out
    for folder in ("VCTK-Corpus-0.92", "LibriSpeech", "VoiceBank-DEMAND", "RIR_44k",
                   "TUT-urban-acoustic-scenes-2018-evaluation", "DNS-Challenge"):
        assert folder in out
    assert "licence: CC BY 4.0" in out and "free:" in out and str(fresh) in out
    assert not fresh.exists()


def test_tampered_archive_is_refused_and_nothing_is_laid_out(mirror, capsys):
    m, fresh, _ = mirror
    z = m / "corpora" / "VCTK-Corpus-0.92.zip"
    data = bytearray(z.read_bytes())
    data[len(data) // 2] ^= 0xFF
    z.write_bytes(bytes(data))
    assert main(["testsets", "build", "sr", "--fetch"]) == 2
    err = capsys.readouterr().err
    assert "sha256 mismatch" in err and "vctk_0.92" in err
    assert not (fresh / "VCTK-Corpus-0.92").exists()


def test_interrupted_download_resumes(mirror, capsys, tmp_path):
    m, fresh, _ = mirror
    archive = m / "corpora" / "test-clean.tar.gz"
    data = archive.read_bytes()
    part = tmp_path / "cache" / "corpora" / "test-clean.tar.gz.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data[: len(data) // 2])             # what a killed download left
    assert main(["testsets", "build", "libri_noisy", "--fetch", "--items", "1"]) == 0
    cached = tmp_path / "cache" / "corpora" / "test-clean.tar.gz"
    assert cached.read_bytes() == data and not part.exists()


def test_no_room_stops_before_any_download(mirror, monkeypatch, capsys, tmp_path):
    _, fresh, _ = mirror
    monkeypatch.setattr(provision.Plan, "free_bytes", lambda self: 1000)
    assert main(["testsets", "build", "sr", "--fetch"]) == 2
    assert "not enough disk space" in capsys.readouterr().err
    assert not (tmp_path / "cache" / "corpora").exists() and not fresh.exists()


def test_offline_message_lists_every_missing_corpus(isolated_env, monkeypatch, tmp_path, capsys):
    fresh = tmp_path / "empty"
    monkeypatch.setenv("BENCHMARK_CORPORA", str(fresh))
    monkeypatch.setenv("BENCHMARK_OFFLINE", "1")
    assert main(["testsets", "build", "all", "--fetch"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1
    for folder, url in (("VCTK-Corpus-0.92", "VCTK-Corpus-0.92.zip"),
                        ("LibriSpeech", "test-clean.tar.gz"),
                        ("VoiceBank-DEMAND", "noisy_testset_wav.zip"),
                        ("TUT-urban-acoustic-scenes-2018-evaluation", "zenodo.org/record/1293883"),
                        ("RIR_44k", "zenodo.org/record/5528124"),
                        ("DNS-Challenge", "github.com/microsoft/DNS-Challenge")):
        assert folder in err and url in err, (folder, err)
        assert str(fresh.resolve()) in err
    assert not fresh.exists()


def _tar_with(tmp: Path, name: str, *, link: str | None = None) -> Path:
    path = tmp / "evil.tar"
    with tarfile.open(path, "w") as tf:
        ok = tarfile.TarInfo("good/file.txt")
        ok.size = 2
        tf.addfile(ok, io.BytesIO(b"ok"))
        bad = tarfile.TarInfo(name)
        if link:
            bad.type, bad.linkname = tarfile.SYMTYPE, link
            tf.addfile(bad)
        else:
            bad.size = 4
            tf.addfile(bad, io.BytesIO(b"evil"))
    return path


@pytest.mark.parametrize("name,link", [("../escape.txt", None), ("good/../../escape.txt", None),
                                       ("/etc/escape.txt", None), ("good/ln", "../../outside")])
def test_tar_member_outside_the_destination_is_refused_without_temp_folders(tmp_path, name, link):
    archive = _tar_with(tmp_path, name, link=link)
    dest = tmp_path / "out" / "corpus"
    with pytest.raises(AssetError, match="refused"):
        extract(archive, dest)
    assert not dest.exists() and not (tmp_path / "escape.txt").exists()
    assert [p.name for p in (tmp_path / "out").iterdir()] == []     # no temp folder left


def test_corrupt_archive_is_one_clear_error(tmp_path):
    good = _zip(tmp_path / "a.zip", {"x/y.txt": Path(__file__)})
    data = good.read_bytes()
    bad = tmp_path / "b.zip"
    bad.write_bytes(data[:30] + b"\0" * 40 + data[70:])
    with pytest.raises(AssetError, match="corrupt or truncated"):
        extract(bad, tmp_path / "dest")
    cut = tmp_path / "c.zip"                    # a download cut in half: no central directory
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(AssetError, match=r"c.zip: corrupt or truncated archive \(starts like a zip"):
        extract(cut, tmp_path / "dest")
    text = tmp_path / "d.txt"                   # really not an archive
    text.write_text("hello")
    with pytest.raises(AssetError, match="not a tar or zip archive"):
        extract(text, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip", "b.zip", "c.zip", "d.txt"]
