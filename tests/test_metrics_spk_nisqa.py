"""Speaker similarity (resemblyzer), NISQA, and the paper backends whose weights are absent."""

from types import SimpleNamespace

import numpy as np
import pytest
from metrics_support import dns_pairs, item, vctk_clips, voicebank

from benchmark.core.errors import AssetError
from metrics import METRICS, MetricItem
from metrics._fbank import fbank


def test_resemblyzer_same_speaker_beats_every_other_speaker(corpora):
    m = METRICS.get("spk_sim")()
    assert m.backend == "resemblyzer"
    (_, a, _), (_, b, _) = voicebank(corpora)[:2]           # two p287 utterances
    ia = item(a)
    items = [MetricItem("p287", ia.audio, ia.rate, *read(b))]
    items += [MetricItem(p.parent.name, ia.audio, ia.rate, *read(p)) for p in vctk_clips(corpora)]
    scores = m.score(items)
    assert all(s.error is None for s in scores), [s.error for s in scores]
    same, others = scores[0].values["SpkSim"], [s.values["SpkSim"] for s in scores[1:]]
    assert all(s.values["cosine"] == s.values["SpkSim"] for s in scores)   # resemblyzer: no scale
    assert len(others) == 8 and same > max(others) and same > 0.7, (same, others)


def read(path):
    it = item(path)
    return it.audio, it.rate


def test_nisqa_loads_from_mirror_and_ranks_clean_above_noisy(corpora, asset_mirror, isolated_env, monkeypatch):
    monkeypatch.setenv("BENCHMARK_ASSET_MIRROR", str(asset_mirror))
    m = METRICS.get("nisqa")()
    pairs = dns_pairs(corpora)
    scores = m.score([item(p) for pair in pairs for p in pair])    # one padded batch
    assert (isolated_env / "cache" / "nisqa" / "nisqa.tar").exists()
    for k in range(len(pairs)):
        noisy, clean = scores[2 * k], scores[2 * k + 1]
        assert noisy.error is None and clean.error is None
        assert clean.values["MOS"] > noisy.values["MOS"] + 0.5
        assert clean.values["NOI"] > noisy.values["NOI"] + 1.0
        assert all(0.5 < v < 5.5 for v in clean.values.values())


def test_nisqa_without_mirror_offline_gives_the_registry_error(isolated_env):
    with pytest.raises(AssetError, match="asset 'nisqa'.*not available"):
        METRICS.get("nisqa")().load()


@pytest.mark.parametrize("metric, asset", [("wer", "nemo_stt_en_conformer_transducer_xlarge"),
                                           ("spk_sim", "wespeaker_voxceleb_resnet221_LM")])
def test_paper_backends_without_weights_raise_clear_asset_error(isolated_env, metric, asset):
    cls = METRICS.get(metric)
    m = cls(backend=cls.info.backend_for("paper"))
    with pytest.raises(AssetError, match=f"asset '{asset}'.*not available") as exc:
        m.load()
    assert "download it from: https://" in str(exc.value) and "place it at" in str(exc.value)


def test_kaldi_fbank_shape_and_cmn(corpora):
    it = item(voicebank(corpora)[0][1])                  # 16 kHz
    f = fbank(it.audio)
    assert f.shape == (1 + (it.audio.size - 400) // 160, 80)
    assert abs(f.mean(axis=0)).max() < 1e-4 and f.std() > 1.0


def test_kaldi_fbank_equals_kaldi_native_fbank(corpora):
    """metrics._fbank against Kaldi's own algorithm (kaldi-native-fbank, the options torchaudio's
    kaldi.fbank defaults to and WeSpeaker's 2024 CLI uses: Povey window, dither 0, 80 bins)."""
    knf = pytest.importorskip("kaldi_native_fbank")
    x = item(voicebank(corpora)[0][1]).audio
    ref = _knf_fbank(knf, x)
    ours = fbank(x, cmn=False)
    assert ours.shape == ref.shape and abs(ours - ref).max() < 1e-3        # measured 7.6e-5


def _knf_fbank(knf, x):
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0
    opts.frame_opts.samp_freq = 16000
    opts.frame_opts.window_type = "povey"
    opts.frame_opts.snip_edges = True
    opts.mel_opts.num_bins = 80
    f = knf.OnlineFbank(opts)
    f.accept_waveform(16000, (np.asarray(x, np.float64) * 32768).tolist())
    f.input_finished()
    return np.stack([f.get_frame(i) for i in range(f.num_frames_ready)])


class _Projection:
    """Stands in for the ONNX speaker model (no weights offline): a fixed random projection of
    per-bin statistics of the features it is given; records what it saw."""
    def __init__(self):
        self.w = np.random.default_rng(0).standard_normal((160, 32))
        self.seen = []

    def get_inputs(self):
        return [SimpleNamespace(name="feats")]

    def run(self, _outputs, feeds):
        f = feeds["feats"][0].astype(np.float64)
        self.seen.append(f)
        return [(np.concatenate([f.std(axis=0), np.abs(f).mean(axis=0)]) @ self.w)[None]]


def test_wespeaker_backend_computes_as_the_2024_cli(corpora):
    """fbank -> CMN -> model -> (cos + 1) / 2, with the raw cosine beside it, on real VoiceBank
    pairs; the model is replaced by a projection (the features and the score are what is tested)."""
    knf = pytest.importorskip("kaldi_native_fbank")
    from metrics.spk_sim import WeSpeakerEmbedder
    m = METRICS.get("spk_sim")(backend="wespeaker")
    emb = WeSpeakerEmbedder()
    emb.session, emb.version = _Projection(), "projection"
    m._embedder = emb
    pairs = voicebank(corpora)[:3]
    items = [item(noisy, clean) for noisy, clean, _ in pairs]
    scores = m.score(items)
    proj = _Projection()
    for it, s in zip(items, scores, strict=True):
        assert s.error is None
        e = []
        for x in (it.audio, it.reference):                  # 16 kHz already
            f = _knf_fbank(knf, x)
            f = f - f.mean(axis=0)                           # CMN as the CLI: feat - mean(feat, 0)
            e.append(proj.run(None, {"feats": f[None]})[0][0])
        cos = float(e[0] @ e[1] / np.linalg.norm(e[0]) / np.linalg.norm(e[1]))
        assert s.values["cosine"] == pytest.approx(cos, abs=1e-4)
        assert s.values["SpkSim"] == pytest.approx((cos + 1) / 2, abs=1e-4)
        assert s.values["SpkSim"] == pytest.approx((s.values["cosine"] + 1) / 2, abs=1e-12)
    assert all(abs(f.mean(axis=0)).max() < 1e-3 for f in emb.session.seen)     # CMN applied
    assert "(cos+1)/2" in m.backend_version and "soxr" in m.backend_version


def test_nisqa_scores_at_the_files_own_rate(corpora, asset_mirror, isolated_env, monkeypatch):
    monkeypatch.setenv("BENCHMARK_ASSET_MIRROR", str(asset_mirror))
    from benchmark.core.audio import resample
    m = METRICS.get("nisqa")()
    clean = item(dns_pairs(corpora)[0][1])                       # 16 kHz
    up = MetricItem("48k", resample(clean.audio, 16000, 48000), 48000)
    s16, s48 = m.score([clean, up])
    assert s16.aux["rate"] == 16000 and s48.aux["rate"] == 48000 and m.info.rate == 0
    assert abs(s16.values["MOS"] - s48.values["MOS"]) > 0.1       # measured 0.31 MOS
    assert "sha256:" in m.backend_version and "no resampling" in m.backend_version
