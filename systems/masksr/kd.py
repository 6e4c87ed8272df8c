"""MaskSR2 semantic knowledge distillation (002 Sec. II-A): frozen HuBERT-base teacher on the 16 kHz
target speech, targets `avg_feature` / `l9_feature` (MSE, per-sample per-channel normalised) or
`l9_k500` (CE on k-means tokens), and the student head (adaptive average pooling + FC)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from benchmark.core.audio import resample
from benchmark.core.deps import require
from benchmark.core.errors import BenchmarkError
from systems.masksr.kd_targets import KD_TARGETS, KDTarget, normalise_per_channel

__all__ = ["HUBERT_RATE", "KD_TARGETS", "KDHead", "KDTarget", "TEACHERS", "TeacherRunner", "TeacherSpec",
           "hubert_frames", "kd_loss", "load_teacher_state", "normalise_per_channel"]

HUBERT_RATE = 16000


def hubert_frames(n_samples_16k: int) -> int:
    """Frames of HuBERT's conv front end (kernels 10,3,3,3,3,2,2; strides 5,2,2,2,2,2,2)."""
    n = n_samples_16k
    for k, s in zip((10, 3, 3, 3, 3, 2, 2), (5, 2, 2, 2, 2, 2, 2), strict=True):
        n = (n - k) // s + 1
    return n


@dataclass(frozen=True)
class TeacherSpec:
    name: str
    dim: int
    layers: int
    build: Callable[[], nn.Module]            # -> frozen transformers HubertModel
    kmeans: Callable[[], np.ndarray] | None   # -> (500, dim) k-means centres for l9_k500


def _hubert_base() -> nn.Module:
    transformers = require("transformers", "train", "the HuBERT-base KD teacher")
    from benchmark.assets import fetch
    path = fetch("hubert_base")
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = transformers.HubertModel(transformers.HubertConfig())
    load_teacher_state(model, state, str(path))
    return model


class TeacherLoadError(BenchmarkError):
    """A teacher checkpoint whose parameter names do not match the teacher model."""


# HubertModel's SpecAugment mask vector: used only when training HuBERT itself with time masking,
# never at inference (eval mode), and absent from checkpoints exported without it.
OPTIONAL_TEACHER_KEYS = frozenset({"masked_spec_embed"})


def load_teacher_state(model: nn.Module, state: dict, source: str) -> None:
    """Load a teacher checkpoint strictly: every parameter of `model` from `state` (a leading
    `hubert.` is removed, as in checkpoints of HubertFor* heads) and no key left over, else one
    error naming the missing and unexpected keys. Old weight-norm names (`weight_g`/`weight_v`)
    are converted by torch's own load hook."""
    state = {k.removeprefix("hubert."): v for k, v in state.items()}
    result = model.load_state_dict(state, strict=False)
    missing = sorted(set(result.missing_keys) - OPTIONAL_TEACHER_KEYS)
    unexpected = sorted(result.unexpected_keys)
    if missing or unexpected:
        raise TeacherLoadError(
            f"teacher checkpoint {source} does not match {type(model).__name__}: "
            f"missing keys {missing or 'none'}; unexpected keys {unexpected or 'none'}")


def _hubert_base_kmeans() -> np.ndarray:
    """Centres of fairseq's `hubert_base_ls960_L9_km500.bin` (a joblib-pickled sklearn model)."""
    joblib = require("joblib", "train", "the HuBERT L9 k-means model")
    from benchmark.assets import fetch
    km = joblib.load(fetch("hubert_base_l9_km500"))
    return np.asarray(km.cluster_centers_, dtype=np.float32)


def _hubert_random_tiny() -> nn.Module:
    """A seeded tiny HuBERT (same conv front end, so the same frame rate) for tests."""
    transformers = require("transformers", "train", "the tiny HuBERT test teacher")
    state = torch.random.get_rng_state()
    torch.manual_seed(4321)
    try:
        cfg = transformers.HubertConfig(hidden_size=32, num_hidden_layers=12, num_attention_heads=2,
                                        intermediate_size=64, conv_dim=(16,) * 7,
                                        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
        return transformers.HubertModel(cfg)
    finally:
        torch.random.set_rng_state(state)


def _hubert_base_random() -> nn.Module:
    """HuBERT-base's architecture (transformers' HubertConfig defaults: 12 x 768) with seeded
    random weights: the real teacher's compute where its weights are absent (bench/gpu_check.sh)."""
    transformers = require("transformers", "train", "the HuBERT-base architecture")
    state = torch.random.get_rng_state()
    torch.manual_seed(4321)
    try:
        return transformers.HubertModel(transformers.HubertConfig())
    finally:
        torch.random.set_rng_state(state)


def _random_kmeans(dim: int) -> Callable[[], np.ndarray]:
    return lambda: np.random.default_rng(99).standard_normal((500, dim)).astype(np.float32)


TEACHERS: dict[str, TeacherSpec] = {
    "hubert_base": TeacherSpec("hubert_base", 768, 12, _hubert_base, _hubert_base_kmeans),
    "hubert_random_tiny": TeacherSpec("hubert_random_tiny", 32, 12, _hubert_random_tiny,
                                      _random_kmeans(32)),
    "hubert_base_random": TeacherSpec("hubert_base_random", 768, 12, _hubert_base_random,
                                      _random_kmeans(768)),
}


class TeacherRunner:
    """Computes one KD target for 44.1 kHz clean segments (resampled to 16 kHz by soxr)."""

    def __init__(self, target: str, teacher: str, rate: int, device: str = "cpu"):
        self.target = KD_TARGETS[target]
        self.spec = TEACHERS[teacher]
        self.rate = rate
        self.device = device
        if self.target.compute is not None:
            self.model = self.kmeans = None
            return
        self.model = self.spec.build().to(device).eval()
        self.kmeans = self.spec.kmeans() if self.target.loss == "ce" else None

    @torch.inference_mode()
    def __call__(self, clean: np.ndarray) -> np.ndarray:
        if self.target.compute is not None:
            return self.target.compute(clean, self.rate)
        x16 = resample(clean, self.rate, HUBERT_RATE)
        out = self.model(torch.from_numpy(x16)[None].to(self.device), output_hidden_states=True)
        hs = [h[0].float().cpu().numpy() for h in out.hidden_states]
        return self.target.extract(hs, self.kmeans)


class KDHead(nn.Module):
    """Adaptive average pooling of the encoder output to the teacher frame rate, then an FC."""

    def __init__(self, d_model: int, out_dim: int):
        super().__init__()
        self.fc = nn.Linear(d_model, out_dim)

    def forward(self, h: torch.Tensor, frames: int) -> torch.Tensor:   # (B, T, d) -> (B, Th, C)
        pooled = nn.functional.adaptive_avg_pool1d(h.transpose(1, 2), frames).transpose(1, 2)
        return self.fc(pooled)


def kd_loss(target_name: str, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if KD_TARGETS[target_name].loss == "ce":
        return nn.functional.cross_entropy(pred.flatten(0, 1).float(), target.flatten())
    return nn.functional.mse_loss(pred.float(), target.float())

