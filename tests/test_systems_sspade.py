"""S-SPADE declipping on real clipped speech: SDR gain on the clipped samples, consistency."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmark.core.audio import read_audio, resample
from systems.base import SYSTEMS, RestoreItem
from systems.sspade import SSpadeParams, clip_masks, sspade_blocks

CLIPS = {
    "vctk_p360": "VCTK-Corpus-0.92/wav48_silence_trimmed/p360/p360_001_mic1.flac",
    "libri_2830": "LibriSpeech/test-clean/2830/3980/2830-3980-0043.flac",
}
# measured here (2 s excerpts, 44.1 kHz): SDR on the clipped samples, clipped -> S-SPADE
#   vctk_p360  eta 0.25: 6.39 -> 12.82 dB, eta 0.1: 2.93 -> 7.97 dB
#   libri_2830 eta 0.25: 7.27 -> 16.15 dB, eta 0.1: 3.29 -> 10.63 dB
MIN_GAIN_DB = {("vctk_p360", 0.25): 5.5, ("vctk_p360", 0.1): 4.0,
               ("libri_2830", 0.25): 7.5, ("libri_2830", 0.1): 6.5}


def sdr_db(ref: np.ndarray, est: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref ** 2) / np.sum((ref - est) ** 2)))


@pytest.fixture(scope="module")
def speech(corpora: Path) -> dict[str, np.ndarray]:
    out = {}
    for name, rel in CLIPS.items():
        x, rate = read_audio(corpora / rel)
        x = resample(x, rate, 44100).astype(np.float64)[:2 * 44100]
        out[name] = x / np.max(np.abs(x))          # DECLI: normalised to [-1, 1], then clipped
    return out


@pytest.mark.parametrize("name, eta", sorted(MIN_GAIN_DB))
def test_sspade_raises_sdr_on_clipped_samples(speech, name, eta):
    x = speech[name]
    y = np.clip(x, -eta, eta).astype(np.float32)
    system = SYSTEMS.get("sspade")()
    assert system.info.rate == 44100 and system.info.paper_row == "SSPADE"
    (xh,) = system.restore([RestoreItem(name, y)])
    assert xh.dtype == np.float32 and xh.shape == y.shape
    theta, high, low = clip_masks(y)
    c = high | low
    assert theta == pytest.approx(eta, rel=1e-6)
    assert 0.05 < c.mean() < 0.25                     # the clipped share at these thresholds
    gain = sdr_db(x[c], xh[c]) - sdr_db(x[c], y[c].astype(np.float64))
    assert gain > MIN_GAIN_DB[(name, eta)], f"{name} eta={eta}: SDR_c gain {gain:.2f} dB"
    # consistency: reliable samples unchanged, clipped ones beyond the threshold, same sign
    np.testing.assert_array_equal(xh[~c], y[~c])
    assert np.all(xh[high] >= np.float32(theta) * (1 - 1e-6))
    assert np.all(xh[low] <= -np.float32(theta) * (1 - 1e-6))


def test_unclipped_input_comes_back_unchanged(speech):
    x = (0.5 * speech["vctk_p360"]).astype(np.float32)
    x[np.argmax(np.abs(x))] *= 1.01                  # a single peak: nothing is clipped
    (y,) = SYSTEMS.get("sspade")().restore([RestoreItem("x", x)])
    np.testing.assert_array_equal(y, x)


def test_frame_is_parseval_and_one_block_converges(speech):
    """D D* = I for the zero-padded redundancy-2 DFT (the projection step relies on it), and one
    heavily clipped block converges to a consistent, sparser-than-input estimate."""
    p = SSpadeParams()
    n, m = p.block, p.redundancy * p.block
    rng = np.random.default_rng(0)
    v = rng.standard_normal((3, n))
    z = np.fft.rfft(v, m, axis=1) / np.sqrt(m)
    back = np.fft.irfft(z, m, axis=1)[:, :n] * np.sqrt(m)
    np.testing.assert_allclose(back, v, atol=1e-12)
    # energy preserved in the full-spectrum norm (Parseval)
    w = np.full(m // 2 + 1, 2.0)
    w[0] = w[-1] = 1.0
    np.testing.assert_allclose(np.sum(w * np.abs(z) ** 2, axis=1), np.sum(v ** 2, axis=1))
    x = speech["libri_2830"]
    start = int(np.argmax(np.abs(x))) - n // 2
    blk = x[start:start + n][None]
    y = np.clip(blk, -0.1, 0.1)
    high, low = y >= 0.1, y <= -0.1
    out, iters = sspade_blocks(y, ~(high | low), high, low, 0.1, p)
    assert 1 < iters[0] < p.max_iter
    assert sdr_db(blk[high | low], out[high | low]) > sdr_db(blk[high | low], y[high | low])


def test_sspade_through_the_runner_on_a_decli_style_mini_set(isolated_env, corpora, speech):
    """DECLI's recipe (004 Sec. 4.3.2: normalise to [-1, 1], clip at 0.25 and 0.1) on real VCTK
    speech at 44.1 kHz (the DECLI rate, so the runner does not resample the clipped input), run
    by the runner with the unprocessed row, SI-SNR from the store."""
    import sqlite3

    import runner_support as rs

    from benchmark.core import paths
    from benchmark.core.audio import write_audio
    from benchmark.run.runner import RunConfig, Runner
    from benchmark.run.store import run_folder
    from systems.base import SystemSpec
    from testsets.manifest import ManifestItem, write_manifest

    folder = paths.testsets_dir() / "decli_mini"
    x = speech["vctk_p360"][: int(1.5 * 44100)]
    items = []
    for eta in (0.25, 0.1):
        write_audio(folder / f"degraded/{eta}.wav", np.clip(x, -eta, eta), 44100)
        write_audio(folder / f"target/{eta}.wav", x, 44100)
        items.append(ManifestItem(id=f"p360_{eta}", degraded=f"degraded/{eta}.wav",
                                  target=f"target/{eta}.wav", rate=44100, target_rate=44100,
                                  duration=x.size / 44100, subset=f"clip_{eta}",
                                  params={"clipping": {"eta": eta}}))
    write_manifest(folder / "manifest.jsonl", items)
    Runner(RunConfig("decli_mini", [SystemSpec("unprocessed"), SystemSpec("sspade")],
                     testsets=["decli_mini"], metrics=["si_snr"], profile="offline")).run(argv=["t"])
    con = sqlite3.connect(run_folder("decli_mini") / "store.sqlite")
    scores = {(s, i): v for (s, _t, i, _m, _c), v in rs.item_rows(con)["scores"].items()}
    con.close()
    # measured here: eta 0.25: 8.16 -> 15.88 dB; eta 0.1: 3.10 -> 8.49 dB
    for eta, min_gain in ((0.25, 6.5), (0.1, 4.5)):
        before, after = scores[("unprocessed", f"p360_{eta}")], scores[("sspade", f"p360_{eta}")]
        assert after > before + min_gain, f"eta {eta}: SI-SNR {before:.2f} -> {after:.2f} dB"
