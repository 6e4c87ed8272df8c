"""MaskSR family, model-level: parameter counts of the paper sizes, sampler schedule maths, CFG,
DAC-initialised embeddings, KD targets, codec/STFT frame alignment, configs (all on CPU)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from benchmark.core.audio import read_audio, resample
from systems.masksr.config import ConfigError, get_config, override
from systems.masksr.decoding import guided_logits, masked_count, noise_variance, parallel_decode
from systems.masksr.model import MaskSRModel
from systems.masksr.sampler import split_windows
from systems.masksr.strategies import get_strategy

pytestmark = pytest.mark.usefixtures("one_torch_thread")   # conftest.py


@pytest.fixture(scope="module")
def codec():
    from systems.masksr.codec import Codec
    return Codec("dac_random_small")


def _vctk(corpora, i=0, seconds=1.0):
    files = sorted((corpora / "VCTK-Corpus-0.92" / "wav48_silence_trimmed").rglob("*.flac"))
    x, r = read_audio(files[i])
    x = resample(x, r, 44100)
    return x[: int(seconds * 44100)]


def test_masksr2_differs_from_masksr_only_by_factorised_embeddings_and_kd_head():
    with torch.device("meta"):
        a, b = MaskSRModel(get_config("masksr_s")), MaskSRModel(get_config("masksr2_s"))
    d, k = 512, 9
    table = k * 1025 * d                         # MaskSR: 9 tables of 1025 x d
    factorised = k * (1025 * 8 + 8 * d + d)      # MaskSR2 App. A: 1025 x 8 tables + 8 -> d FCs
    mlp_vs_fc = (1025 * d + d + d * d + d) - (1025 * d + d) - 2 * 1025   # + BatchNorm1d(1025)
    assert a.inference_parameters() - b.inference_parameters() == table - factorised + mlp_vs_fc
    assert b.kd_head is not None and b.kd_head.fc.out_features == 768


def test_cosine_schedule_counts_and_ends_unmasked():
    total, n = 9 * 344, 20
    counts = [masked_count(i, n, total) for i in range(n)]
    expected = [math.floor(total * math.cos(math.pi / 2 * (i + 1) / n)) for i in range(n - 1)] + [0]
    assert counts == expected
    assert counts[-1] == 0 and all(a >= b for a, b in zip(counts, counts[1:], strict=False))
    kept_per_iteration = np.diff([total] + counts) * -1
    assert kept_per_iteration.sum() == total and (kept_per_iteration >= 0).all()


def test_noise_variance_falls_linearly_from_4_to_0():
    v = [noise_variance(i, 40) for i in range(40)]
    assert v[0] == 4.0 and v[-1] == 0.0
    assert np.allclose(np.diff(v), -4.0 / 39)


def test_cfg_formula_on_hand_made_logits():
    lc = torch.tensor([2.0, 0.0, -1.0])
    lu = torch.tensor([1.0, 1.0, 1.0])
    assert torch.equal(guided_logits(lc, lu, 2.0), torch.tensor([4.0, -2.0, -5.0]))
    assert torch.equal(guided_logits(lc, lu, 0.0), lc)


class _SpyLM(torch.nn.Module):
    """Logits that depend on cond vs uncond only: checks batching and the guided combination."""
    mask_id = 1024

    def __init__(self):
        super().__init__()
        self.batches = []

    def forward(self, codes, cond, drop=None):
        self.batches.append(codes.shape[0])
        b, k, t = codes.shape
        logits = torch.zeros(b, k, t, 1024)
        logits[..., 7] = 5.0
        if drop is not None:
            logits[drop, :, :, 7] = -5.0         # unconditional prefers token 3
            logits[drop, :, :, 3] = 5.0
        return logits


def test_sampler_batches_cond_and_uncond_and_fills_every_token():
    lm = _SpyLM()
    cond = torch.zeros(3, 11, 8)
    gen = torch.Generator().manual_seed(0)
    codes = parallel_decode(lm, cond, iterations=6, guidance=1.0, n_codebooks=9, generator=gen)
    assert lm.batches == [6] * 6                 # one forward per iteration, cond + uncond batched
    assert (codes != 1024).all()
    # guided: token 7 gets (1+1)*5 - (-5) = 15, token 3 gets -5: CFG pushes to the conditional
    assert (codes == 7).float().mean() > 0.99


def test_sampler_is_deterministic_for_a_seed():
    torch.manual_seed(0)
    model = MaskSRModel(get_config("masksr2_tiny")).eval()
    cond = torch.randn(2, 20, 64)
    run = [parallel_decode(model.lm, cond, 5, 1.0, 9, generator=torch.Generator().manual_seed(s))
           for s in (3, 3, 4)]
    assert torch.equal(run[0], run[1]) and not torch.equal(run[0], run[2])


def test_training_mask_ratio_and_count():
    cfg = get_config("masksr2_tiny")
    codes = torch.zeros(256, 9, 50, dtype=torch.long)
    mask = get_strategy("parallel").training_mask(codes, cfg, torch.Generator().manual_seed(0))
    ratios = mask.float().mean(dim=(1, 2)).numpy()
    assert (mask.sum(dim=(1, 2)) >= 1).all()
    # r = cos(pi/2 u), u ~ U(0, 1): E[r] = 2/pi
    assert abs(ratios.mean() - 2 / math.pi) < 0.04


def test_dac_initialised_embeddings_equal_the_codec_codebooks(codec):
    model = MaskSRModel(get_config("masksr2_tiny"))
    model.init_from_codec(codec)
    for k, q in enumerate(codec.model.quantizer.quantizers):
        emb = model.lm.embed
        assert torch.equal(emb.tables[k].weight[:1024], q.codebook.weight)
        # the embedding of token c equals the first d channels of DAC's out_proj(codebook[c])
        codes = torch.arange(0, 1024, 97)
        z = q.out_proj(q.codebook(codes).T[None])[0].T[:, :64]
        assert torch.allclose(emb.projs[k](emb.tables[k](codes)), z, atol=1e-5)


def test_codec_frames_align_with_stft_frames(codec, corpora):
    x = _vctk(corpora, 0, 1.3)
    codes = codec.encode(torch.from_numpy(x)[None])
    model = MaskSRModel(get_config("masksr2_tiny"))
    feats = model.encoder.feature(torch.from_numpy(x)[None])
    assert codes.shape == (1, 9, math.ceil(len(x) / 512))
    assert feats.shape == (1, codes.shape[-1], 1025)
    assert int(codes.min()) >= 0 and int(codes.max()) < 1024
    # frame t of the STFT is centred on sample t * 512: keep only real speech around frame 40
    burst = np.zeros_like(x)
    burst[40 * 512 - 256:40 * 512 + 256] = x[40 * 512 - 256:40 * 512 + 256]
    energy = model.encoder.feature(torch.from_numpy(burst)[None])[0].pow(1 / 0.3).pow(2).sum(-1)
    assert int(energy.argmax()) == 40
    y = codec.decode(codes)
    assert y.shape[-1] == codes.shape[-1] * 512


def test_kd_targets_shapes_alignment_and_normalisation(corpora):
    from systems.masksr.kd import HUBERT_RATE, KDHead, TeacherRunner, hubert_frames
    x = _vctk(corpora, 1, 1.0)
    avg = TeacherRunner("avg_feature", "hubert_random_tiny", 44100)(x)
    l9 = TeacherRunner("l9_feature", "hubert_random_tiny", 44100)(x)
    tok = TeacherRunner("l9_k500", "hubert_random_tiny", 44100)(x)
    frames = hubert_frames(HUBERT_RATE)        # 1 s at 16 kHz -> 49 frames (20 ms hop)
    assert frames == 49
    assert avg.shape == l9.shape == (frames, 32) and tok.shape == (frames,)
    assert tok.dtype == np.int64 and tok.min() >= 0 and tok.max() < 500
    for t in (avg, l9):                         # per-sample per-channel normalised
        assert np.allclose(t.mean(0), 0, atol=1e-4) and np.allclose(t.std(0), 1, atol=1e-2)
    assert not np.allclose(avg, l9)
    head = KDHead(64, 32)
    assert head(torch.randn(2, 87, 64), frames).shape == (2, frames, 32)


def test_config_overrides_are_typed_and_checked():
    cfg = override(get_config("masksr2_s"), ["lr=3e-4", "steps=10", "snr_db=0,5", "kd_target=l9_k500"])
    assert cfg.lr == 3e-4 and cfg.steps == 10 and cfg.snr_db == (0.0, 5.0) and cfg.kd_target == "l9_k500"
    with pytest.raises(ConfigError, match="unknown config key 'nope'"):
        override(cfg, ["nope=1"])
    with pytest.raises(ConfigError, match="bad value for steps"):
        override(cfg, ["steps=many"])
    with pytest.raises(ConfigError, match="unknown MaskSR configuration"):
        get_config("masksr_xl")


def test_windows_are_non_overlapping_and_padded():
    w, n = split_windows(np.arange(10, dtype=np.float32), 4)
    assert w.shape == (3, 4) and n == 10 and w[2, 2:].sum() == 0 and w[1, 0] == 4


def test_pretrained_codec_path_loads_a_dac_checkpoint_and_reports_a_missing_asset(
        isolated_env, monkeypatch, codec):
    import benchmark.assets
    from benchmark.core.errors import AssetError
    from systems.masksr.codec import Codec
    with pytest.raises(AssetError, match="asset 'dac_44khz'"):
        Codec("dac_44khz")
    # a checkpoint in DAC's own format (state_dict + metadata kwargs), here of the small DAC
    path = isolated_env / "weights.pth"
    torch.save({"state_dict": codec.model.state_dict(),
                "metadata": {"kwargs": {"encoder_dim": 16, "decoder_dim": 64, "sample_rate": 44100}}},
               path)
    monkeypatch.setattr(benchmark.assets, "fetch", lambda name: path)
    loaded = Codec("dac_44khz")
    x = torch.from_numpy(np.random.default_rng(0).standard_normal(4096).astype(np.float32) * 0.1)
    assert torch.equal(loaded.encode(x[None]), codec.encode(x[None]))


def test_kd_teacher_checkpoint_loads_strictly_and_names_a_renamed_key(tmp_path):
    import transformers

    from systems.masksr.kd import TeacherLoadError, load_teacher_state
    cfg = transformers.HubertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                    intermediate_size=64, conv_dim=(16,) * 7,
                                    num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
    torch.manual_seed(0)
    source = transformers.HubertModel(cfg)
    state = {f"hubert.{k}": v for k, v in source.state_dict().items()}   # a HubertFor* export
    target = transformers.HubertModel(cfg)
    load_teacher_state(target, state, "good.bin")
    key = "encoder.layers.1.attention.k_proj.weight"
    assert torch.equal(target.state_dict()[key], source.state_dict()[key])
    renamed = dict(state)
    renamed["hubert.encoder.layers.1.attention.key_proj.weight"] = renamed.pop(f"hubert.{key}")
    with pytest.raises(TeacherLoadError, match=rf"missing keys \['{key}'\]; unexpected keys "
                                               r"\['encoder.layers.1.attention.key_proj.weight'\]"):
        load_teacher_state(transformers.HubertModel(cfg), renamed, "renamed.bin")
    # the SpecAugment mask vector is the one key a teacher may lack (unused at inference)
    no_mask = {k: v for k, v in state.items() if k != "hubert.masked_spec_embed"}
    load_teacher_state(transformers.HubertModel(cfg), no_mask, "no_mask.bin")
