"""Weights of the papers' metric backends whose sha256 could not be pinned yet.

The asset registry (`benchmark/asset_catalog.py`) only holds records with a verified sha256 and
size. For the NeMo ASR model and the WeSpeaker ONNX model the public URLs are known but their
hashes could not be looked up from this environment, so they live here as *unpinned* records:
`resolve` looks in the cache (BENCHMARK_CACHE/<path>) and the mirror (BENCHMARK_ASSET_MIRROR)
exactly like `benchmark.assets.fetch`, never downloads, and raises the registry's AssetError
message when the file is absent. A file that is present is used *unverified*: its own sha256 is
computed and becomes part of the metric's `backend_version`, so every score row names the file
that produced it. Pin the hash by moving the record into the catalogue once it is known.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from pathlib import Path

from benchmark.assets import Asset, _missing_message, mirror_candidates
from benchmark.audio import sha256_file
from benchmark.errors import AssetError
from benchmark.paths import cache_dir

NEMO_XLARGE = Asset(
    name="nemo_stt_en_conformer_transducer_xlarge",
    urls=("https://huggingface.co/nvidia/stt_en_conformer_transducer_xlarge/resolve/main/"
          "stt_en_conformer_transducer_xlarge.nemo",
          "https://api.ngc.nvidia.com/v2/models/nvidia/nemo/stt_en_conformer_transducer_xlarge/"
          "versions/1.10.0/files/stt_en_conformer_transducer_xlarge.nemo"),
    sha256="(not pinned yet)", size=0, licence="CC BY 4.0",
    path="nemo/stt_en_conformer_transducer_xlarge.nemo", used_by="metric wer (backend nemo)",
    description="NVIDIA NeMo Conformer-Transducer XLarge English ASR (MaskSR2 footnote 4)",
    homepage="https://huggingface.co/nvidia/stt_en_conformer_transducer_xlarge")

WESPEAKER_RESNET34 = Asset(
    name="wespeaker_voxceleb_resnet34",
    urls=("https://huggingface.co/Wespeaker/wespeaker-voxceleb-resnet34/resolve/main/"
          "voxceleb_resnet34.onnx",
          "https://wespeaker-1256283475.cos.ap-shanghai.myqcloud.com/models/voxceleb/"
          "voxceleb_resnet34.onnx"),
    sha256="(not pinned yet)", size=0, licence="CC BY 4.0 (VoxCeleb-trained WeSpeaker model)",
    path="wespeaker/voxceleb_resnet34.onnx", used_by="metric spk_sim (backend wespeaker)",
    description="WeSpeaker ResNet34 speaker embedding, VoxCeleb2-dev, ONNX runtime model",
    homepage="https://github.com/wenet-e2e/wespeaker/blob/master/docs/pretrained.md")

_HASHES: dict[Path, str] = {}


def resolve(asset: Asset) -> tuple[Path, str]:
    """(local path, sha256 of that file) or AssetError naming the URL and where to put it."""
    target = asset.cached_path(cache_dir())
    candidates = [target]
    for url in mirror_candidates(asset):
        if url.startswith("file:"):
            candidates.append(Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path)))
    for path in candidates:
        if path.is_file() and path.stat().st_size > 0:
            if path not in _HASHES:
                _HASHES[path] = sha256_file(path)
            return path, _HASHES[path]
    raise AssetError(_missing_message(asset, target, []) +
                     "\n  (sha256 not pinned in the catalogue yet: the file is used as found and "
                     "its hash is recorded in every score row)")
