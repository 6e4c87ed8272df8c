"""Metric facts live in `MetricInfo`: the devices a metric can use (which places its jobs) and how
its item scores become one set value (mean, or a declared corpus ratio such as WER)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.report.results import summarize
from benchmark.report.stats import mean_ci
from benchmark.run.jobs import ScoreJob
from benchmark.run.ray_executor import wants_gpu
from benchmark.run.store import ItemScoreRow
from metrics import METRICS, CorpusRatio, ItemScore, MetricInfo


def _info(**kw) -> MetricInfo:
    base = dict(name="t", rate=16000, needs_reference=False, needs_transcript=False,
                higher_is_better=True, columns=("A",), backends=("numpy",), paper_backend="numpy")
    return MetricInfo(**{**base, **kw})


def test_registered_metrics_declare_the_papers_devices_and_aggregation():
    # (that every info's devices and aggregation are valid is MetricInfo.__post_init__'s job,
    # tested in test_info_rejects_inconsistent_facts; here: which metric declares what)
    infos = {name: cls.info for name, cls in METRICS}
    assert "runtime" not in infos                     # timings are read from the output rows
    assert infos["wer"].aggregation == "corpus"
    assert infos["wer"].corpus == (CorpusRatio("WER", "edits", "ref_words", 100.0),)
    assert [n for n, i in infos.items() if i.aggregation == "corpus"] == ["wer"]
    # torch / ASR models and DNSMOS (onnxruntime's CUDA provider) can use a GPU; signal metrics cannot
    assert {n for n, i in infos.items() if "cuda" in i.devices} == {"dnsmos", "nisqa", "spk_sim", "wer"}


def test_device_for_and_ray_placement_follow_the_info():
    pesq, nisqa = METRICS.get("pesq").info, METRICS.get("nisqa").info
    assert pesq.device_for("cuda") == "cpu" and pesq.device_for("cpu") == "cpu"
    assert nisqa.device_for("cuda:1") == "cuda:1" and nisqa.device_for("cpu") == "cpu"
    assert not wants_gpu(ScoreJob("lsd", "numpy", "cuda", []))
    assert wants_gpu(ScoreJob("wer", "nemo", "cuda", []))


def test_info_rejects_inconsistent_facts():
    with pytest.raises(ValueError, match="devices"):
        _info(devices=("tpu",))
    with pytest.raises(ValueError, match="aggregation must be one of"):
        _info(aggregation="median")
    with pytest.raises(ValueError, match="corpus statistics"):
        _info(aggregation="corpus")
    with pytest.raises(ValueError, match="corpus statistics"):
        _info(corpus=(CorpusRatio("A", "n", "d"),))
    with pytest.raises(ValueError, match="unknown column"):
        _info(aggregation="corpus", corpus=(CorpusRatio("B", "n", "d"),))


# Per-item (edits, reference words) of four utterances: item WERs 30 %, 0 %, 12.5 %, 100 %.
EDITS, WORDS = [3, 0, 1, 2], [10, 2, 8, 2]


def test_metric_aggregate_and_report_summary_use_the_declared_corpus_ratio():
    wer = METRICS.get("wer")()
    scores = [ItemScore({"WER": 100 * e / w}, aux={"edits": e, "ref_words": w}) for e, w in zip(EDITS, WORDS, strict=True)]
    scores.append(ItemScore(error="ASR failed"))       # errors do not count
    corpus = 100 * sum(EDITS) / sum(WORDS)              # 6 / 22 words = 27.27 %
    assert wer.aggregate(scores)["WER"] == pytest.approx(corpus) == pytest.approx(27.2727, abs=1e-4)
    assert np.mean([s.values["WER"] for s in scores[:4]]) == pytest.approx(35.625)   # not the mean
    info = {"corpus": [{"column": "WER", "numerator": "edits", "denominator": "ref_words", "scale": 100.0}]}
    recs = [ItemScoreRow("s", "", f"i{k}", "sys", "wer", "WER", 100 * e / w, None, "b", "v", 16000,
                            {"edits": e, "ref_words": w}) for k, (e, w) in enumerate(zip(EDITS, WORDS, strict=True))]
    cell = summarize(recs, info, "WER")
    assert cell.mean == pytest.approx(corpus) and cell.n == 4 and cell.ci > 0
    # a mean metric (no corpus ratio in its info) is the plain mean with a Student-t CI
    assert summarize(recs, {"corpus": []}, "WER") == mean_ci([100 * e / w for e, w in zip(EDITS, WORDS, strict=True)])
    # rows stored without the statistics fall back to the mean of item values
    bare = [ItemScoreRow(r.testset, r.subset, r.item_id, r.system, r.metric, r.column, r.value, None,
                            r.backend, r.backend_version, r.rate, {}) for r in recs]
    assert summarize(bare, info, "WER").mean == pytest.approx(35.625)


def test_a_store_written_before_aggregation_was_declared_still_gets_the_corpus_wer():
    from dataclasses import asdict

    from benchmark.report.results import RunData
    old = {k: v for k, v in asdict(METRICS.get("wer").info).items() if k not in ("aggregation", "corpus", "devices")}
    from benchmark.run.store import MetricRow
    rows = {n: MetricRow(n, n, "b", "v", info, n, (n,))
            for n, info in (("wer", old), ("lsd", asdict(METRICS.get("lsd").info)))}
    data = RunData("r", [], [], {}, [], {}, rows, [], [], [])
    assert data.info("wer")["aggregation"] == "corpus"
    assert list(data.info("wer")["corpus"]) == [{"column": "WER", "numerator": "edits",
                                                 "denominator": "ref_words", "scale": 100.0}]
    recs = [ItemScoreRow("s", "", f"i{k}", "sys", "wer", "WER", 100 * e / w, None, "b", "v", 16000,
                            {"edits": e, "ref_words": w}) for k, (e, w) in enumerate(zip(EDITS, WORDS, strict=True))]
    assert summarize(recs, data.info("wer"), "WER").mean == pytest.approx(100 * 6 / 22)
    assert data.info("lsd")["aggregation"] == "mean" and data.info("nope") is None
