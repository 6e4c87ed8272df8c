#!/usr/bin/env bash
# Fills .whl/ (git-ignored; carried to the GPU machine) with the wheels bench/gpu_check.sh installs
# there offline with pip --no-index --no-deps. That machine's Python already has torch (+CUDA),
# torchaudio, numpy, scipy, onnxruntime, transformers and tensorboard; these are the rest of what
# the MaskSR train/restore path imports (measured from sys.modules after importing the trainer,
# data path, plugin, codec with DAC, and the CLI), pinned to the versions tested here.
# PYVER (default 311) and PLATFORM choose the binary wheels (soundfile, soxr) for that Python.
# usage: bash bench/gpu_wheels.sh            (PYTHON=... to choose the pip)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
PYVER="${PYVER:-311}"
PLATFORM="${PLATFORM:-manylinux2014_x86_64}"
PURE=(descript-audio-codec==1.0.0 descript-audiotools==0.7.2 argbind==0.3.9 einops==0.8.2 julius==0.2.8
      flatten-dict==0.5.0 randomname==0.2.1 fire==0.7.1 ffmpy==1.0.0 importlib_resources==7.1.0
      docstring_parser==0.18.0 rich==15.0.0 pygments==2.21.0 markdown-it-py==4.3.0 mdurl==0.1.2
      platformdirs==4.14.9 tqdm==4.70.1 webdataset==1.0.2 braceexpand==0.1.7 tabulate==0.10.0
      filelock==4.3.2)
BINARY=(soundfile soxr)            # the newest binary wheels for PYVER / PLATFORM
mkdir -p .whl
# pip wheel: wheels as they are, sdists (argbind, randomname) built here, so the GPU side never builds
"$PY" -m pip wheel --quiet --no-deps -w .whl "${PURE[@]}"
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version "$PYVER" \
  --platform "$PLATFORM" -d .whl "${BINARY[@]}"
du -sh .whl
