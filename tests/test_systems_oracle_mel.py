"""Oracle-Mel: VoiceFixer's vocoder on the clean target's mel, on real VCTK speech.

The released vocoder checkpoint cannot be downloaded here: every test uses a RANDOMLY
INITIALISED TFGAN Generator (seed 0) saved in the released format ({"generator": state dict},
what voicefixer's `Vocoder._load_pretrain` reads). Tested: asset wiring, the strict key check,
the mel front end against a formula written out here (torch.stft + an HTK mel bank from librosa),
VoiceFixer's length handling, and the runner end to end on a VCTK mini set. No quality asserted.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from systems_support import install_temp_asset, make_short_set

from benchmark.core import paths
from benchmark.core.audio import read_audio, resample
from benchmark.core.errors import AssetError, BenchmarkError
from benchmark.run.runner import RunConfig, Runner
from benchmark.run.store import Store
from systems.base import SYSTEMS, RestoreItem, SystemSpec

# (find_spec, not an import: the package downloads its checkpoints when imported without them)
assert importlib.util.find_spec("voicefixer") is not None, \
    "voicefixer missing: `make install` installs it (pip install --no-deps voicefixer==0.1.3)"
VCTK = "VCTK-Corpus-0.92/wav48_silence_trimmed/p361/p361_002_mic1.flac"


@pytest.fixture
def random_vocoder(isolated_env, monkeypatch):
    """Install a random-init Generator as the `voicefixer_vocoder` asset; returns its state dict."""
    from systems.voicefixer import ANALYSIS, VOCODER, _home
    shim = isolated_env / "shim"          # the package downloads at import when these are absent
    for rel in (ANALYSIS, VOCODER):
        (shim / ".cache/voicefixer" / rel).parent.mkdir(parents=True, exist_ok=True)
        (shim / ".cache/voicefixer" / rel).touch()
    with _home(shim):
        from voicefixer.vocoder.config import Config
        from voicefixer.vocoder.model.generator import Generator
        Config.refresh(44100)
        torch.manual_seed(0)
        state = Generator(Config.cin_channels).state_dict()

    def install(rename: dict[str, str] | None = None):
        sd = dict(state)
        for old, new in (rename or {}).items():
            sd[new] = sd.pop(old)
        install_temp_asset(monkeypatch, "voicefixer_vocoder",
                           lambda p: torch.save({"generator": sd, "steps": 1490000}, p))
        return sd
    return install


@pytest.fixture(scope="module")
def target(corpora: Path) -> np.ndarray:
    x, rate = read_audio(corpora / VCTK)
    return resample(x, rate, 44100)[22050:22050 + 20000]    # 0.45 s of real speech


def test_missing_vocoder_is_an_asset_error_and_target_is_required(isolated_env, target):
    system = SYSTEMS.get("oracle_mel")()
    info = system.info
    assert info.needs_target and info.rate == 44100 and info.paper_row == "Oracle-Mel"
    assert info.assets == ("voicefixer_vocoder",)
    with pytest.raises(AssetError, match="voicefixer_vocoder.*not available"):
        system.load()


def test_renamed_vocoder_key_is_refused_naming_it(random_vocoder):
    sd = random_vocoder()
    key = sorted(sd)[0]
    random_vocoder({key: key + "_renamed"})
    with pytest.raises(BenchmarkError, match=rf"missing keys {key}.*unexpected keys {key}_renamed"):
        SYSTEMS.get("oracle_mel")().load()


@pytest.mark.slow   # two vocoder passes (about 13 s each on a loaded 2-core CPU)
def test_oracle_mel_resynthesises_the_target_mel(random_vocoder, target):
    import librosa

    random_vocoder()
    system = SYSTEMS.get("oracle_mel")()
    system.load()
    with pytest.raises(BenchmarkError, match="needs the clean reference"):
        system.restore([RestoreItem("no_ref", target)])
    (y,) = system.restore([RestoreItem("a", target, target=target)])
    assert y.shape == target.shape and y.dtype == np.float32 and np.isfinite(y).all()
    assert np.max(np.abs(y)) <= 1.0 and np.std(y) > 0
    # the mel, written out: |STFT| (hann 2048, hop 441, centred, reflect) x HTK mel bank (128, 0-22.05 kHz)
    x = torch.from_numpy(target)
    mag = torch.stft(x, 2048, 441, 2048, torch.hann_window(2048), center=True, pad_mode="reflect",
                     return_complex=True).abs().T
    fb = librosa.filters.mel(sr=44100, n_fft=2048, n_mels=128, htk=True, norm=None, fmin=0,
                             fmax=22050)
    mel = (mag @ torch.from_numpy(fb.T).float())[None, None]
    got = system.target_mel(target)
    assert got.shape == (1, 1, 1 + target.size // 441, 128)
    torch.testing.assert_close(got, mel, rtol=1e-4, atol=1e-4 * float(mel.max()))
    with torch.no_grad():
        ref = system._vocoder(mel).reshape(-1).numpy()
    # VoiceFixer's restore_inmem: peak-limit to 1, then cut to length around the centre
    ref = ref / max(1.0, float(np.max(np.abs(ref))))
    diff = ref.size - target.size
    assert diff > 0
    np.testing.assert_allclose(y, ref[diff // 2: diff // 2 + target.size], rtol=0, atol=1e-4)


@pytest.mark.slow   # one vocoder pass through the runner
def test_oracle_mel_end_to_end_on_a_vctk_mini_set(random_vocoder, corpora):
    random_vocoder()
    folder = make_short_set(corpora, paths.testsets_dir(), "vctk_short", [(VCTK, VCTK)], 0.5)
    summary = Runner(RunConfig("oracle_e2e", [SystemSpec("oracle_mel")], testsets=["vctk_short"],
                               metrics=["si_snr"], profile="offline")).run(argv=["test"])
    assert summary.restored == 1 and summary.item_errors == 0
    store = Store.existing("oracle_e2e")
    rows = {r.item_id: r for r in store.item_outputs()}
    store.close()
    item = json.loads((folder / "manifest.jsonl").read_text().splitlines()[0])
    x, sr = read_audio(folder / item["target"])
    y, ysr = read_audio(rows[item["id"]].path)
    assert ysr == sr == 48000 and y.size == x.size == 24000 and np.std(y) > 0
