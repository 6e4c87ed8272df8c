"""`listen-test create` on a small real run (VoiceBank pairs, identity baselines and the x0.5
test system):
- stimuli are at -26 LUFS by an independent ITU-R BS.1770-4 loudness written out here (the
  standard's 48 kHz K-weighting biquads, 400 ms blocks with 75 % overlap, -70 LUFS absolute and
  -10 LU relative gates) within 0.4 LU: pyloudnorm 0.2.0 differs from the standard's text by
  scaling the RLB numerator by 0.995 (-0.04 LU) and by counting one more, partly empty, block
  at the end (round instead of floor: up to -0.36 LU measured on the 1.96 s file); and each
  stimulus is its source times one gain (10^(gain_db/20));
- the t_half output (the input x 0.5) becomes the same stimulus as Unprocessed after loudness
  normalisation: byte-identical files;
- items are the listening page's stratified choice for the seed; same seed -> same items,
  condition codes and stimulus audio; conditions are anonymised (codes, hashed file names);
- each listener hears every stimulus once, in an order of their own, the same on every call;
- gold clips expect 5 (a clean Target) and 1 (the very-poor version); the trap is 3 s of an
  Unprocessed file then the spoken message, and asks for a score in 1..5;
- user errors (unknown system, unknown test set, existing folder) are one BenchmarkError.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import runner_support as rs
import soundfile as sf
from listentest_support import make_test
from scipy.signal import lfilter

from benchmark.core.audio import read_audio, resample
from benchmark.core.errors import BenchmarkError
from benchmark.listentest.create import RATE, CreateOptions, create_test
from benchmark.listentest.design import TARGET, UNPROCESSED, load_design
from benchmark.report import listen
from benchmark.report.results import load
from benchmark.run.store import Store

# ITU-R BS.1770-4, Table 1 and Table 2: K-weighting pre-filter and RLB filter at 48 kHz.
K1 = ([1.53512485958697, -2.69169618940638, 1.19839281085285], [1.0, -1.69065929318241, 0.73248077421585])
K2 = ([1.0, -2.0, 1.0], [1.0, -1.99004745483398, 0.99007225036621])


def bs1770(x: np.ndarray, rate: int) -> float:
    y = resample(x, rate, 48000).astype(np.float64)
    y = lfilter(*K2, lfilter(*K1, y))
    block, hop = 19200, 4800                         # 400 ms, 75 % overlap at 48 kHz
    z = np.array([np.mean(y[i:i + block] ** 2) for i in range(0, y.size - block + 1, hop)])
    lk = -0.691 + 10 * np.log10(z)
    z = z[lk > -70.0]
    rel = -0.691 + 10 * np.log10(z.mean()) - 10.0
    z = z[-0.691 + 10 * np.log10(z) > rel]
    return float(-0.691 + 10 * np.log10(z.mean()))


@pytest.fixture
def plugins():
    rs.register()
    yield
    rs.unregister()


def test_stimuli_loudness_items_order_and_controls(isolated_env, corpora, plugins, monkeypatch):
    folder, design = make_test(corpora, monkeypatch, seed=7)
    assert {c.system for c in design.conditions} == {UNPROCESSED, TARGET, "t_half"}
    rating = [s for s in design.stimuli if s.kind == "rating"]
    assert len(rating) == 6 and {s.item for s in rating} == set(design.items)

    # Loudness: independent BS.1770-4, and one gain per stimulus.
    for s in design.stimuli:
        x, rate = read_audio(folder / s.file)
        assert rate == RATE and sf.info(str(folder / s.file)).subtype == "PCM_16"
        assert hashlib.sha256((folder / s.file).read_bytes()).hexdigest() == s.sha256
        if s.kind == "trap":
            head = x[: int(3.0 * RATE)]
            assert bs1770(head, RATE) == pytest.approx(-26.0, abs=0.4)
            continue
        assert bs1770(x, RATE) == pytest.approx(-26.0, abs=0.4), s
        assert s.loudness_out == pytest.approx(-26.0, abs=0.01)
        if s.kind == "rating":
            src, srate = read_audio(s.source)
            ref = resample(src, srate, RATE) * 10 ** (s.gain_db / 20)
            n = min(ref.size, x.size)
            assert np.max(np.abs(ref[:n] - x[:n])) < 2.0 / 32768 + 1e-6   # 16-bit rounding
            assert s.gain_db == pytest.approx(-26.0 - s.loudness_in, abs=1e-3)

    # t_half is the input x 0.5: after normalisation the same file as Unprocessed, 6.02 dB more gain.
    code = {c.system: c.code for c in design.conditions}
    for iid in design.items:
        un = next(s for s in rating if s.item == iid and s.condition == code[UNPROCESSED])
        half = next(s for s in rating if s.item == iid and s.condition == code["t_half"])
        assert half.sha256 == un.sha256
        assert half.gain_db - un.gain_db == pytest.approx(20 * np.log10(2), abs=0.01)

    # Items: the listening page's stratified choice with the test's seed.
    store = Store.existing(design.run)
    data = load(store, design.run)
    store.close()
    man = {k[1]: v.manifest for k, v in data.items.items() if k[0] == "vb_pairs"}
    assert design.items == listen.choose(sorted(man.items()), 2, seed=7)
    strata = {listen.stratum(man[i]) for i in design.items}
    assert len(strata) == min(2, len({listen.stratum(m) for m in man.values()}))

    # Anonymous: codes C1..C3, file names are hashes that name neither system nor item.
    assert sorted(c.code for c in design.conditions) == ["C1", "C2", "C3"]
    for s in design.stimuli:
        assert len(s.id) == 16 and all(w not in s.file for w in ("t_half", "Target", "vb_pairs", "Unprocessed"))

    # Order: every stimulus once per listener, listeners differ, stable across loads.
    orders = [design.order(t) for t in design.listeners]
    for o in orders:
        assert sorted(o) == sorted(s.id for s in design.stimuli)
    assert len({tuple(o) for o in orders}) == 3
    again = load_design(folder)
    assert [again.order(t) for t in again.listeners] == orders

    # Controls: one gold (clean Target of an unrated item -> 5), one trap asking for 1..5.
    gold = [s for s in design.stimuli if s.kind == "gold"]
    trap = [s for s in design.stimuli if s.kind == "trap"]
    assert [g.answer for g in gold] == [5] and gold[0].item not in design.items
    assert len(trap) == 1 and 1 <= trap[0].answer <= 5
    t, _ = read_audio(folder / trap[0].file)
    assert t.size / RATE > 3.0 + 2.5          # 3 s of speech + the spoken message (> 2.5 s)
    # The message part is speech-like: energy in 300-3400 Hz, not silence.
    msg = t[int(3.0 * RATE):]
    assert np.sqrt(np.mean(msg ** 2)) > 0.01

    # Same seed, same design (items, codes, audio); the test folder must be new or --force.
    with pytest.raises(BenchmarkError, match="exists"):
        create_test(CreateOptions(run=design.run, testset="vb_pairs", items=2, systems=("t_half",),
                                  seed=7, listeners=3, gold=1, traps=1, name=design.name))
    _, again = create_test(CreateOptions(run=design.run, testset="vb_pairs", items=2, systems=("t_half",),
                                         seed=7, listeners=3, gold=1, traps=1, name="lt2"))
    assert again.items == design.items and again.conditions == design.conditions
    assert [s.sha256 for s in again.stimuli if s.kind != "trap"] == \
           [s.sha256 for s in design.stimuli if s.kind != "trap"]


def test_gold_pair_and_user_errors(isolated_env, corpora, plugins, monkeypatch):
    folder, design = make_test(corpora, monkeypatch)
    _, d2 = create_test(CreateOptions(run=design.run, testset="vb_pairs", items=3, systems=("t_half",),
                                      seed=1, listeners=1, gold=2, traps=0, name="lt_gold"))
    g5, g1 = [s for s in d2.stimuli if s.kind == "gold"]
    assert (g5.answer, g1.answer) == (5, 1)
    # The very-poor gold: speech band-limited to 1 kHz plus white noise at 0 dB SNR: the flat
    # noise puts most of the energy above 2 kHz; the clean gold (a VoiceBank Target) has 1.9 to
    # 3.6 % there (measured on the six excerpts).
    def above_2k(path):
        y, _ = read_audio(path)
        spec = np.abs(np.fft.rfft(y)) ** 2
        return spec[np.fft.rfftfreq(y.size, 1 / RATE) > 2000].sum() / spec.sum(), y

    share, y = above_2k(folder.parent / "lt_gold" / g1.file)
    assert share > 0.5
    assert above_2k(folder.parent / "lt_gold" / g5.file)[0] < 0.05
    assert np.max(np.abs(y)) < 0.5                           # clipped at 20 % of its peak
    for opts, msg in [(dict(systems=("nope",)), "system 'nope' is not in run"),
                      (dict(testset="missing"), "test set 'missing' is not in run"),
                      (dict(items=0), "--items must be at least 1")]:
        base = dict(run=design.run, testset="vb_pairs", items=2, systems=("t_half",), name="x")
        with pytest.raises(BenchmarkError, match=msg):
            create_test(CreateOptions(**{**base, **opts}))


def test_names_are_folder_names_and_force_deletes_only_tests(isolated_env, corpora, plugins, monkeypatch,
                                                             capsys, tmp_path):
    """The audit's cases with the real CLI: `--name ../../x --force` was taken as a path and that
    folder deleted; `--force --out DIR` deleted any DIR. Now a name is a folder name, and --force
    replaces only a folder `create` made (its marker, or a pre-marker test's files alone)."""
    import shutil

    from benchmark.cli import main
    from benchmark.core import paths
    from benchmark.core.files import MEDIA_MARKER
    folder, design = make_test(corpora, monkeypatch)
    capsys.readouterr()
    args = ["listen-test", "create", design.run, "--testset", "vb_pairs", "--items", "2",
            "--systems", "t_half", "--listeners", "1", "--gold", "0", "--traps", "0"]
    victim = paths.data_dir().parent / "x"                   # where ../../x would lead
    victim.mkdir()
    (victim / "thesis.tex").write_text("six months of work")
    for bad in ["../../x", "a/b", "..", ".hidden", "x" * 101, ""]:
        assert main([*args, "--name", bad, "--force"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: listening test name {bad!r} is not allowed"), err
    assert (victim / "thesis.tex").read_text() == "six months of work"
    # --out at a user's folder: refused with --force, nothing deleted
    assert main([*args, "--out", str(victim), "--force"]) == 2
    err = capsys.readouterr().err
    assert f"error: {victim} exists and is not a listening test made by `listen-test create`" in err
    assert "nothing was deleted" in err and (victim / "thesis.tex").exists()
    # a symlink to a test is not replaced through the link
    link = tmp_path / "link"
    link.symlink_to(folder)
    assert main([*args, "--out", str(link), "--force"]) == 2
    assert "a symlink" in capsys.readouterr().err and (folder / "manifest.json").exists()
    # a folder create made (marker) is replaced; so is one from before the marker
    assert (folder / MEDIA_MARKER).is_file()
    assert main([*args, "--name", design.name, "--force"]) == 0
    assert load_design(folder).listeners != design.listeners
    (folder / MEDIA_MARKER).unlink()
    shutil.rmtree(folder / "stimuli")
    assert main([*args, "--name", design.name, "--force"]) == 0
    (folder / "notes.txt").write_text("mine")           # a user's file in it: not ours any more
    (folder / MEDIA_MARKER).unlink()
    assert main([*args, "--name", design.name, "--force"]) == 2
    assert (folder / "notes.txt").read_text() == "mine"
