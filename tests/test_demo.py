"""`make demo`'s fresh-machine path: no corpora anywhere, so the demo corpus is fetched through the
asset registry, here from a file:// mirror built from the real mini corpora."""

from __future__ import annotations

import dataclasses
import hashlib
import tarfile

import pytest

from benchmark import assets, demo
from benchmark.run.store import Store


@pytest.fixture
def fresh_machine(isolated_env, corpora, monkeypatch, tmp_path):
    """No BENCHMARK_CORPORA, no ./corpora, no shared corpora; a mirror with the demo corpus."""
    monkeypatch.delenv("BENCHMARK_CORPORA", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(demo, "SHARED_CORPORA", tmp_path / "no_shared_corpora")
    mirror = tmp_path / "mirror"
    for a in assets.all_assets():
        if a.name.startswith("demo_") and a.name != demo.MINI_LIBRISPEECH:
            rel = a.path.removeprefix("demo_corpora/")
            src = corpora / rel
            if not src.exists() and "_fileid_" in rel:     # the excerpt's 2020 noisy file names
                src = next((corpora / rel).parent.glob("*_fileid_" + rel.rsplit("_fileid_", 1)[1]))
            assert src.exists(), src
            (mirror / a.path).parent.mkdir(parents=True, exist_ok=True)
            (mirror / a.path).symlink_to(src)
    # Mini LibriSpeech's archive layout (LibriSpeech/dev-clean-2/<spk>/<chapter>/...), built from
    # the real test-clean excerpt; the record's sha256/size are swapped for this archive's.
    archive = mirror / "demo_corpora" / "archives" / "dev-clean-2.tar.gz"
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(corpora / "LibriSpeech" / "test-clean", arcname="LibriSpeech/dev-clean-2")
    real = assets.get_asset(demo.MINI_LIBRISPEECH)
    monkeypatch.setitem(assets.ASSETS, real.name, dataclasses.replace(
        real, sha256=hashlib.sha256(archive.read_bytes()).hexdigest(), size=archive.stat().st_size))
    monkeypatch.setenv("BENCHMARK_ASSET_MIRROR", mirror.as_uri())
    return tmp_path


def test_demo_corpus_record_is_the_public_archive():
    a = assets.get_asset(demo.MINI_LIBRISPEECH)
    assert a.urls[0] == "https://www.openslr.org/resources/31/dev-clean-2.tar.gz" and a.unpack
    assert len(demo.demo_assets()) == 22   # archive + 12 VB-DEMAND + 2 noise + 1 RIR + 6 DNS files


@pytest.mark.slow
def test_fresh_machine_demo_fetches_the_corpus_and_writes_a_report(fresh_machine, capsys):
    rc = demo.main(["--items", "2", "--systems", "unprocessed", "target", "--metrics", "dnsmos",
                    "--name", "fresh"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "fetching the small public demo corpus" in out
    root = fresh_machine / "cache" / "demo_corpora"
    assert (root / "LibriSpeech" / "test-clean").is_symlink()
    assert len(list((root / "LibriSpeech" / "test-clean").rglob("*.flac"))) == 3
    assert len(list((root / "VoiceBank-DEMAND").rglob("*.wav"))) == 12
    # the sets whose corpora the demo corpus has were built; VCTK-based ones were not
    built = sorted(p.name for p in (fresh_machine / "data" / "testsets").iterdir() if not p.name.startswith("."))
    assert built == ["denoise", "dns2020", "libri_noisy"]       # denoise: VoiceBank-DEMAND only
    report = (fresh_machine / "reports" / "fresh" / "report.md").read_text()
    assert f"report: {(fresh_machine / 'reports' / 'fresh' / 'report.md').resolve()}" in out
    assert "## Test set `libri_noisy`" in report and "MaskSR2 (002) Table III" in report
    assert "## Test set `dns2020`" in report and "Unprocessed (paper)" in report
    store = Store.existing("fresh")
    scores = [s for s in store.scores() if s.metric == "dnsmos" and s.column == "OVRL"]
    store.close()
    assert scores and all(1.0 < s.value < 5.0 for s in scores)   # real DNSMOS values
