"""`python -m benchmark doctor` on this machine: real clip, real plugins, parsed table."""

from __future__ import annotations

import re

import pytest

from benchmark.cli import main
from benchmark.core.errors import BenchmarkError
from systems.base import SYSTEMS, System, SystemInfo

# Models that ship in installed wheels or in the shared mirror (../shared/data/assets)
OFFLINE_SYSTEMS = {"unprocessed", "target", "sspade", "nsnet2", "nsnet2_16k", "dfnet3", "gtcrn"}
DOWNLOAD_ONLY = {   # row -> the assets its fetch command must name
    "demucs": "demucs_dns64", "frcrn": "frcrn_se_16k", "oracle_mel": "voicefixer_vocoder",
    "voicefixer": "voicefixer_analysis voicefixer_vocoder", "target_dac": "dac_44khz",
    "masksr2_l": "dac_44khz", "spk_sim (wespeaker)": "wespeaker_voxceleb_resnet221_LM",
    "wer (nemo)": "nemo_stt_en_conformer_transducer_xlarge"}


def _table(out: str) -> dict[str, dict[str, str]]:
    lines = [ln for ln in out.splitlines() if ln.startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = {}
    for ln in lines[2:]:
        parts = re.split(r"(?<!\\)\|", ln.strip()[1:-1])          # cells split at unescaped "|"
        cells = dict(zip(head, (c.strip().replace("\\|", "|") for c in parts), strict=True))
        rows[cells["name"]] = cells
    return rows


@pytest.fixture
def doctor_env(isolated_env, corpora, asset_mirror, monkeypatch):
    monkeypatch.setenv("BENCHMARK_CORPORA", str(corpora))
    monkeypatch.setenv("BENCHMARK_ASSET_MIRROR", str(asset_mirror))
    return isolated_env


def test_doctor_selection_ok_missing_and_exit_status(doctor_env, capsys):
    rc = main(["doctor", "--systems", "sspade", "gtcrn", "frcrn",
               "--metrics", "si_snr", "spk_sim", "--profile", "all"])
    out = capsys.readouterr().out
    rows = _table(out)
    from metrics import METRICS
    metric_rows = {f"{m} ({b})" for m in ("si_snr", "spk_sim") for b in METRICS.get(m).info.backends}
    assert {"si_snr (numpy)", "spk_sim (resemblyzer)", "spk_sim (wespeaker)"} <= metric_rows
    assert set(rows) == {"sspade", "gtcrn", "frcrn"} | metric_rows
    assert rows["sspade"]["status"] == "OK" and "at 44100 Hz" in rows["sspade"]["detail"]
    # the shared mirror's GTCRN file, by its pinned sha256
    assert rows["gtcrn"]["status"] == "OK" and rows["gtcrn"]["sha256"] == "gtcrn_onnx:f648b02f2d7f"
    assert rows["frcrn"]["status"] == "missing"
    assert rows["frcrn"]["detail"] == "fetch: python -m benchmark assets fetch frcrn_se_16k"
    assert rows["spk_sim (wespeaker)"]["detail"] == \
        "fetch: python -m benchmark assets fetch wespeaker_voxceleb_resnet221_LM"
    # SI-SNR of the VoiceBank-DEMAND p287_001 pair, the clip doctor takes from the corpora
    assert rows["si_snr (numpy)"]["status"] == "OK"
    assert rows["si_snr (numpy)"]["detail"].startswith("SI-SNR=")
    assert float(rows["si_snr (numpy)"]["seconds"]) >= 0
    assert rows["spk_sim (resemblyzer)"]["status"] == "OK"
    n_ok = sum(r["status"] == "OK" for r in rows.values())
    assert n_ok >= 4 and f"{n_ok} OK, {len(rows) - n_ok} missing, 0 failed" in out
    assert rc == 1                                  # frcrn and spk_sim were named and are missing
    assert main(["doctor", "--systems", "sspade", "gtcrn"]) == 0


class _Broken(System):
    info = SystemInfo(name="t_broken", version="7", rate=16000, description="test: fails to load",
                      backend="numpy")

    def load(self) -> None:
        raise RuntimeError("weights corrupted at byte 12")


class _Untrained(System):
    info = SystemInfo(name="t_untrained", version="1", rate=16000, description="test: no ckpt",
                      backend="numpy")

    @classmethod
    def prerequisites(cls, config):
        return ["no trained checkpoint: python -m benchmark train t_untrained"]


def test_doctor_reports_a_failing_system_with_its_error(doctor_env, capsys, monkeypatch):
    SYSTEMS.register(_Broken)
    SYSTEMS.register(_Untrained)
    try:
        rc = main(["doctor", "--systems", "t_broken", "t_untrained", "unprocessed"])
    finally:
        SYSTEMS.unregister("t_broken")
        SYSTEMS.unregister("t_untrained")
    rows = _table(capsys.readouterr().out)
    assert rows["t_untrained"]["status"] == "missing"
    assert rows["t_untrained"]["detail"] == "no trained checkpoint: python -m benchmark train t_untrained"
    assert rows["t_broken"]["status"] == "failed" and rows["t_broken"]["version"] == "7"
    assert rows["t_broken"]["detail"] == "RuntimeError: weights corrupted at byte 12"
    assert rows["unprocessed"]["status"] == "OK"
    assert rc == 1


def test_doctor_without_any_clip_says_how_to_give_one(isolated_env, monkeypatch, tmp_path):
    monkeypatch.setenv("BENCHMARK_CORPORA", str(tmp_path / "nothing"))
    with pytest.raises(BenchmarkError, match="--degraded WAV"):
        from benchmark.commands import doctor
        doctor.find_clip(type("A", (), {"degraded": None, "fetch": False, "transcript": None,
                                         "seconds": None})())


@pytest.mark.slow   # every system and metric backend on one clip (about 90 s here)
def test_doctor_on_this_machine(doctor_env, capsys):
    rc = main(["doctor"])
    rows = _table(capsys.readouterr().out)
    from metrics import METRICS
    assert {n for n, _ in SYSTEMS} <= set(rows)
    assert all(r["status"] != "failed" for r in rows.values()), \
        {n: r["detail"] for n, r in rows.items() if r["status"] == "failed"}
    for name in OFFLINE_SYSTEMS:
        assert rows[name]["status"] == "OK", (name, rows[name]["detail"])
    for name, cls in METRICS:          # every offline backend works from installed packages
        assert rows[f"{name} ({cls.info.offline_backend})"]["status"] == "OK", name
    for name, assets in DOWNLOAD_ONLY.items():
        assert rows[name]["status"] == "missing", name
        assert rows[name]["detail"] == f"fetch: python -m benchmark assets fetch {assets}", name
    assert rows["masksr2_tiny"]["status"] == "missing"         # no trained checkpoint here
    assert "no trained checkpoint" in rows["masksr2_tiny"]["detail"]
    assert rc == 0
