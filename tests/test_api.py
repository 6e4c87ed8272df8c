"""benchmark.api (its docstring examples, run as doctests on the real clips) and the `restore`
command (benchmark.run.restore_files): rates and lengths kept, relative names, caching by content,
item errors, refused folders."""

from __future__ import annotations

import doctest
import io
import re
import tempfile

import numpy as np
import pytest
import soundfile as sf
from conftest import ROOT

from benchmark import api
from benchmark.cli import main
from benchmark.core.audio import read_audio, resample, write_audio
from benchmark.core.errors import BenchmarkError


def run_doctest(fn) -> None:
    out = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    tests = doctest.DocTestFinder().find(fn, fn.__name__, globs={})
    assert tests and tests[0].examples, f"{fn.__name__} has no example"
    for t in tests:
        runner.run(t, out=out.write)
    assert runner.failures == 0, out.getvalue()


@pytest.fixture
def at_root(isolated_env, monkeypatch):
    """The examples' paths are relative to the repository root; temp folders go to tmp_path."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(tempfile, "tempdir", str(isolated_env / "tmp"))
    (isolated_env / "tmp").mkdir()
    return isolated_env


def test_restore_example(at_root):
    run_doctest(api.restore)


def test_score_example(at_root):
    run_doctest(api.score)


def test_load_results_example(at_root, corpora):
    from runner_support import make_vb_set

    from benchmark.core.paths import testsets_dir
    make_vb_set(corpora, testsets_dir(), "vb", n=2)
    assert main(["run", "--systems", "unprocessed", "nsnet2", "--testsets", "vb", "--metrics",
                 "si_snr", "--profile", "offline", "--name", "example"]) == 0
    run_doctest(api.load_results)


# --- the restore command, with the runner's test system t_half (x 0.5 at 16 kHz) -------------------

@pytest.fixture
def inputs(isolated_env, corpora):
    """A folder of real clips at two rates (VCTK 48 kHz FLAC, VoiceBank 16 kHz WAV) in sub-folders,
    a byte-identical copy of one, and one file that is not audio."""
    src = isolated_env / "in"
    vctk = sorted((corpora / "VCTK-Corpus-0.92" / "wav48_silence_trimmed").glob("*/*.flac"))[0]
    vb = corpora / "VoiceBank-DEMAND" / "noisy_testset_wav" / "p287_001.wav"
    x, sr = read_audio(vctk)
    write_audio(src / "vctk" / "a.flac", x[: 2 * sr], sr)
    (src / "vb").mkdir()
    (src / "vb" / "b.wav").write_bytes(vb.read_bytes())
    (src / "vb" / "b_copy.wav").write_bytes(vb.read_bytes())
    (src / "notes.wav").write_text("not audio")
    return src


def _calls(log) -> int:
    return sum(int(line.split()[-1]) for line in log.read_text().splitlines()) if log.exists() else 0


def test_restore_command_keeps_rate_length_and_names(inputs, plugins, capsys):
    out = inputs.parent / "out"
    assert main(["restore", "--systems", "t_half", "--input", str(inputs), "--out", str(out)]) == 0
    for name in ("vctk/a.flac", "vb/b.wav", "vb/b_copy.wav"):
        x, sr = read_audio(inputs / name)
        y, ysr = read_audio(out / "t_half" / name)
        assert ysr == sr and y.size == x.size
        # the runner's path: resample to 16 kHz, x 0.5, resample back (soxr VHQ); against the
        # same chain computed here, and 0.5 x within the resampler's band-limit error
        want = resample(0.5 * resample(x, sr, 16000), 16000, sr)[: x.size]
        np.testing.assert_allclose(y, want, atol=2e-6)
    assert _calls(plugins) == 2                     # b.wav and b_copy.wav are one restore
    assert not (out / "t_half" / "notes.wav").exists()
    text = capsys.readouterr().out
    assert "error: t_half notes.wav:" in text and "Format not recognised" in text
    assert re.search(r"t_half\s*\|\s*3\s*\|\s*0\s*\|\s*1\s*\|", text), text   # restored, cached, errors


def test_restore_command_caches_by_content(inputs, plugins):
    out = inputs.parent / "out"
    args = ["restore", "--systems", "t_half", "--input", str(inputs), "--out", str(out)]
    assert main(args) == 0
    n = _calls(plugins)
    assert main(args) == 0 and _calls(plugins) == n           # nothing new: no system call
    x, sr = read_audio(inputs / "vctk" / "a.flac")
    write_audio(inputs / "vctk" / "a.flac", x[: sr], sr)      # changed content: restored again
    (out / "t_half" / "vb" / "b.wav").unlink()                # a lost output: restored again
    assert main(args) == 0 and _calls(plugins) == n + 2
    assert sf.info(str(out / "t_half" / "vctk" / "a.flac")).frames == sr
    rows = api.restore("t_half", inputs, out)
    assert [(r["name"], r["cached"], r["error"] is None) for r in rows] == [
        ("notes.wav", True, False), ("vb/b.wav", True, True), ("vb/b_copy.wav", True, True),
        ("vctk/a.flac", True, True)]


def test_restore_refuses_overlap_and_oracles(inputs, plugins):
    with pytest.raises(BenchmarkError, match="overlap"):
        api.restore(["t_half"], inputs, inputs / "restored")
    with pytest.raises(BenchmarkError, match="overlap"):
        api.restore(["t_half"], inputs / "vb", inputs)
    with pytest.raises(BenchmarkError, match="needs the clean target"):
        api.restore(["target"], inputs, inputs.parent / "out")
    with pytest.raises(BenchmarkError, match="unknown system"):
        api.restore(["no_such_system"], inputs, inputs.parent / "out")
    assert not (inputs.parent / "out").exists()
    assert main(["restore", "--systems", "t_half", "--input", str(inputs / "missing"),
                 "--out", str(inputs.parent / "out")]) == 2


def test_score_rows_match_the_command(at_root, corpora):
    vb = corpora / "VoiceBank-DEMAND"
    rows = api.score(vb / "noisy_testset_wav", ["si_snr"], reference=vb / "clean_testset_wav",
                     as_frame=True)
    assert list(rows["item"]) == [f"p287_00{k}" for k in range(1, 7)]
    x, _ = read_audio(vb / "noisy_testset_wav" / "p287_003.wav")
    s, _ = read_audio(vb / "clean_testset_wav" / "p287_003.wav")
    # SI-SNR by its definition (zero-mean, projection on the reference) at the file's rate: the
    # metric resamples both to 44.1 kHz, a band-limited copy of the same signals (0.01 dB)
    x, s = x - x.mean(), s - s.mean()
    t = (x @ s) / (s @ s) * s
    want = 10 * np.log10((t @ t) / ((x - t) @ (x - t)))
    assert rows.loc[rows["item"] == "p287_003", "value"].item() == pytest.approx(want, abs=0.01)


def test_score_takes_transcripts_as_a_dict_or_a_file(isolated_env, corpora):
    vb = corpora / "VoiceBank-DEMAND"
    text = (vb / "testset_txt" / "p287_002.txt").read_text().strip()
    (isolated_env / "t.txt").write_text(f"p287_002 {text}\n")
    clip = vb / "clean_testset_wav" / "p287_002.wav"
    by_dict = api.score(clip, "wer", transcripts={"p287_002": text})
    by_file = api.score(clip, "wer", transcripts=isolated_env / "t.txt")
    assert by_dict == by_file and by_dict[0]["error"] is None
    assert 0 <= by_dict[0]["value"] < 50                 # pocketsphinx on a clean VoiceBank clip
    (missing,) = api.score(clip, "wer", transcripts={})
    assert missing["value"] is None and "no transcript" in missing["error"]
