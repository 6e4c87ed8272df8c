import csv
import json
import shutil

import numpy as np
import pytest
import runner_support as rs
import soundfile as sf
from metrics_support import dns_pairs

from benchmark.cli import main
from benchmark.core.audio import read_audio
from metrics import METRICS, ItemScore, Metric, MetricInfo


def test_score_command_pairs_folders_and_records_backend(corpora, isolated_env, capsys):
    deg, ref = isolated_env / "deg", isolated_env / "ref"
    (deg / "sub").mkdir(parents=True)
    ref.joinpath("sub").mkdir(parents=True)
    (n15, c15), (n16, _), (_, c72) = dns_pairs(corpora)
    shutil.copy(n15, deg / "sub" / "a.wav")
    shutil.copy(c15, ref / "sub" / "a.wav")
    shutil.copy(n16, deg / "only_processed.wav")
    shutil.copy(c72, ref / "only_reference.wav")
    out = isolated_env / "s.json"
    rc = main(["score", "--metrics", "pesq", "dnsmos", "--degraded", str(deg), "--reference", str(ref),
               "--out", str(out)])
    assert rc == 0
    data = json.loads(out.read_text())
    rows = {(r["metric"], r["item"], r["column"]): r for r in data["items"]}
    a = rows[("pesq", "sub/a", "PESQ-wb")]
    assert a["error"] is None and 1.0 < a["value"] < 2.5
    assert a["backend"] == "pesq" and a["backend_version"].startswith("pesq ") and a["rate"] == 16000
    assert "no reference" in rows[("pesq", "only_processed", "PESQ-wb")]["error"]
    assert "no processed file" in rows[("pesq", "only_reference", "PESQ-wb")]["error"]
    # DNSMOS needs no reference: the unpaired processed file is still scored
    assert rows[("dnsmos", "only_processed", "OVRL")]["error"] is None
    summary = {(s["metric"], s["column"]): s for s in data["summary"]}
    assert summary[("pesq", "PESQ-wb")]["scored"] == 1 and summary[("dnsmos", "BAK")]["scored"] == 2
    assert "error: pesq only_reference" in capsys.readouterr().out


def test_score_command_user_errors_are_one_clear_message(isolated_env, capsys):
    assert main(["score", "--metrics", "lsd", "--degraded", str(isolated_env / "nope")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["score", "--metrics", "runtime", "--degraded", str(isolated_env)]) == 2
    assert main(["score", "--metrics", "spk_sim", "--profile", "paper", "--degraded",
                 str(isolated_env)]) == 2


class _ShortFails(Metric):
    """Raises for a whole batch when one item is shorter than 1 s (a metric bug on one file)."""
    info = MetricInfo(name="t_short", rate=16000, needs_reference=False, needs_transcript=False,
                      higher_is_better=True, columns=("n",), backends=("numpy",), paper_backend="numpy")

    def score(self, items):
        if any(i.audio.size < i.rate for i in items):
            raise ValueError("input shorter than 1 s")
        return [ItemScore(values={"n": float(i.audio.size)}) for i in items]


def _snr_db(x: np.ndarray, ref: np.ndarray) -> float:
    n = min(x.size, ref.size)
    return float(10 * np.log10(np.sum(ref[:n] ** 2) / np.sum((x[:n] - ref[:n]) ** 2)))


def test_score_runs_through_the_job_code_and_the_report_csv_writer(corpora, isolated_env, capsys):
    """`score` uses benchmark.run.jobs.score_job: per-item read errors, a failing batch retried one
    item at a time, stereo files mixed down; its CSV is the reports' writer with fixed columns."""
    rs.register()
    METRICS.register(_ShortFails)
    try:
        vb = corpora / "VoiceBank-DEMAND"
        deg, ref = isolated_env / "deg", isolated_env / "ref"
        deg.mkdir()
        ref.mkdir()
        for k in (1, 2, 3):
            shutil.copy(vb / "noisy_testset_wav" / f"p287_00{k}.wav", deg / f"p287_00{k}.wav")
        x4, sr = read_audio(vb / "noisy_testset_wav" / "p287_004.wav")
        sf.write(deg / "p287_004.wav", np.stack([x4, x4], axis=1), sr)          # stereo
        sf.write(deg / "p287_005.wav", x4[: sr // 2], sr)                       # 0.5 s
        (deg / "p287_006.wav").write_bytes(b"RIFF not really a wav file")       # unreadable
        for k in range(1, 7):
            shutil.copy(vb / "clean_testset_wav" / f"p287_00{k}.wav", ref / f"p287_00{k}.wav")
        out = isolated_env / "s.csv"
        assert main(["score", "--metrics", "t_snr", "t_short", "--degraded", str(deg), "--reference",
                     str(ref), "--out", str(out)]) == 0
        with open(out, newline="") as f:
            reader = csv.DictReader(f)
            assert reader.fieldnames == ["item", "metric", "column", "value", "error", "backend",
                                         "backend_version", "rate", "degraded", "reference", "aux"]
            rows = {(r["metric"], r["item"]): r for r in reader}
        assert len(rows) == 12
        for k in (1, 2, 3, 4, 5):
            noisy, _ = read_audio(deg / f"p287_00{k}.wav", mix_channels=True)
            clean, _ = read_audio(ref / f"p287_00{k}.wav")
            r = rows[("t_snr", f"p287_00{k}")]
            assert r["error"] == "" and float(r["value"]) == pytest.approx(_snr_db(noisy, clean), abs=1e-4)
        # the real SNRs of these pairs, independent of the metric code above
        assert float(rows[("t_snr", "p287_001")]["value"]) == pytest.approx(
            _snr_db(read_audio(vb / "noisy_testset_wav" / "p287_001.wav")[0],
                    read_audio(vb / "clean_testset_wav" / "p287_001.wav")[0]), abs=1e-4)
        assert "cannot read audio" in rows[("t_snr", "p287_006")]["error"]
        # the batch of 6 failed on the 0.5 s file: every other item was rescored alone
        assert rows[("t_short", "p287_005")]["error"] == "ValueError: input shorter than 1 s"
        assert float(rows[("t_short", "p287_004")]["value"]) == x4.size            # stereo mixed
        assert float(rows[("t_short", "p287_001")]["value"]) == pytest.approx(1.9604375 * 16000)
        assert "cannot read audio" in rows[("t_short", "p287_006")]["error"]
        assert "error: t_short p287_005: ValueError: input shorter than 1 s" in capsys.readouterr().out
    finally:
        METRICS.unregister("t_short")
        rs.unregister()


def test_score_of_a_runs_outputs_equals_the_runs_scores(corpora, isolated_env, monkeypatch):
    """One scoring path: `score` on the files a run wrote gives the run's stored values exactly."""
    from benchmark.core import paths
    from benchmark.run.store import Store
    rs.register()
    try:
        vb = rs.make_vb_set(corpora, paths.testsets_dir())
        assert main(["run", "--systems", "t_half", "--metrics", "t_snr", "t_rms", "--profile", "offline",
                     "--name", "one"]) == 0
        store = Store.existing("one")
        try:
            outputs = {r.item_id: r for r in store.item_outputs()}
            stored = {(s.metric, s.output_sha256): s.value for s in store.scores()}
        finally:
            store.close()
        deg, ref = isolated_env / "outs", isolated_env / "refs"
        deg.mkdir()
        ref.mkdir()
        for iid, row in outputs.items():      # the run's output files, named by item id
            shutil.copy(row.path, deg / f"{iid}.wav")
        for line in (vb / "manifest.jsonl").read_text().splitlines():
            it = json.loads(line)
            shutil.copy(vb / it["target"], ref / f"{it['id']}.wav")
        out = isolated_env / "s.json"
        assert main(["score", "--metrics", "t_snr", "t_rms", "--degraded", str(deg), "--reference", str(ref),
                     "--out", str(out)]) == 0
        rows = json.loads(out.read_text())["items"]
        assert len(rows) == 12 and all(r["error"] is None for r in rows)
        for r in rows:
            assert r["value"] == stored[(r["metric"], outputs[r["item"]].sha256)]
        # t_half halves the noisy input: t_rms is 6.02 dB below the input's level
        x, _ = read_audio(vb / "degraded" / "p287_001.wav")
        level = 10 * np.log10(np.mean(x.astype(np.float64) ** 2))
        got = next(r["value"] for r in rows if r["metric"] == "t_rms" and r["item"] == "vb_pairs_000")
        assert got == pytest.approx(level - 6.0206, abs=1e-3)
    finally:
        rs.unregister()
