"""systems/masksr/sampler.py at any length: the joined codegram decoded in overlapping chunks
equals the one-piece decode (real speech through the DAC architecture), the input level is brought
into the training range and the output scaled back, and items of any lengths are restored together."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from systems.masksr.config import get_config, override
from systems.masksr.sampler import (
    TRAINING_PEAK,
    InferenceOptions,
    decode_joined,
    level_gain,
    restore,
    restore_batch,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")   # conftest.py


@pytest.fixture(scope="module")
def codec():
    from systems.masksr.codec import Codec
    return Codec("dac_random_small")


@pytest.fixture(scope="module")
def speech(corpora):
    from benchmark.core.audio import read_audio, resample
    files = sorted((corpora / "VCTK-Corpus-0.92" / "wav48_silence_trimmed").rglob("*.flac"))[:2]
    return np.concatenate([resample(*read_audio(f), 44100) for f in files]).astype(np.float32)


def test_chunked_decode_of_the_joined_codegram_equals_the_one_piece_decode(codec, speech):
    codes = codec.encode(torch.from_numpy(speech[None, : 44100 * 3]))[0]          # (9, 259)
    whole = codec.decode(codes[None])[0].numpy()
    chunked = decode_joined(codec, codes, frames=64, context=32)
    blind = decode_joined(codec, codes, frames=64, context=0)                      # no context
    assert chunked.shape == whole.shape == (codes.shape[-1] * codec.hop,)
    err = float(np.abs(chunked - whole).max())
    blind_err = float(np.abs(blind - whole).max())
    scale = float(np.abs(whole).max())
    print(f"chunked vs one-piece: max |diff| {err:.2e} (no context: {blind_err:.2e}), peak {scale:.2e}")
    assert err <= 1e-4 * scale
    assert blind_err > 100 * err                  # the context is what makes the chunks agree


def test_level_gain_brings_the_peak_into_the_training_range():
    x = np.array([0.0, 0.5, -0.05], np.float32)
    assert level_gain(x) == 1.0                                   # inside [0.3, 1]
    assert level_gain(0.1 * x) == pytest.approx(TRAINING_PEAK[0] / 0.05)
    assert level_gain(4 * x) == pytest.approx(1.0 / 2.0)
    assert level_gain(np.zeros(10, np.float32)) == 1.0


@pytest.fixture(scope="module")
def tiny_model():
    from systems.masksr.model import MaskSRModel
    cfg = override(get_config("masksr2_tiny"), {"window_seconds": 0.25, "iterations": 2})
    torch.manual_seed(0)
    return MaskSRModel(cfg).eval()


def test_quiet_inputs_restore_at_the_training_level_and_scale_back(tiny_model, codec, speech):
    x = speech[:20000] / np.abs(speech[:20000]).max()
    quiet, quieter = restore(tiny_model, codec, 0.1 * x), restore(tiny_model, codec, 0.01 * x)
    # both reach the model at peak 0.3 (same codes), and come back at their own level
    assert np.abs(quiet).max() > 0
    np.testing.assert_allclose(quieter, quiet / 10, rtol=1e-5, atol=1e-7 * np.abs(quiet).max())
    raw = restore(tiny_model, codec, 0.01 * x, options=InferenceOptions(normalize=False))
    assert not np.allclose(raw, quieter, atol=1e-3 * np.abs(quieter).max())


def test_items_of_any_lengths_restore_together_in_bounded_batches(tiny_model, codec, speech):
    items = [speech[:5000], speech[5000:40000], speech[:11025]]              # 1, 4 and 1 windows
    seen = []
    real = tiny_model.encoder.forward
    tiny_model.encoder.forward = lambda w: seen.append(w.shape[0]) or real(w)
    try:
        out = restore_batch(tiny_model, codec, items, seed=3, options=InferenceOptions(batch_windows=4))
        again = restore_batch(tiny_model, codec, items, seed=3, options=InferenceOptions(batch_windows=4))
    finally:
        del tiny_model.encoder.forward
    assert seen == [4, 2, 4, 2]                    # 6 windows of 3 items, at most 4 per batch
    assert [len(o) for o in out] == [len(i) for i in items]
    assert all(np.array_equal(a, b) for a, b in zip(out, again, strict=True))      # seeded
    assert all(np.isfinite(o).all() and np.abs(o).max() > 0 for o in out)
