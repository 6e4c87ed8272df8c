"""Every builder on the real mini corpora: measured properties of the rendered audio,
determinism across runs and worker counts, manifest-only re-rendering, verify, CLI errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from testsets_support import LEAK_DB, MIX_LEAK_DB, STOPBAND, band_energy_db, independent_active_snr

from benchmark.cli import main
from benchmark.core.audio import read_audio, sha256_file
from benchmark.core.errors import BenchmarkError
from testsets import TESTSETS, BuildOptions
from testsets.engine import read_checksums, verify_set
from testsets.manifest import read_manifest

ITEMS = 8


@pytest.fixture(scope="module")
def built(corpora, tmp_path_factory):
    root = tmp_path_factory.mktemp("testsets")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCHMARK_CACHE", str(root / "cache"))
        out = root / "out"
        for name in TESTSETS.names():
            # the mini LibriSpeech has 3 utterances; derev simulates a 44.1 kHz room per item
            items = 3 if name in ("libri_noisy", "derev") else ITEMS
            TESTSETS.get(name)().build(BuildOptions(corpora=corpora, out=out, items=items, workers=2))
        yield out, mp


def test_every_set_is_built_with_manifest_checksums_and_info(built):
    out, _ = built
    expected = {"sr": 5 * ITEMS, "all_gsr": ITEMS, "vctk_gsr": ITEMS, "libri_noisy": 3, "dns2020": 6,
                "denoise": 6, "decli": 3 * ITEMS, "derev": 3}
    for name, n in expected.items():
        items = read_manifest(out / name / "manifest.jsonl")
        assert len(items) == n, name
        sums = read_checksums(out / name)
        assert len(sums) == sum(1 + (it.target is not None) for it in items)
        info = json.loads((out / name / "info.json").read_text())
        assert info["builder"] == name and info["version"]
        for it in items:
            x, rate = read_audio(out / name / it.degraded)
            assert rate == it.rate and abs(len(x) / rate - it.duration) < 1e-3
        assert verify_set(out / name).ok == len(sums)


def test_sr_degraded_has_no_energy_above_the_low_nyquist(built):
    out, _ = built
    for it in read_manifest(out / "sr" / "manifest.jsonl"):
        x, rate = read_audio(out / "sr" / it.degraded)
        t, _ = read_audio(out / "sr" / it.target)
        assert rate == 44100 and len(x) == len(t)
        assert band_energy_db(x, rate, it.params["low_rate"] / 2 * STOPBAND) < LEAK_DB, it.id
        if it.params["low_rate"] <= 8000:          # the target really had content there
            assert band_energy_db(t, rate, it.params["low_rate"] / 2) > -40, it.id


def test_all_gsr_rendered_audio_matches_recorded_parameters(built):
    out, _ = built
    items = read_manifest(out / "all_gsr" / "manifest.jsonl")
    seen_lowpass = 0
    for it in items:
        d = it.params["distortion"]
        x, rate = read_audio(out / "all_gsr" / it.degraded)
        assert len(x) == 3 * 44100 and it.transcript is None
        if d["lowpass"] and d["lowpass"]["cutoff"] < rate / 2:       # low-pass is the last stage
            # noise comes before the low-pass here: the mixture's images through resample_poly's
            # Kaiser(5) filter (about 54 dB) leave more than speech alone (worst measured -53.9 dB)
            assert band_energy_db(x, rate, d["lowpass"]["cutoff"] * STOPBAND) < MIX_LEAK_DB, it.id
            seen_lowpass += 1
        elif d["clip_eta"] is not None:       # levels: clipped at eta, then unified and scaled
            assert np.max(np.abs(x)) <= d["gain"] + 1e-6
    assert seen_lowpass >= 1


def test_vctk_gsr_components_match_snr_clip_and_cutoff(built, corpora):
    out, _ = built
    builder = TESTSETS.get("vctk_gsr")()
    checked = {"snr": 0, "clip": 0, "lowpass": 0}
    for it in read_manifest(out / "vctk_gsr" / "manifest.jsonl"):
        d = it.params["distortion"]
        assert it.transcript and it.speaker
        r = builder.rerender(corpora, it)
        if d["snr_db"] is not None:
            snr = independent_active_snr(r.components["speech"], r.components["noise"], it.rate)
            assert abs(snr - d["snr_db"]) < 0.1
            assert -5 <= d["snr_db"] <= 20
            checked["snr"] += 1
        if d["clip_eta"] is not None:
            assert 0.1 <= d["clip_eta"] <= 0.5
            assert np.max(np.abs(r.components["clipped"])) <= d["clip_eta"]
            checked["clip"] += 1
        if d["lowpass"]:
            assert band_energy_db(r.components["lowpassed"], it.rate,
                                  d["lowpass"]["cutoff"] * STOPBAND) < LEAK_DB
            checked["lowpass"] += 1
    assert checked["snr"] == ITEMS and checked["lowpass"] >= 1


def test_dns2020_pairs_by_file_id_and_reports_the_missing_subset(built, corpora):
    out, _ = built
    items = read_manifest(out / "dns2020" / "manifest.jsonl")
    assert {it.subset for it in items} == {"no_reverb", "real_recordings"}
    for it in items:
        src = corpora / it.sources["noisy"]
        assert sha256_file(out / "dns2020" / it.degraded) == sha256_file(src)
        assert it.sources["noisy"].startswith("DNS-Challenge/datasets/test_set/")
        if it.subset == "no_reverb":
            fid = it.params["file_id"]
            assert it.sources["clean"].endswith(f"/clean/clean_fileid_{fid}.wav")
            assert it.sources["noisy"].endswith(f"_fileid_{fid}.wav")
            # the SNR and target level the 2020 name encodes, recorded
            name = it.sources["noisy"].rsplit("/", 1)[1]
            assert f"_snr{it.params['snr_db']:g}_tl{it.params['target_level_db']:g}_" in name
            assert sha256_file(out / "dns2020" / it.target) == sha256_file(corpora / it.sources["clean"])
        else:
            assert it.target is None
    assert sorted(it.params["file_id"] for it in items if it.subset == "no_reverb") == [15, 16, 72]
    notes = json.loads((out / "dns2020" / "info.json").read_text())["notes"]
    assert any("with_reverb" in n for n in notes)
    assert "corpus layout: DNS-Challenge/datasets/test_set" in notes


def test_dns2020_is_found_in_the_old_test_set_layout_too(corpora, tmp_path):
    """The same files under DNS-Challenge/test_set/ (no datasets/) give the same set."""
    new = corpora / "DNS-Challenge/datasets/test_set"
    old = tmp_path / "corpora" / "DNS-Challenge" / "test_set"
    shutil.copytree(new, old)
    TESTSETS.get("dns2020")().build(BuildOptions(corpora=tmp_path / "corpora", out=tmp_path / "a",
                                                 workers=1))
    TESTSETS.get("dns2020")().build(BuildOptions(corpora=corpora, out=tmp_path / "b", workers=1))
    a, b = (read_manifest(tmp_path / d / "dns2020" / "manifest.jsonl") for d in "ab")
    assert [it.id for it in a] == [it.id for it in b] and len(a) == 6
    assert all(it.sources["noisy"].startswith("DNS-Challenge/test_set/") for it in a)
    assert (tmp_path / "a/dns2020/CHECKSUMS").read_text() == (tmp_path / "b/dns2020/CHECKSUMS").read_text()


def test_dns2020_unpaired_noisy_file_is_refused(corpora, tmp_path):
    root = tmp_path / "DNS-Challenge" / "datasets" / "test_set"
    shutil.copytree(corpora / "DNS-Challenge/datasets/test_set", root)
    (root / "synthetic/no_reverb/clean/clean_fileid_72.wav").unlink()
    with pytest.raises(BenchmarkError, match="no clean file with fileid_72"):
        TESTSETS.get("dns2020")().build(BuildOptions(corpora=tmp_path, out=tmp_path / "o", workers=1))


@pytest.mark.slow
def test_rebuild_with_one_worker_is_byte_identical(built, corpora, tmp_path):
    out, _ = built
    for name in ("all_gsr", "vctk_gsr", "libri_noisy"):
        items = 3 if name == "libri_noisy" else ITEMS
        TESTSETS.get(name)().build(BuildOptions(corpora=corpora, out=tmp_path, items=items, workers=1))
        assert (tmp_path / name / "CHECKSUMS").read_text() == (out / name / "CHECKSUMS").read_text()
        assert (tmp_path / name / "manifest.jsonl").read_text() == \
            (out / name / "manifest.jsonl").read_text()


def test_manifest_alone_rerenders_items_byte_identically(built, corpora, tmp_path):
    out, _ = built
    for name in ("all_gsr", "vctk_gsr", "sr"):
        sums = read_checksums(out / name)
        for it in read_manifest(out / name / "manifest.jsonl")[:3]:
            TESTSETS.get(name)().render_item(corpora, tmp_path / name, it)
            assert sha256_file(tmp_path / name / it.degraded) == sums[it.degraded]
            assert sha256_file(tmp_path / name / it.target) == sums[it.target]


def test_verify_reports_a_tampered_file(built, capsys):
    out, _ = built
    victim = out / "libri_noisy" / read_manifest(out / "libri_noisy" / "manifest.jsonl")[0].degraded
    data = bytearray(victim.read_bytes())
    data[-1] ^= 1
    victim.write_bytes(bytes(data))
    assert main(["testsets", "verify", "libri_noisy", "--out", str(out)]) == 1
    assert "differs: " + str(victim.relative_to(out / "libri_noisy")) in capsys.readouterr().out


def test_missing_corpus_is_one_clear_error(isolated_env, capsys):
    rc = main(["--corpora", str(isolated_env / "nothing"), "testsets", "build", "vctk_gsr",
               "--out", str(isolated_env / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert "corpus 'vctk' not found" in err and "datashare.ed.ac.uk/handle/10283/3443" in err
    assert "wav48_silence_trimmed/<spk>/<spk>_<nnn>_mic1.flac" in err


def test_too_small_corpus_says_how_many_exist_and_allow_repeat_works(corpora, isolated_env, capsys):
    out = isolated_env / "out"
    rc = main(["--corpora", str(corpora), "testsets", "build", "libri_noisy", "--items", "5",
               "--out", str(out), "--workers", "1"])
    assert rc == 2 and "only 3 source utterances" in capsys.readouterr().err
    rc = main(["--corpora", str(corpora), "testsets", "build", "libri_noisy", "--items", "5",
               "--out", str(out), "--workers", "1", "--allow-repeat"])
    assert rc == 0
    items = read_manifest(out / "libri_noisy" / "manifest.jsonl")
    assert len(items) == 5 and len({it.sources["speech"] for it in items}) == 3
    assert {it.speaker for it in items[:3]} == {"2830", "4507", "8455"}     # round robin


def test_list_shows_sets_and_corpora(corpora, capsys):
    assert main(["--corpora", str(corpora), "testsets", "list"]) == 0
    text = capsys.readouterr().out
    for name in ("sr", "all_gsr", "vctk_gsr", "libri_noisy", "dns2020", "denoise", "derev", "decli"):
        assert name in text
    assert "MISSING" not in text
    assert "RIR_44k (absent: stand-in used)" in text


def test_builders_write_typed_conditions_that_breakdowns_read(built):
    """Issue 30 item 4: every builder records its conditions as typed fields; the report's
    breakdown and the listening page read those fields, not parameter names."""
    from benchmark.report.breakdown import factors
    from benchmark.report.listen import severities
    out, _ = built
    for it in read_manifest(out / "sr" / "manifest.jsonl"):
        assert it.conditions == {"cutoff_hz": it.params["low_rate"] / 2}
    for it in read_manifest(out / "decli" / "manifest.jsonl"):
        assert it.conditions == {"clip_level": it.params["clip_eta"]}
    for it in read_manifest(out / "derev" / "manifest.jsonl"):
        assert it.conditions["reverb"] is True
        assert it.conditions["rt60_s"] == (it.params["room"]["rt60"] if it.params["room"] else None)
    for name in ("all_gsr", "vctk_gsr", "libri_noisy"):
        for it in read_manifest(out / name / "manifest.jsonl"):
            d, c = it.params["distortion"], it.conditions
            assert c["snr_db"] == d["snr_db"] and c["clip_level"] == d["clip_eta"]
            assert c["cutoff_hz"] == (d["lowpass"]["cutoff"] if d["lowpass"] else None)
            assert c["reverb"] is d["reverb"] and set(c) == {"snr_db", "cutoff_hz", "clip_level",
                                                             "reverb", "rt60_s"}
    # the typed record decides, whatever the parameters are called
    man = {"subset": "", "params": {"distortion": {"snr_db": 30.0, "clip_eta": None, "lowpass": None,
                                                   "reverb": False}},
           "conditions": {"snr_db": -2.0, "cutoff_hz": 3000.0, "clip_level": 0.3, "reverb": True,
                          "rt60_s": 0.4}}
    assert factors(man) == {"SNR": "< 0 dB", "bandwidth": "2–4 kHz", "clipping": "0.25 ≤ η < 0.5",
                            "reverb": "reverb"}
    assert severities(man)["reverb"] == pytest.approx(0.4) and severities(man)["noise"] == pytest.approx(32 / 35)
    with pytest.raises(ValueError, match="unknown condition 'snr'"):
        from testsets.manifest import conditions
        conditions(snr=3.0)


def test_builders_note_a_corpus_that_is_not_the_published_one(built):
    """Issue 28 item 6: the shared excerpt is 6 VoiceBank-DEMAND pairs of p287 at 16 kHz (the
    published test set: 824 of p232/p257 at 48 kHz) and 8 VCTK-Test utterances (published: 2937)."""
    from testsets.corpora import VCTK_TEST, corpus_differences
    out, _ = built
    notes = json.loads((out / "denoise" / "info.json").read_text())["notes"]
    assert any("6 utterances found, the published set has 824" in n for n in notes)
    assert any("missing p232, p257; other p287" in n for n in notes)
    assert any("6 file(s) at 16000 Hz, the published corpus is 48000 Hz" in n for n in notes)
    for name in ("sr", "decli", "derev"):
        notes = json.loads((out / name / "info.json").read_text())["notes"]
        assert any("8 utterances found, the published set has 2937" in n for n in notes), name
        assert not any("speakers differ" in n or "Hz, the published" in n for n in notes), name
    spk = [s for s in VCTK_TEST.speakers for _ in range(367)] + ["p360"]      # 2937 items
    assert corpus_differences(VCTK_TEST, spk, [48000] * len(spk)) == []
