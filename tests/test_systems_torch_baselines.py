"""DEMUCS and VoiceFixer wrappers on real audio, with randomly initialised weights.

The real checkpoints cannot be downloaded here, so each test saves the package's own model class,
randomly initialised (fixed seed), as a temporary asset in the checkpoint's real format and
checks the wrapper: asset wiring, rates, shapes, equality with a direct package call,
determinism, and the asset error when weights are missing. No quality is asserted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from corpora_support import dns_pair
from systems_support import install_temp_asset

from benchmark.assets import get_asset
from benchmark.core.audio import read_audio, resample
from benchmark.core.errors import AssetError, BenchmarkError
from benchmark.core.paths import cache_dir
from systems.base import SYSTEMS, RestoreItem


@pytest.fixture(scope="module")
def noisy_item(corpora: Path) -> tuple[np.ndarray, int]:
    x, rate = read_audio(dns_pair(corpora, 15)[0])
    return x[rate:2 * rate], rate          # 1 s of a real noisy DNS clip


@pytest.mark.parametrize("name, assets", [
    ("demucs", ("demucs_dns64",)),
    ("voicefixer", ("voicefixer_analysis", "voicefixer_vocoder")),
])
def test_missing_weights_fail_with_asset_error_before_work(isolated_env, name, assets):
    system = SYSTEMS.get(name)()
    assert system.info.assets == assets
    with pytest.raises(AssetError, match=assets[0]):
        system.load()
    with pytest.raises(AssetError, match=assets[0]):
        system.restore([RestoreItem("x", np.zeros(16000, dtype=np.float32))])


def test_demucs_wrapper_matches_package_model(isolated_env, monkeypatch, noisy_item):
    import denoiser.demucs as demucs_mod  # installed by `make install` (--no-deps denoiser)
    torch.manual_seed(0)
    model = demucs_mod.Demucs(hidden=64, sample_rate=16000).eval()
    install_temp_asset(monkeypatch, "demucs_dns64", lambda p: torch.save(model.state_dict(), p))

    x, rate = noisy_item
    assert SYSTEMS.get("demucs").info.rate == rate == 16000
    system = SYSTEMS.get("demucs")()
    system.load()
    (y,) = system.restore([RestoreItem("a", x)])
    assert y.shape == x.shape and y.dtype == np.float32 and np.isfinite(y).all()
    with torch.inference_mode():
        direct = model(torch.from_numpy(x)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(y, direct, rtol=0, atol=1e-5)
    assert np.std(y) > 0
    (again,) = system.restore([RestoreItem("a", x)])
    assert np.array_equal(again, y)
    # odd lengths come back at the same length too
    (short,) = system.restore([RestoreItem("b", x[:4321])])
    assert short.shape == (4321,)


@pytest.mark.slow
def test_voicefixer_wrapper_uses_asset_cache_and_keeps_length(isolated_env, monkeypatch, noisy_item):
    import importlib.util
    import os

    assert importlib.util.find_spec("voicefixer") is not None, (
        "voicefixer missing: `make install` installs it (pip install --no-deps voicefixer==0.1.3)")
    from systems.voicefixer import ANALYSIS, VOCODER, _home

    # The package checks ~/.cache/voicefixer at import time and downloads what is missing, so
    # import it (to build random-init models) under a throw-away HOME with placeholder files.
    shim = isolated_env / "shim"
    for rel in (ANALYSIS, VOCODER):
        (shim / ".cache/voicefixer" / rel).parent.mkdir(parents=True, exist_ok=True)
        (shim / ".cache/voicefixer" / rel).touch()
    home_before = os.environ.get("HOME")
    with _home(shim):
        from voicefixer.restorer.model import VoiceFixer as Analysis
        from voicefixer.vocoder.config import Config
        from voicefixer.vocoder.model.generator import Generator

        torch.manual_seed(0)
        Config.refresh(44100)
        generator = Generator(Config.cin_channels)
        torch.save({"generator": generator.state_dict()}, shim / ".cache/voicefixer" / VOCODER)
        analysis = Analysis(channels=2, sample_rate=44100)   # loads the vocoder saved above
    install_temp_asset(monkeypatch, "voicefixer_vocoder",
                       lambda p: p.write_bytes((shim / ".cache/voicefixer" / VOCODER).read_bytes()))
    install_temp_asset(monkeypatch, "voicefixer_analysis",
                       lambda p: torch.save(analysis.state_dict(), p))

    x16, rate = noisy_item
    x = resample(x16, rate, 44100)[:44000]              # ~1 s, not a multiple of the hop
    system = SYSTEMS.get("voicefixer")()
    system.load()
    assert os.environ.get("HOME") == home_before                 # user's HOME restored
    home = cache_dir() / "voicefixer" / "home" / ".cache" / "voicefixer"
    assert (home / ANALYSIS).resolve() == \
        get_asset("voicefixer_analysis").cached_path(cache_dir()).resolve()
    (y,) = system.restore([RestoreItem("a", x)])
    assert y.shape == x.shape and y.dtype == np.float32 and np.isfinite(y).all()
    assert np.max(np.abs(y)) <= 1.0 and np.std(y) > 0
    (again,) = system.restore([RestoreItem("a", x)])
    np.testing.assert_allclose(again, y, rtol=0, atol=1e-6)     # eval mode: deterministic

    # the package would keep random weights for a renamed key (strict=False); the wrapper refuses
    state = analysis.state_dict()
    key = next(k for k in state if k.startswith("generator."))
    state[key.replace("generator.", "generatorX.", 1)] = state.pop(key)
    install_temp_asset(monkeypatch, "voicefixer_analysis", lambda p: torch.save(state, p))
    with pytest.raises(BenchmarkError, match=rf"analysis checkpoint .* missing keys {key}"):
        SYSTEMS.get("voicefixer")().load()
