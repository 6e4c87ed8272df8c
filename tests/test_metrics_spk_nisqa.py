"""Speaker similarity (resemblyzer), NISQA, and the paper backends whose weights are absent."""

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
                                           ("spk_sim", "wespeaker_voxceleb_resnet34")])
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
