"""Issue 13: VoiceFixer's released sets ingested (`--source official`), the new DENOISE / DEREV /
DECLI builders, the recipe faults measured from the rendered audio, RIR-44k as all_gsr's RIRs,
one random stream per aspect, info.json provenance, colliding item ids refused."""

from __future__ import annotations

import json
import shutil
from importlib import metadata

import numpy as np
import pytest
from testsets_support import (
    band_energy_db,
    independent_active_snr,
    independent_algorithm1_snr,
    make_official_release,
    make_rir44k,
    xcorr_lag,
)

from benchmark.cli import main
from benchmark.core.audio import read_audio, resample, sha256_file
from benchmark.core.errors import BenchmarkError
from testsets import TESTSETS, BuildOptions
from testsets.distortions import apply_reverb
from testsets.engine import build_set, read_checksums, read_measured, voicefixer_pcm16
from testsets.manifest import DuplicateItemIdError, ManifestItem, read_manifest, write_manifest
from testsets.rir import simulate_direct_path


def _build(name, corpora, out, **kw):
    kw.setdefault("workers", 1)
    builder = TESTSETS.get(name)()
    builder.build(BuildOptions(corpora=corpora, out=out, **kw))
    return out / name, read_manifest(out / name / "manifest.jsonl")


# --- --source official ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def release(corpora, tmp_path_factory):
    """A corpora folder: links to the shared corpora plus TestSets/ laid out as the release."""
    root = tmp_path_factory.mktemp("release")
    for sub in ("VCTK-Corpus-0.92", "VoiceBank-DEMAND"):
        (root / sub).symlink_to(corpora / sub, target_is_directory=True)
    pairs = make_official_release(corpora, root / "TestSets", drop_list="DEREV/pair_vctk_reverb.lst")
    return root, pairs


@pytest.mark.parametrize("name", ["sr", "all_gsr", "decli", "derev", "denoise"])
def test_official_release_is_ingested_pair_for_pair(release, tmp_path, name):
    corpora, pairs = release
    folder, items = _build(name, corpora, tmp_path, source="official")
    expected = {k.split("/", 1)[1] if "/" in k else "": v for k, v in pairs.items()
                if k.split("/")[0] == name}
    assert sorted({it.subset for it in items}) == sorted(expected)
    assert len(items) == sum(len(v) for v in expected.values())
    sums = read_checksums(folder)
    for it in items:
        deg, tgt = it.sources["degraded"], it.sources["target"]
        assert (deg.removeprefix("TestSets/"), tgt.removeprefix("TestSets/")) in expected[it.subset]
        # the released bytes, unchanged, and their own rate
        assert sums[it.degraded] == sha256_file(corpora / deg) == sha256_file(folder / it.degraded)
        assert sums[it.target] == sha256_file(corpora / tgt)
        x, rate = read_audio(folder / it.degraded)
        assert rate == it.rate and it.rate == (16000 if name == "denoise" else 44100)
        assert it.params["source"] == "official"
        assert it.params["unify_energy"] is (name == "sr")
        if name in ("sr", "decli", "derev"):                      # VCTK transcripts joined
            spk, utt = tgt.rsplit("/", 1)[1].split("_")[:2]
            txt = corpora / "VCTK-Corpus-0.92" / "txt" / spk / f"{spk}_{utt}.txt"
            assert it.speaker == spk and it.transcript == txt.read_text().strip()
        if name == "denoise":
            stem = deg.rsplit("/", 1)[1][:-4]
            assert it.transcript == (corpora / "VoiceBank-DEMAND/testset_txt" / f"{stem}.txt").read_text().strip()
        if name == "sr":
            assert it.subset == f"{it.params['low_rate'] // 1000}kHz"
    info = json.loads((folder / "info.json").read_text())
    assert info["source"] == "official"
    assert any("pairs from the folders by evaluation_proc/config.py refresh_lists" in n
               for n in info["notes"])
    if name == "derev":       # its pair list was left out of the fixture, and said so
        assert any("pair_vctk_reverb.lst absent (VoiceFixer regenerates it" in n for n in info["notes"])
    else:
        assert any(".lst agrees with the folders" in n for n in info["notes"])
    if name == "decli":       # the FLAC subset kept as FLAC
        assert all(it.degraded.endswith(".flac") for it in items if it.subset == "0.5")


def test_official_pairs_follow_the_folders_never_a_stale_list(release, tmp_path, capsys):
    corpora, _ = release
    broken = tmp_path / "c"
    shutil.copytree(corpora / "TestSets", broken / "TestSets")
    # a listed file gone, and ALL_GSR's list cut to one line: the folders decide, as
    # refresh_lists (evaluation_proc/config.py @ 0c206f7) rewrites every list before evaluating
    (broken / "TestSets/SR/cheby1/1000/p361_002_mic1.wav").unlink()
    lst = broken / "TestSets/ALL_GSR/pair_random_filter_type.lst"
    lst.write_text(lst.read_text().splitlines()[0] + "\n")
    folder, items = _build("sr", broken, tmp_path / "o", source="official")
    assert len([it for it in items if it.subset == "2kHz"]) == 2
    info = json.loads((folder / "info.json").read_text())
    assert any("pair_cheby1_1000.lst: 1 file(s) listed but not in the folder "
               "(SR/cheby1/1000/p361_002_mic1)" in n for n in info["notes"])
    folder, items = _build("all_gsr", broken, tmp_path / "o", source="official")
    assert len(items) == 3                                        # all 3, not the list's 1
    assert "2 file(s) in the folder but not listed" in capsys.readouterr().err
    # SR/DEREV names must carry _mic1 (config.py L178/L188)
    src = broken / "TestSets/DEREV/Reverb_Speech"
    victim = sorted(src.glob("*.wav"))[0]
    victim.rename(src / victim.name.replace("_mic1", ""))
    with pytest.raises(BenchmarkError, match=r"has no VCTK '<spk>_<nnn>_mic1' in its name"):
        _build("derev", broken, tmp_path / "o", source="official")
    # a pair of different frame counts is an error naming it (checklst, config.py L203)
    import soundfile as sf
    clip = sorted((broken / "TestSets/DECLI/0.1").glob("*.wav"))[0]
    x, r = sf.read(clip)
    sf.write(clip, x[:-10], r, subtype="PCM_16")
    with pytest.raises(BenchmarkError, match=rf"DECLI/0.1/{clip.name} has {len(x) - 10} frames but "
                                             rf"its target .*p\d+_\d+_mic1.wav has {len(x)}"):
        _build("decli", broken, tmp_path / "o", source="official")
    rc = main(["--corpora", str(tmp_path / "none"), "testsets", "build", "sr", "--source", "official",
               "--out", str(tmp_path / "o2")])
    err = capsys.readouterr().err
    assert rc == 2 and "corpus 'voicefixer_testsets' not found" in err and "zenodo.org/record/5528144" in err
    rc = main(["--corpora", str(corpora), "testsets", "build", "vctk_gsr", "--source", "official",
               "--out", str(tmp_path / "o3")])
    assert rc == 2 and "has no official release" in capsys.readouterr().err


# --- new sets from raw corpora ---------------------------------------------------------------

def test_decli_clips_the_normalised_utterance_at_each_eta(corpora, tmp_path):
    folder, items = _build("decli", corpora, tmp_path, items=3)
    assert [it.subset for it in items] == ["0.25"] * 3 + ["0.1"] * 3 + ["0.5"] * 3
    measured = read_measured(folder)
    for it in items:
        x, _ = read_audio(folder / it.degraded)
        t, _ = read_audio(folder / it.target)
        src, r = read_audio(corpora / it.sources["speech"], mix_channels=True)
        ref = resample(src, r, 44100)
        # 16-bit as voicefixer_main's save_wave writes it: x * 2**15 truncated to int16
        np.testing.assert_array_equal(t, voicefixer_pcm16(ref / np.max(np.abs(ref))) / 2 ** 15)
        eta = it.params["clip_eta"]
        q_eta = np.trunc(eta * 2 ** 15) / 2 ** 15       # trunc is monotonic: clip commutes with it
        np.testing.assert_array_equal(x, np.clip(t, -q_eta, q_eta))
        # measured on the float render; in the 16-bit file a sample within one step of eta can
        # fall below it (a few in 10^5)
        assert abs(np.mean(np.abs(t) >= eta) - measured[it.id]["clipped_fraction"]) < 1e-4
        assert it.transcript


def test_denoise_is_voicebank_demand_at_44k(corpora, tmp_path):
    folder, items = _build("denoise", corpora, tmp_path)
    assert len(items) == 6 and all(it.rate == 44100 for it in items)
    for it in items:
        x, rate = read_audio(folder / it.degraded)
        n, r = read_audio(corpora / it.sources["noisy"])
        np.testing.assert_array_equal(x, voicefixer_pcm16(resample(n, r, 44100)) / 2 ** 15)
        assert it.transcript and it.speaker == "p287"


@pytest.fixture(scope="module")
def with_rir44k(corpora, tmp_path_factory):
    root = tmp_path_factory.mktemp("rir44k")
    for sub in ("VCTK-Corpus-0.92", "noise", "VoiceBank-DEMAND"):
        (root / sub).symlink_to(corpora / sub, target_is_directory=True)
    rooms = make_rir44k(root, rooms=5)
    return root, rooms


def test_derev_uses_rir_test_with_voicefixers_unshifted_reverb_or_the_direct_path(with_rir44k, tmp_path):
    corpora, rooms = with_rir44k
    by_name = dict(rooms)
    for alignment in ("none", "direct_path"):
        folder, items = _build("derev", corpora, tmp_path / alignment, items=2,
                               reverb_alignment=None if alignment == "none" else alignment)
        measured = read_measured(folder)
        for it in items:
            rir_name = it.sources["rir"].rsplit("/", 1)[1]
            assert it.sources["rir"].startswith("RIR_44k/test/") and it.params["alignment"] == "geometric"
            assert it.params["reverb_alignment"] == alignment
            room = by_name[rir_name]
            assert abs(it.params["rir_delay"] - room.distance() / 343.0 * 44100) < 0.05  # roomsimove: offset 0
            x, _ = read_audio(folder / it.degraded)
            t, _ = read_audio(folder / it.target)
            h = np.load(corpora / it.sources["rir"])
            # both files are 16-bit: the input is the reverberant dry signal quantised, so it equals
            # the reverberated (quantised) target within the quantisation step times sum|h|
            step = 2 ** -15 * (1 + np.sum(np.abs(h)))
            np.testing.assert_allclose(x, apply_reverb(t, h, it.params["rir_delay"], alignment), atol=step)
            # voicefixer_main reverb_rir (magical_effects.py L158-165 @ 0c206f7): convolve, cut to
            # length, no shift: the direct path lags the dry target by the geometric delay
            lag = xcorr_lag(apply_reverb(t, simulate_direct_path(room)[40:], None, alignment), t)
            shift = int(round(it.params["rir_delay"])) if alignment == "direct_path" else 0
            assert abs(lag - (int(round(it.params["rir_delay"])) - shift)) <= 2, (alignment, lag)
            assert np.max(np.abs(x)) <= max(0.98, np.max(np.abs(np.convolve(t, h)))) + 1e-6
            assert measured[it.id]["reverb_shift"] == shift


def test_all_gsr_defaults_to_rir_test_and_records_both_snrs_and_levels(with_rir44k, tmp_path):
    corpora, rooms = with_rir44k
    folder, items = _build("all_gsr", corpora, tmp_path, items=12, seed=3, allow_repeat=True)
    measured = read_measured(folder)
    builder = TESTSETS.get("all_gsr")()
    rev = [it for it in items if it.params["distortion"]["reverb"]]
    assert rev and all(it.sources["rir"].startswith("RIR_44k/test/") and it.params["room"] is None
                       for it in rev)
    noisy = 0
    for it in items:
        d, m = it.params["distortion"], measured[it.id]
        x, _ = read_audio(folder / it.degraded)
        t, _ = read_audio(folder / it.target)
        # levels: common peak, then the gain; the recorded peaks are the files' peaks
        assert abs(max(np.max(np.abs(x)), np.max(np.abs(t))) - d["gain"]) < 2 ** -15  # 16-bit step
        assert abs(np.max(np.abs(x)) - m["peak_degraded"]) < 1e-6
        assert abs(np.max(np.abs(t)) - m["peak_target"]) < 1e-6
        if d["snr_db"] is not None:
            c = builder.rerender(corpora, it).components
            alg1 = independent_algorithm1_snr(c["speech"], c["noise"])
            act = independent_active_snr(c["speech"], c["noise"], it.rate)
            assert d["snr_definition"] == "algorithm1" and abs(alg1 - d["snr_db"]) < 0.1
            assert abs(alg1 - m["snr_algorithm1_db"]) < 0.1 and abs(act - m["snr_active_db"]) < 0.1
            noisy += 1
    assert noisy == len(items)
    info = json.loads((folder / "info.json").read_text())
    assert not any("RIR-44k not found" in n for n in info["notes"])
    # 004 Sec. 4.2.1 and voicefixer_main's config (low_pass_2 prob 1.0) low-pass every item
    cutoffs = [it.params["distortion"]["lowpass"]["cutoff"] for it in items]
    assert all(1000 <= c <= 22050 for c in cutoffs)
    low = min(items, key=lambda it: it.params["distortion"]["lowpass"]["cutoff"])
    lowpassed = builder.rerender(corpora, low).components["lowpassed"]
    assert band_energy_db(lowpassed, 44100, 1.1 * min(cutoffs)) < -40
    config = info["constants"]["distortion_config"]
    assert config["p_lowpass"] == 1.0 and config["cutoff_range"] == [1000.0, 22050.0]
    assert set(config) - {"order"} <= set(info["constants"]["parameter_sources"])


def test_without_rir44k_all_gsr_says_it_simulates_rooms(corpora, tmp_path, capsys):
    folder, items = _build("all_gsr", corpora, tmp_path, items=8)
    info = json.loads((folder / "info.json").read_text())
    assert any("RIR-44k not found" in n for n in info["notes"])
    assert any("DCASE-Eval not found" in n for n in info["notes"])
    assert "RIR-44k not found" in capsys.readouterr().err
    for it in items:
        if it.params["distortion"]["reverb"]:
            assert it.params["room"]["recipe"] == "voicefixer" and it.params["alignment"] == "geometric"


def test_info_json_records_library_versions_and_recipe_constants(corpora, tmp_path):
    folder, _ = _build("vctk_gsr", corpora, tmp_path, items=2)
    info = json.loads((folder / "info.json").read_text())
    for lib in ("numpy", "scipy", "soxr", "soundfile", "pyroomacoustics"):
        assert info["libraries"][lib] == metadata.version(lib)
    c = info["constants"]
    assert c["lowpass_resampler"] == "scipy.signal.resample_poly"
    assert c["pyroomacoustics_direct_offset"] == 40 and c["sound_speed"] == 343.0
    assert c["snr_definition"] == "active" and c["cheby_ripple_db"] == 0.1
    sr_folder, _ = _build("sr", corpora, tmp_path, items=1)
    assert json.loads((sr_folder / "info.json").read_text())["constants"]["resampler"] == \
        "scipy.signal.resample_poly"


def test_one_random_stream_per_aspect(corpora, tmp_path):
    """A smaller noise pool changes only the noise draws: every distortion parameter, speech
    crop and room stays as it was."""
    few = tmp_path / "few"
    few.mkdir()
    for sub in ("VCTK-Corpus-0.92", "VoiceBank-DEMAND"):
        (few / sub).symlink_to(corpora / sub, target_is_directory=True)
    (few / "noise").mkdir()
    shutil.copy(corpora / "noise/exercise_bike.wav", few / "noise")
    plans = []
    for c in (corpora, few):
        b = TESTSETS.get("all_gsr")()
        b._notes = []
        plans.append(b.plan(BuildOptions(corpora=c, out=tmp_path, items=8, rirs="simulate"), 501))
    a, b = plans
    assert [i.params["distortion"] for i in a] == [i.params["distortion"] for i in b]
    assert [i.params["speech_offset"] for i in a] == [i.params["speech_offset"] for i in b]
    assert [i.params["room"] for i in a] == [i.params["room"] for i in b]
    assert {i.sources["noise"] for i in b} == {"noise/exercise_bike.wav"}
    assert len({i.sources["noise"] for i in a}) > 1


@pytest.mark.slow
def test_new_sets_rebuild_byte_identically(with_rir44k, tmp_path):
    corpora, _ = with_rir44k
    for name, n in (("decli", 2), ("derev", 2), ("denoise", 3), ("all_gsr", 4)):
        one, _ = _build(name, corpora, tmp_path / "w1", items=n, workers=1)
        two, _ = _build(name, corpora, tmp_path / "w2", items=n, workers=2)
        for f in ("CHECKSUMS", "manifest.jsonl", "measured.jsonl"):
            if (one / f).exists() or f != "measured.jsonl":
                assert (one / f).read_text() == (two / f).read_text(), (name, f)


# --- colliding item ids -----------------------------------------------------------------------

@pytest.mark.parametrize("ids", [["x y", "x_y"], ["caf\u00e9", "caf\u00fc"], ["a/b c", "a/b_c"], ["2kHz/x", "2kHz_x"],
                                 ["same", "same"]])
def test_ids_that_share_a_file_name_are_refused(tmp_path, ids, corpora):
    items = [ManifestItem(id=i, degraded=f"degraded/{n}.wav", target=None, rate=16000,
                          target_rate=None, duration=1.0) for n, i in enumerate(ids)]
    write_manifest(tmp_path / "manifest.jsonl", items)
    with pytest.raises(DuplicateItemIdError, match="item id"):
        read_manifest(tmp_path / "manifest.jsonl")
    with pytest.raises(DuplicateItemIdError, match="after sanitising"):
        build_set(TESTSETS.get("dns2020")(), BuildOptions(corpora=corpora, out=tmp_path), items, 0)


# --- corpus records ---------------------------------------------------------------------------

def test_corpus_records_name_registered_assets_and_their_archive_layout():
    from benchmark.assets.catalog import CORPUS_ARCHIVES, get_asset
    from testsets.corpora import CORPORA
    for corpus in CORPORA.values():
        if corpus.asset:
            a = get_asset(corpus.asset)
            assert a.kind == "corpus" and corpus.asset in CORPUS_ARCHIVES, corpus.name
            layout = CORPUS_ARCHIVES[corpus.asset]
            assert corpus.folder in (layout.corpus_folder, *corpus.alt_folders)
            assert layout.unpack_to == corpus.unpack_to
    dcase = [get_asset(k) for k in CORPUS_ARCHIVES if k.startswith("dcase2018_task1_eval_audio")]
    assert len(dcase) == 6 and sum(a.size for a in dcase) == 8_907_378_539     # dcase_util's sizes
    assert get_asset("voicefixer_rir44k").urls[0].startswith("https://zenodo.org/record/5528124/")


def test_vctk_hint_says_where_the_zip_unpacks(isolated_env, capsys):
    rc = main(["--corpora", str(isolated_env / "nothing"), "testsets", "build", "sr",
               "--out", str(isolated_env / "out")])
    err = capsys.readouterr().err
    assert rc == 2
    dest = (isolated_env / "nothing" / "VCTK-Corpus-0.92").resolve()
    assert f"assets fetch vctk_0.92 (then unpack the archive into {dest}, e.g. unzip FILE -d {dest})" in err


def test_voicefixer_recipes_write_16_bit_as_voicefixer_main_does(corpora, tmp_path):
    """save_wave (voicefixer_main tools/file/wav.py): x * 2**15 cast to np.short, 16-bit PCM; the
    MaskSR2 sets keep float32. The quantisation floor fills the low-passed band's empty top,
    which is what 003's LSD of the Unprocessed rows measured."""
    import soundfile as sf
    folder, items = _build("sr", corpora, tmp_path, items=1)
    it = items[0]
    assert sf.info(str(folder / it.degraded)).subtype == "PCM_16"
    info = json.loads((folder / "info.json").read_text())
    assert info["constants"]["sample_format"] == "pcm16_voicefixer"
    x, _ = read_audio(folder / it.target)
    ints = x * 2 ** 15
    assert np.array_equal(ints, np.round(ints)) and np.abs(ints).max() <= 32767
    assert np.array_equal(voicefixer_pcm16(np.array([0.5, -0.5, 0.99999, -1.0, 1.0, 3e-5, -3e-5])),
                          np.array([16384, -16384, 32767, -32768, 32767, 0, 0], np.int16))
    folder2, items2 = _build("vctk_gsr", corpora, tmp_path / "f", items=1)
    assert sf.info(str(folder2 / items2[0].degraded)).subtype == "FLOAT"
