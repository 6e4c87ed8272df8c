"""`metric:backend` specs through `run` and `score`: one plan per (metric, backend), each stored row
naming its backend and a version taken after load() (model file sha256, resampler), two backends of
one metric side by side in the report, and `score` writing its output as it goes."""

from __future__ import annotations

import json
import shutil

import pytest
import runner_support as rs
from metrics_support import dns_pairs

from benchmark.cli import main
from benchmark.core import paths
from benchmark.run.plan import resolve
from benchmark.run.store import Store


def test_default_specs_of_the_layouts_plan_one_metric_per_backend():
    plan = resolve(None, "offline", ["sr", "decli"])
    plans, notes = plan.metrics, plan.notes
    got = [(p.name, p.backend) for p in plans]
    assert ("lsd", "voicefixer2022") in got and ("lsd", "voicefixer2021") in got     # 001 and 003
    assert ("sispnr", "voicefixer2021") in got and ("spk_sim", "resemblyzer") in got  # offline
    assert len(got) == len(set(got)) and not notes
    by = {(p.name, p.backend): p for p in plans}
    # default metrics score only the sets whose tables show them; the report labels one backend bare
    assert by[("lsd", "voicefixer2021")].sets == {"sr"} and by[("pesq", "speechmetrics")].sets == {"decli"}
    assert by[("stoi", "speechmetrics")].sets == {"decli"} and by[("dnsmos", "onnx")].sets == {"sr"}
    assert by[("lsd", "voicefixer2022")].label == "lsd"                   # the profile's backend
    assert by[("lsd", "voicefixer2021")].label == "lsd:voicefixer2021"
    plans = resolve(["spk_sim:wespeaker", "lsd", "lsd:voicefixer2022"], "offline").metrics
    assert [(p.name, p.backend) for p in plans] == [("spk_sim", "wespeaker"), ("lsd", "voicefixer2022")]
    assert plans[1].specs == ("lsd", "lsd:voicefixer2022")          # one plan serves both specs
    assert plans[1].sets is None and plans[1].label == "lsd"        # given specs: every set


@pytest.mark.slow
def test_run_records_backend_and_loaded_version_in_every_row(isolated_env, corpora, capsys):
    rs.make_vctk_set(corpora, paths.testsets_dir(), name="sr", n=2)     # a 48 kHz set named sr
    assert main(["run", "--systems", "unprocessed", "--testsets", "sr", "--metrics",
                 "lsd:voicefixer2021", "lsd:voicefixer2022", "dnsmos", "spk_sim", "--profile",
                 "offline", "--name", "specs"]) == 0
    store = Store.existing("specs")
    try:
        rows = store.scores()
        metrics = {(m.name, m.backend): m.backend_version for m in store.metrics()}
    finally:
        store.close()
    assert set(metrics) == {("lsd", "voicefixer2021"), ("lsd", "voicefixer2022"), ("dnsmos", "onnx"),
                            ("spk_sim", "resemblyzer")}
    by = {}
    for r in rows:
        by.setdefault((r.metric, r.backend), []).append(r)
        assert r.backend_version == metrics[(r.metric, r.backend)]   # rows carry it
    assert len(by[("lsd", "voicefixer2021")]) == len(by[("lsd", "voicefixer2022")]) == 2
    assert len(by[("spk_sim", "resemblyzer")]) == 4                 # SpkSim and cosine per item
    # versions computed after load(): model files' sha256 and the resampler
    assert "sig_bak_ovr.onnx sha256:" in metrics[("dnsmos", "onnx")] and "kaiser_best" in metrics[("dnsmos", "onnx")]
    assert "pretrained.pt sha256:" in metrics[("spk_sim", "resemblyzer")]
    assert all("not loaded" not in v for v in metrics.values())
    assert all("soxr" in v for (n, _), v in metrics.items() if n != "dnsmos")
    v21 = {r.output_sha256: r.value for r in by[("lsd", "voicefixer2021")]}
    v22 = {r.output_sha256: r.value for r in by[("lsd", "voicefixer2022")]}
    assert all(v22[k] > v21[k] for k in v21)          # band-limited input: the 2022 form is larger
    md = (paths.reports_dir() / "specs" / "report.md").read_text()
    # both layouts of sr, each column naming the backend that produced it
    assert "Layout: MaskSR (001) Table 1" in md and "VoiceFixer (003) Table 6" in md
    assert "- LSD ↓: lsd backend `voicefixer2022`" in md and "- LSD ↓: lsd backend `voicefixer2021`" in md
    assert "SiSPNR ↑" in md and "Spk Sim ↑: spk_sim backend `resemblyzer`" in md


def test_metric_spec_errors_are_clear_before_any_work(isolated_env, capsys):
    assert main(["run", "--systems", "unprocessed", "--metrics", "lsd:"]) == 2
    assert "expected NAME or NAME:BACKEND" in capsys.readouterr().err
    assert main(["score", "--metrics", "lsd:v9", "--degraded", str(isolated_env)]) == 2
    assert "no backend 'v9'" in capsys.readouterr().err


def test_score_checks_out_first_and_writes_as_it_goes(corpora, isolated_env, monkeypatch, capsys):
    from benchmark.run import jobs
    from metrics.lsd import LSD
    deg, ref = isolated_env / "deg", isolated_env / "ref"
    deg.mkdir()
    ref.mkdir()
    for k, (noisy, clean) in enumerate(dns_pairs(corpora)):
        shutil.copy(noisy, deg / f"{k}.wav")
        shutil.copy(clean, ref / f"{k}.wav")
    blocker = isolated_env / "file"
    blocker.write_text("x")
    args = ["score", "--metrics", "lsd:voicefixer2021", "--degraded", str(deg), "--reference", str(ref)]
    assert main(args + ["--out", str(blocker / "s.json")]) == 2        # parent is a file
    assert "cannot write there" in capsys.readouterr().err
    assert main(args + ["--out", str(isolated_env)]) == 2               # a folder
    # one item per batch; the third batch dies: the first two are already on disk
    monkeypatch.setattr(jobs, "SCORE_BATCH", 1)
    real, calls = LSD.score, []

    def dying(self, items):
        calls.append(len(items))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, items)
    monkeypatch.setattr(LSD, "score", dying)
    out = isolated_env / "s.json"
    assert main(args + ["--out", str(out)]) == 130                      # the CLI's "interrupted"
    data = json.loads(out.read_text())
    assert [r["item"] for r in data["items"]] == ["0", "1"]
    assert all(r["backend"] == "voicefixer2021" and "EPS=1e-08" in r["backend_version"] for r in data["items"])
