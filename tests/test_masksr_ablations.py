"""MaskSR ablations (issue 6), model level: training masks of each codebook-modelling strategy on
hand-checked examples, SoundStorm/span decoding schedules, UniAudio causality and KV cache, span
mask statistics, input features, spectral KD targets on real audio, variant registration."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.core.audio import read_audio, resample
from systems.masksr.config import get_config, override
from systems.masksr.model import MaskSRModel
from systems.masksr.span import expected_coverage, mask_from_starts, span_mask
from systems.masksr.strategies import get_strategy
from systems.masksr.uniaudio import autoregressive_decode, previous_frames, previous_levels

M = 1024                                  # mask token id
ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_torch_thread")   # conftest.py


def _tiny(**changes):
    return override(get_config("masksr2_tiny"), changes)


def _runs(row: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of the maximal True runs of a 1-D bool array."""
    out, start = [], None
    for i, v in enumerate(list(row) + [False]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            out.append((start, i - start))
            start = None
    return out


# --- SoundStorm ------------------------------------------------------------------------------------
def test_soundstorm_inputs_hide_higher_codebooks_on_a_hand_checked_example():
    s = get_strategy("soundstorm")
    codes = torch.arange(1, 16).view(1, 3, 5)
    mask = torch.zeros(1, 3, 5, dtype=torch.bool)
    mask[0, 1, [1, 3]] = True                       # predicting codebook 2, frames 2 and 4
    expected = torch.tensor([[[1, 2, 3, 4, 5], [6, M, 8, M, 10], [M, M, M, M, M]]])
    assert torch.equal(s.lm_inputs(codes, mask, M), expected)
    mask0 = torch.zeros(1, 3, 5, dtype=torch.bool)
    mask0[0, 0, 4] = True                           # codebook 1: nothing below, all above hidden
    assert torch.equal(s.lm_inputs(codes, mask0, M),
                       torch.tensor([[[1, 2, 3, 4, M], [M] * 5, [M] * 5]]))


def test_soundstorm_training_mask_one_codebook_cosine_ratio():
    s = get_strategy("soundstorm")
    codes = torch.zeros(1800, 9, 40, dtype=torch.long)
    mask = s.training_mask(codes, _tiny(), torch.Generator().manual_seed(0))
    per_level = mask.any(-1)
    assert (per_level.sum(-1) == 1).all()           # exactly one codebook carries the loss
    freq = per_level.float().mean(0).numpy()
    assert np.allclose(freq, 1 / 9, atol=0.03), freq
    ratio = mask.sum((1, 2)).float() / 40
    assert (ratio >= 1 / 40).all() and abs(float(ratio.mean()) - 2 / math.pi) < 0.03


class _RecordingLM(torch.nn.Module):
    """Logits favour token (k + 1) for codebook k; records every input codegram it sees."""
    mask_id = M

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, codes, cond, drop=None):
        self.seen.append(codes.clone())
        b, k, t = codes.shape
        logits = torch.zeros(b, k, t, 1024)
        logits[:, torch.arange(k), :, torch.arange(k) + 1] = 30.0
        return logits


def test_soundstorm_decodes_codebook_1_iteratively_then_one_greedy_pass_per_codebook():
    lm = _RecordingLM()
    cfg = _tiny(codebook_modelling="soundstorm", iterations=48)
    out = get_strategy("soundstorm").decode(lm, torch.zeros(2, 7, 8), cfg, torch.Generator().manual_seed(0),
                                            iterations=48, guidance=1.0)
    assert len(lm.seen) == 48                       # 001 Sec. 3.2: 48 LM passes for 9 codebooks
    assert all(x.shape[0] == 4 for x in lm.seen)    # cond + uncond in one batch
    for x in lm.seen[:40]:                          # stage 1: codebooks 2..9 stay fully masked
        assert (x[:, 1:] == M).all()
    assert (lm.seen[0][:, 0] == M).all()
    for j, x in enumerate(lm.seen[40:], start=1):   # greedy pass j: codebooks < j known, >= j masked
        assert (x[:, :j] != M).all() and (x[:, j:] == M).all()
    assert torch.equal(out, (torch.arange(9) + 1)[None, :, None].expand(2, 9, 7))


# --- UniAudio --------------------------------------------------------------------------------------
def test_uniaudio_global_and_local_inputs_on_a_hand_checked_example():
    codes = torch.tensor([[[1, 2, 3], [4, 5, 6]]])             # 2 codebooks x 3 frames
    # global: frame t is fed the tokens of frame t - 1 (the start frame first)
    assert torch.equal(previous_frames(codes, M), torch.tensor([[[M, 1, 2], [M, 4, 5]]]))
    # local: codebook k of a frame is fed codebook k - 1 of the same frame (the start token first)
    assert torch.equal(previous_levels(codes, M), torch.tensor([[[M, M, M], [1, 2, 3]]]))
    s = get_strategy("uniaudio")
    mask = s.training_mask(codes, _tiny(), torch.Generator())
    assert mask.all() and torch.equal(s.lm_inputs(codes, mask, M), codes)


def test_uniaudio_lm_is_causal_in_frame_major_order():
    torch.manual_seed(0)
    model = MaskSRModel(_tiny(codebook_modelling="uniaudio")).eval()
    codes = torch.randint(0, 1024, (1, 9, 6))
    cond = torch.randn(1, 6, 64)
    base = model.lm(codes, cond)
    changed = codes.clone()
    changed[0, 4, 2] = (codes[0, 4, 2] + 1) % 1024               # flat position 2 * 9 + 4 = 22
    diff = (model.lm(changed, cond) - base).abs().amax(-1)[0]    # (K, T)
    flat = diff.transpose(0, 1).reshape(-1)
    assert float(flat[:23].max()) == 0.0                         # positions <= 22 see no change
    assert float(flat[23]) > 1e-4                                 # the next one does


@pytest.mark.parametrize("guidance", [0.0, 2.0])
def test_uniaudio_cached_and_uncached_decoding_give_identical_tokens(guidance):
    torch.manual_seed(1)
    model = MaskSRModel(_tiny(codebook_modelling="uniaudio")).eval()
    cond = torch.randn(2, 12, 64)
    runs = [autoregressive_decode(model.lm, cond, guidance, torch.Generator().manual_seed(5), use_cache=c)
            for c in (True, False)]
    assert runs[0].shape == (2, 9, 12) and (runs[0] != M).all()
    assert torch.equal(runs[0], runs[1])
    other = autoregressive_decode(model.lm, cond, guidance, torch.Generator().manual_seed(6))
    assert not torch.equal(runs[0], other)


def test_uniaudio_cache_is_bit_identical_at_the_paper_width():
    """uniaudio_s's LM (d = 512, 16 heads, 5 global + 2 local blocks), one item (M = 1 rows)."""
    torch.manual_seed(3)
    cfg = override(get_config("uniaudio_s"), {"encoder_blocks": 0, "codec": "dac_random_small"})
    lm = get_strategy("uniaudio").build_lm(cfg).eval()
    cond = torch.randn(1, 3, 512)
    for w in (0.0, 2.0):
        a, b = (autoregressive_decode(lm, cond, w, torch.Generator().manual_seed(1), use_cache=c)
                for c in (True, False))
        assert torch.equal(a, b)


def test_uniaudio_decoding_logits_equal_the_teacher_forced_training_logits(monkeypatch):
    """Each step's logits in cached decoding are the training forward's logits at that token
    (same model: global shift by one frame, local shift by one codebook)."""
    import systems.masksr.uniaudio as uniaudio
    torch.manual_seed(2)
    model = MaskSRModel(_tiny(codebook_modelling="uniaudio")).eval()
    cond = torch.randn(2, 5, 64)
    steps = []
    real = uniaudio.sample_tokens
    monkeypatch.setattr(uniaudio, "sample_tokens", lambda logits, g: steps.append(logits) or real(logits, g))
    codes = autoregressive_decode(model.lm, cond, 0.0, torch.Generator().manual_seed(0))
    assert len(steps) == 9 * 5
    with torch.no_grad():
        forward = model.lm(codes, cond)                            # (B, K, T, V)
    decoded = torch.stack(steps).view(5, 9, 2, 1024).permute(2, 1, 0, 3)   # frame-major steps
    assert torch.allclose(decoded, forward, atol=1e-5)
    assert float((decoded - forward).abs().max()) < 1e-5 < float(forward.std())


# --- span masking (002 App. B) ---------------------------------------------------------------------
def test_span_mask_from_starts_hand_checked():
    starts = torch.tensor([[True, False, False, False, True, False, False, False, False, True]])
    got = mask_from_starts(starts, 3)[0].tolist()
    assert got == [True, True, True, False, True, True, True, False, False, True]  # last one cut


def test_expected_coverage_matches_simulation():
    t, span, u = 30, 4, 6
    cov = expected_coverage(t, span)
    g = torch.Generator().manual_seed(0)
    starts = torch.rand(20000, t, generator=g).argsort(-1).argsort(-1) < u
    sim = mask_from_starts(starts, span).float().mean()
    assert abs(float(cov[u]) - float(sim)) < 0.005
    assert cov[0] == 0 and abs(float(cov[t]) - 1.0) < 1e-12


@pytest.mark.parametrize("ratio", [0.1, 0.3, 0.6, 0.9])
@pytest.mark.parametrize("span", [4, 8])
def test_span_mask_hits_the_global_ratio_and_masks_whole_spans(ratio, span):
    g = torch.Generator().manual_seed(int(ratio * 100) + span)
    b, k, t = 400, 9, 86
    mask = span_mask((b, k, t), torch.full((b,), ratio), span, g)
    achieved = float(mask.float().mean())
    assert abs(achieved - ratio) < 0.01, achieved
    rows = mask.view(-1, t).numpy()
    for row in rows[:300]:
        for start, length in _runs(row):
            assert length >= span or start + length == t, (start, length)


def test_span_training_mask_through_the_parallel_strategy():
    cfg = _tiny(span=5)
    mask = get_strategy("parallel").training_mask(torch.zeros(500, 9, 60, dtype=torch.long), cfg,
                                                  torch.Generator().manual_seed(0))
    assert (mask.sum((1, 2)) >= 1).all()
    assert abs(float(mask.float().mean()) - 2 / math.pi) < 0.02      # E[cos(pi/2 u)]
    runs = [r for row in mask.view(-1, 60).numpy()[:500] for r in _runs(row)]
    assert all(length >= 5 or start + length == 60 for start, length in runs)


def test_span_decoding_remasks_whole_spans_on_the_cosine_schedule():
    lm = _RecordingLM()
    cfg = _tiny(span=4)
    t, iters = 18, 6                                             # 5 spans per codebook, last one short
    out = get_strategy("parallel").decode(lm, torch.zeros(1, t, 8), cfg, torch.Generator().manual_seed(0),
                                          iterations=iters, guidance=0.0)
    assert len(lm.seen) == iters and (out != M).all()
    units = 9 * 5
    for i, x in enumerate(lm.seen):
        m = (x == M)[0]
        masked = torch.cat([m, m[:, -1:].expand(9, 2)], dim=1).view(9, 5, 4)   # pad the short span
        assert (masked.all(-1) | ~masked.any(-1)).all()          # a span is all masked or all kept
        expected = units if i == 0 else math.floor(units * math.cos(math.pi / 2 * i / iters))
        assert int(masked.all(-1).sum()) == expected


# --- input features (001 App. A) -------------------------------------------------------------------
def test_waveform_feature_frames_align_with_the_codegram():
    from systems.masksr.encoder import STFTFeature
    from systems.masksr.features import WaveformFeature
    torch.manual_seed(0)
    f = WaveformFeature(2048, 2048, 512)
    x = torch.randn(1, 60 * 512) * 0.1
    y = x.clone()
    y[0, 40 * 512] += 1.0                                        # impulse at frame 40's centre
    a, b = f(x), f(y)
    assert a.shape == (1, 60, 2048)
    changed = (a - b).abs().amax(-1)[0] > 0
    # frame t sees samples [t*512 - 1024, t*512 + 1024): the impulse at 40*512 reaches 39..42
    assert changed.nonzero().flatten().tolist() == [39, 40, 41, 42]
    stft = STFTFeature(2048, 512)
    same = ((stft(x) - stft(y)).abs().amax(-1)[0] > 1e-6).nonzero().flatten().tolist()
    assert same == [39, 40, 41]          # the STFT's periodic Hann window is 0 at its first sample


def test_dac_input_shares_the_lm_tables_and_embeds_the_input_codegram(corpora):
    from systems.masksr.codec import Codec
    cfg = _tiny(input_feature="dac", encoder_blocks=0)
    torch.manual_seed(0)
    model = MaskSRModel(cfg)
    codec = Codec(cfg.codec)
    model.init_from_codec(codec)
    assert not any(k.startswith("encoder.") for k in model.state_dict())
    files = sorted((corpora / "VCTK-Corpus-0.92" / "wav48_silence_trimmed").rglob("*.flac"))
    x, r = read_audio(files[0])
    wave = torch.from_numpy(resample(x, r, 44100)[:22050])[None]
    codes = codec.encode(wave)
    assert torch.allclose(model.encoder(wave), model.lm.embed(codes.clone()))
    logits, _ = model(wave, torch.full_like(codes, M))
    logits.sum().backward()                                     # trainable through shared tables
    assert model.lm.embed.tables[0].weight.grad.abs().sum() > 0


# --- spectral KD targets (002 Table I) -------------------------------------------------------------
def test_stft_kd_targets_on_real_audio(corpora):
    from systems.masksr.encoder import STFTFeature
    from systems.masksr.kd import KD_TARGETS, TeacherRunner
    files = sorted((corpora / "VCTK-Corpus-0.92" / "wav48_silence_trimmed").rglob("*.flac"))
    x, r = read_audio(files[2])
    x = resample(x, r, 44100)[:44100]
    full = TeacherRunner("stft44k", "hubert_base", 44100)(x)     # no teacher is loaded
    low = TeacherRunner("stft16k", "hubert_base", 44100)(x)
    assert full.shape == (87, 1025) and low.shape == (87, 372)
    for t in (full, low):
        assert np.allclose(t.mean(0), 0, atol=1e-4)
    raw = STFTFeature(2048, 512)(torch.from_numpy(x)[None])[0].numpy()
    assert np.allclose(low, full[:, :372], atol=1e-5)           # the first 372 bins (0 .. 8 kHz)
    assert 371 * 44100 / 2048 < 8000 < 373 * 44100 / 2048
    assert np.corrcoef(full[:, 100], raw[:, 100])[0, 1] > 0.999
    assert KD_TARGETS["stft16k"].dim(None) == 372
    with torch.device("meta"):
        m = MaskSRModel(get_config("masksr2_s_stft44k"))
    assert m.kd_head.fc.out_features == 1025


# --- registration ------------------------------------------------------------------------------------
def test_every_variant_is_a_registered_system_under_its_paper_row():
    from systems.base import SYSTEMS
    from systems.masksr.variants import VARIANTS
    published = json.loads((ROOT / "benchmark" / "report" / "paper_results.json").read_text())
    rows = {r for t in published["tables"] for r in t["rows"]} | set(published["runtime"]["rows"])
    expected = {"soundstorm_s", "uniaudio_s", "masksr_s_waveform", "masksr_s_dac",
                *(f"masksr2_s_{kd}" for kd in ("none", "stft44k", "stft16k", "l9_k500", "l9_feature",
                                               "avg_feature"))}
    assert expected <= set(VARIANTS)
    for name in VARIANTS:
        info = SYSTEMS.get(name).info
        assert info.paper_row in rows, (name, info.paper_row)
    assert get_config("masksr2_s_avg_feature_span8").span == 8
    assert get_config("masksr_s_dac").guidance == 0.3 and get_config("masksr_s_dac").lm_blocks == 14
