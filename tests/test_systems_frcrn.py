"""FRCRN (ClearerVoice FRCRN_SE_16K) wrapper on real audio.

The released checkpoint cannot be downloaded here: every test uses RANDOMLY INITIALISED weights
(seed 0) of the package's own DCCRN, saved in the released layout (a torch pickle
{"model": state dict}, keys with the DataParallel "module." prefix, as clearvoice's loader reads
it). What is tested: asset wiring, the strict loader (a renamed key is refused, naming it), the
ClearerVoice normalisation/padding/decoding against formulas written out here, lengths, and the
runner end to end on the VoiceBank-DEMAND mini set. No denoising quality is asserted.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from systems_support import install_temp_asset, make_short_set

from benchmark.core import paths
from benchmark.core.audio import read_audio
from benchmark.core.errors import AssetError, BenchmarkError
from benchmark.run.runner import RunConfig, Runner
from benchmark.run.store import Store
from systems.base import SYSTEMS, RestoreItem, SystemSpec

frcrn_mod = pytest.importorskip("clearvoice.models.frcrn_se.frcrn",
                                reason="pip install --no-deps clearvoice==0.1.2 yamlargparse")


@pytest.fixture(scope="module")
def random_dccrn():
    from systems.frcrn import DCCRN_ARGS
    torch.manual_seed(0)
    return frcrn_mod.DCCRN(**DCCRN_ARGS).eval()


def _save_released(model, rename: dict[str, str] | None = None):
    def save(path):
        sd = {("module." + k): v for k, v in model.state_dict().items()}
        for old, new in (rename or {}).items():
            sd["module." + new] = sd.pop("module." + old)
        torch.save({"model": sd, "epoch": 90}, path)
    return save


@pytest.fixture(scope="module")
def noisy(corpora: Path) -> np.ndarray:
    x, rate = read_audio(corpora / "VoiceBank-DEMAND/noisy_testset_wav/p287_001.wav")
    assert rate == 16000
    return x


def test_missing_checkpoint_is_an_asset_error_before_work(isolated_env):
    system = SYSTEMS.get("frcrn")()
    assert system.info.assets == ("frcrn_se_16k",) and system.info.rate == 16000
    with pytest.raises(AssetError, match="frcrn_se_16k.*not available"):
        system.load()
    assert not hasattr(system, "_model")


def test_padding_and_normalisation_follow_clearervoice():
    from systems.frcrn import audio_norm, pad_for_decoding
    # decode_one_audio_frcrn_se_16k: window 16000, stride 12000
    for n, padded in ((9000, 16000), (23000, 28000), (28000, 28000),
                      (40000, 40000), (41000, 41000 + 41000 - 24000)):
        assert pad_for_decoding(np.ones(n)).size == padded, n
    x = np.random.default_rng(0).standard_normal(5000) * np.linspace(0, 1, 5000)
    xn, inv = audio_norm(x)
    p = xn ** 2
    assert np.sqrt(p[p > p.mean()].mean()) == pytest.approx(10 ** (-25 / 20), rel=1e-4)
    np.testing.assert_allclose(xn * inv, x, rtol=1e-4)


@pytest.mark.slow   # two DCCRN passes on 1 s of audio (about 30 s each on a loaded 2-core CPU)
def test_wrapper_equals_clearervoice_pipeline(isolated_env, monkeypatch, random_dccrn, noisy):
    install_temp_asset(monkeypatch, "frcrn_se_16k", _save_released(random_dccrn))
    system = SYSTEMS.get("frcrn")()
    system.load()
    n = 9000                                     # under one decode window: padded to 16000
    x = noisy[8000:8000 + n].astype(np.float64)
    (y,) = system.restore([RestoreItem("a", x.astype(np.float32))])
    assert y.shape == (n,) and y.dtype == np.float32 and np.isfinite(y).all() and np.std(y) > 0
    # ClearerVoice: two-stage RMS normalisation to -25 dB, zero padding, DCCRN.inference,
    # cut to length, scale back (written out independently of systems.frcrn)
    s1 = 10 ** (-25 / 20) / (np.sqrt(np.mean(x ** 2)) + 1e-6)
    p = (x * s1) ** 2
    s2 = 10 ** (-25 / 20) / (np.sqrt(p[p > p.mean()].mean()) + 1e-6)
    xn = np.concatenate([x * s1 * s2, np.zeros(16000 - n)]).astype(np.float32)
    with torch.inference_mode():
        ref = random_dccrn.inference(torch.from_numpy(xn)[None]).numpy()
    ref = ref[:n] / (s1 * s2 + 1e-6)
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-5 * np.max(np.abs(ref)))


def test_renamed_key_is_refused_naming_it(isolated_env, monkeypatch, random_dccrn):
    key = "unet.fsmn.fsmn_re_L1.linear.weight"
    assert key in random_dccrn.state_dict()
    install_temp_asset(monkeypatch, "frcrn_se_16k",
                       _save_released(random_dccrn, {key: "unet.fsmn.fsmn_re_L1.lin.weight"}))
    with pytest.raises(BenchmarkError, match=rf"missing keys {key}.*unexpected keys "
                                             r"unet\.fsmn\.fsmn_re_L1\.lin\.weight"):
        SYSTEMS.get("frcrn")().load()


@pytest.mark.slow   # one DCCRN pass per item through the runner
def test_frcrn_end_to_end_on_the_voicebank_mini_set(isolated_env, monkeypatch, corpora,
                                                     random_dccrn):
    install_temp_asset(monkeypatch, "frcrn_se_16k", _save_released(random_dccrn))
    folder = make_short_set(corpora, paths.testsets_dir(), "vb_short",
                            [("VoiceBank-DEMAND/noisy_testset_wav/p287_002.wav",
                              "VoiceBank-DEMAND/clean_testset_wav/p287_002.wav")], 0.8)
    summary = Runner(RunConfig("frcrn_e2e", [SystemSpec("frcrn")], testsets=["vb_short"],
                               metrics=["si_snr"], profile="offline")).run(argv=["test"])
    assert summary.restored == 1 and summary.item_errors == 0
    store = Store.existing("frcrn_e2e")
    rows = {r.item_id: r for r in store.item_outputs()}
    store.close()
    item = json.loads((folder / "manifest.jsonl").read_text().splitlines()[0])
    x, sr = read_audio(folder / item["degraded"])
    y, ysr = read_audio(rows[item["id"]].path)
    assert ysr == sr == 16000 and y.size == x.size == 12800 and np.std(y) > 0


def test_flat_modelscope_layout_loads_the_same_weights(isolated_env, monkeypatch, random_dccrn):
    """ModelScope's pytorch_model.bin form: the flat state dict, no "model" entry, no prefix;
    num_batches_tracked counters left out (not used in eval mode)."""
    flat = {k: v for k, v in random_dccrn.state_dict().items()
            if not k.endswith("num_batches_tracked")}
    install_temp_asset(monkeypatch, "frcrn_se_16k", lambda p: torch.save(flat, p))
    system = SYSTEMS.get("frcrn")()
    system.load()
    got = system._model.state_dict()
    assert all(torch.equal(got[k], v) for k, v in flat.items())
