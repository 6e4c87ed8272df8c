"""Long items in bounded memory: the spectrogram streamed in blocks is the same spectrogram, and
LSD (a mean over frames) computed block by block is the same value with block-sized memory (both
within float32 rounding: the blocks' FFTs run on other shapes than the whole signal's)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from benchmark.core.audio import read_audio, resample
from metrics._spectral import magnitude, magnitude_blocks
from metrics.lsd import lsd

EPS = 1e-12        # the 2022 form (voicefixer_main evaluation_proc/metrics.py@9c94468)


def _speech(corpora, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """Real VCTK speech at 44.1 kHz repeated to `seconds`, and a 4 kHz low-passed copy."""
    files = sorted((corpora / "VCTK-Corpus-0.92" / "wav48_silence_trimmed").glob("*/*.flac"))
    x = np.concatenate([resample(*read_audio(f), 44100) for f in files])
    x = np.resize(x, int(seconds * 44100))
    low = resample(resample(x, 44100, 8000), 8000, 44100)[: x.size]
    return low, x


@pytest.mark.parametrize("frames", [1, 7, 1000, 4096])
@pytest.mark.parametrize("n", [10, 2048, 3000, 96_000])
def test_blocks_are_the_centred_spectrogram(corpora, frames, n):
    x, _ = read_audio(corpora / "VCTK-Corpus-0.92/wav48_silence_trimmed/p362/p362_003_mic1.flac")
    x = resample(x, 48000, 44100)[:n]
    full = magnitude(x)
    blocks = list(magnitude_blocks(x, frames))
    assert max(b.shape[0] for b in blocks) <= frames
    # the same rows from STFTs of slices: the FFTs run on other shapes, so float32 sums may
    # round differently (a few ulp); a shifted or mis-padded frame would be off by far more
    np.testing.assert_allclose(np.concatenate(blocks), full, rtol=1e-5, atol=1e-6 * full.max())


def test_streamed_lsd_is_the_definition_with_block_memory(corpora):
    est, ref = _speech(corpora, 60.0)
    e, t = magnitude(est), magnitude(ref)                 # eq. 27 written out on whole spectrograms
    expected = float(np.mean(np.sqrt(np.mean(np.log10(t ** 2 / (e + EPS) ** 2 + EPS) ** 2, axis=1))))
    del e, t
    tracemalloc.start()
    got = lsd(est, ref)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert got == pytest.approx(expected, rel=1e-6)   # blocks vs whole: float32 STFTs of other shapes
    assert got > 5.0             # a 4 kHz band limit of real speech: the empty band dominates
    # one whole 60 s spectrogram is 6001 x 1025 float64 = 49 MB (30 min: 1.5 GB); streamed, the
    # peak is a few 1024-frame blocks (8.4 MB per array), whatever the item's length
    assert peak < 64 << 20, peak


def test_speaker_embedding_in_partial_batches_is_resemblyzers(corpora):
    from resemblyzer import VoiceEncoder, audio, preprocess_wav

    from metrics import spk_sim
    from metrics.spk_sim import embed_utterance_batched, mel_frames
    _, x = _speech(corpora, 30.0)
    x16 = resample(x, 44100, 16000)
    wav = preprocess_wav(x16, source_sr=16000)
    tracemalloc.start()
    lean = spk_sim.preprocess_wav(x16)                      # no tuple of one object per sample
    lean_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_array_equal(lean, wav)
    assert lean_peak < 4 * x16.nbytes, lean_peak
    full = audio.wav_to_mel_spectrogram(wav)
    for first, last in ((0, 160), (37, 400), (full.shape[0] - 160, full.shape[0])):
        # the same frames from an STFT of a slice, not of the whole: the FFTs and the mel matrix
        # product run on other shapes, so float32 sums may round differently (1 ulp, 1.2e-7
        # relative, measured on a fresh install); a wrong frame would be off by far more
        np.testing.assert_allclose(mel_frames(wav, first, last), full[first:last],
                                   rtol=1e-5, atol=1e-6 * float(full.max()))
    encoder = VoiceEncoder("cpu", verbose=False)
    whole = encoder.embed_utterance(wav)                    # every partial in one forward call
    for batch in (7, 64):
        got = embed_utterance_batched(encoder, wav, batch)
        assert np.max(np.abs(got - whole)) < 1e-6 and abs(np.linalg.norm(got) - 1) < 1e-9


def test_nisqa_refuses_a_long_item_before_building_segments(corpora, asset_mirror, monkeypatch):
    from metrics import METRICS, MetricItem
    from metrics._nisqa_model import SR, melspec, segments
    monkeypatch.setenv("BENCHMARK_ASSET_MIRROR", str(asset_mirror))
    m = METRICS.get("nisqa")()
    m.load()
    _, x = _speech(corpora, 53.0)                          # 53 s at 44.1 kHz: 1322 segments
    y = resample(x, 44100, SR)
    assert len(segments(melspec(y, m._args), m._args["ms_seg_length"], m._args["ms_seg_hop_length"])) == 1322
    long = np.resize(x, 10 * 60 * 44100)                    # a 10-minute item
    tracemalloc.start()
    [s] = m.score([MetricItem("long", long, 44100)])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # 1 + 28 800 000 // 480 = 60 001 frames, ceil((60 001 - 15 + 1) / 4) = 14 997 segments
    assert s.error.startswith("14997 segments > NISQA's maximum 1300"), s.error
    assert peak < 300 << 20, peak   # the 48 kHz copy (115 MB); no spectrogram, no segments
