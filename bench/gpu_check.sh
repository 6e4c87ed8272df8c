#!/usr/bin/env bash
# GPU check of the MaskSR family for a machine with CUDA GPUs, offline, under 8 minutes on one H100:
# 001 Table 2 protocol, 200 real train() steps (masksr2_s, bf16, DataLoader workers), the plugin's
# restore of a 16 s and a 5-minute item in fp32 and bf16, torchrun/NCCL + resume with 2+ GPUs.
# Everything in bench/gpu_check.py (its docstring); results in bench/results/gpu_check.json.
#
# Dependencies: the GPU machine's Python brings torch (never reinstalled here), numpy, scipy,
# transformers, ...; the rest travels as wheels in .whl/ (git-ignored; `bash bench/gpu_wheels.sh`
# fills it here) and is installed offline with pip --no-index --no-deps.
# usage: bash bench/gpu_check.sh [--cpu-smoke]     (PYTHON=... chooses the interpreter;
#        --cpu-smoke: the same script tiny on the CPU, what CI runs; GPU_CHECK_OUT=FILE)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" BENCHMARK_NO_PROGRESS=1 BENCHMARK_OFFLINE=1
if [ "${1:-}" != "--cpu-smoke" ]; then
  if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "error: bench/gpu_check.sh needs a CUDA GPU (torch.cuda.is_available() is False); nothing written" >&2
    exit 2
  fi
  shopt -s nullglob
  wheels=()
  for w in .whl/*.whl; do
    case "$(basename "$w")" in torch-*|torchaudio-*|nvidia_*) ;; *) wheels+=("$w") ;; esac
  done
  if [ ${#wheels[@]} -gt 0 ]; then
    "$PY" -m pip install --quiet --no-index --no-deps "${wheels[@]}"
  fi
fi
exec timeout 480 "$PY" -m bench.gpu_check "$@"
