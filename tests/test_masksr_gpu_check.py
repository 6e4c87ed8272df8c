"""bench/gpu_check.sh rehearsed on the CPU (`--cpu-smoke`): the script a first GPU run depends on
runs every section but DDP (tests/test_masksr_train_ddp.py covers torchrun) through the same code,
and writes measured values, not placeholders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_cpu_smoke(tmp_path, corpora):
    out = tmp_path / "gpu_check.json"
    env = {**os.environ, "PYTHON": sys.executable, "GPU_CHECK_OUT": str(out), "OMP_NUM_THREADS": "1",
           "GPU_CHECK_SECTIONS": "table2,prepare,train,restore"}
    proc = subprocess.run(["bash", "bench/gpu_check.sh", "--cpu-smoke"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    r = json.loads(out.read_text())
    assert r["mode"] == "cpu-smoke" and r["data"] == "../shared/data excerpts"
    assert [row["precision"] for row in r["table2"]["rows"]] == ["fp32", "bf16"]
    assert all(row["sampling_s"] > 0 for row in r["table2"]["rows"])
    assert r["prepare"]["segments"] == 6 and r["prepare"]["segments_per_s"] > 0
    t = r["train"]
    assert t["steps"] == 4 and t["steps_per_s"] > 0 and 0 <= t["data_wait_fraction"] < 1
    assert t["final_loss"] > 0 and t["render_on"] == "workers"
    d = t["render_on_device"]                  # the second timing: rendered in the training step
    assert d["render_on"] == "device" and d["steps"] == 2 and d["steps_per_s"] > 0
    assert 0 <= d["data_wait_fraction"] < 1 and d["final_loss"] > 0
    rows = r["restore"]["rows"]
    assert [(x["precision"], x["item_seconds"]) for x in rows] == [
        ("fp32", 1.0), ("fp32", 3.0), ("bf16", 1.0), ("bf16", 3.0)]
    assert all(x["finite"] and x["same_length"] and x["version"].startswith("2+model") for x in rows)
    assert r["ddp"] == {"skipped": "not in GPU_CHECK_SECTIONS"}
