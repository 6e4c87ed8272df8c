"""`target_dac` on a real VCTK utterance with the real DAC class (seeded random small weights:
the official weights are not available here), plus the asset error without weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmark.core.audio import read_audio, resample
from benchmark.core.errors import AssetError, BenchmarkError
from systems.base import SYSTEMS, RestoreItem


def test_target_dac_round_trip_shapes_and_determinism(corpora: Path):
    import importlib.util

    # `make install` installs DAC (--no-deps); a missing package is a failed install, not a skip
    assert importlib.util.find_spec("dac") is not None, "descript-audio-codec missing: run make install"
    path = sorted((corpora / "VCTK-Corpus-0.92").rglob("*_mic1.flac"))[0]
    x48, rate = read_audio(path)
    x = resample(x48[: rate], rate, 44100)[:40000]          # not a multiple of the 512 hop
    system = SYSTEMS.get("target_dac")(config={"codec": "dac_random_small"})
    (y,) = system.restore([RestoreItem("v", np.zeros_like(x), target=x)])
    assert y.shape == x.shape and y.dtype == np.float32 and np.isfinite(y).all()
    assert np.std(y) > 0
    (again,) = system.restore([RestoreItem("v", np.zeros_like(x), target=x)])
    np.testing.assert_allclose(again, y, rtol=0, atol=1e-6)
    with pytest.raises(BenchmarkError, match="needs the clean reference"):
        system.restore([RestoreItem("real", x)])


def test_target_dac_without_weights_fails_with_asset_error(isolated_env):
    system = SYSTEMS.get("target_dac")()
    assert system.info.needs_target and system.info.assets == ("dac_44khz",)
    with pytest.raises(AssetError, match="dac_44khz"):
        system.load()
