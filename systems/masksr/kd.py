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
    model.load_state_dict({k.removeprefix("hubert."): v for k, v in state.items()}, strict=False)
    return model


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


def _random_kmeans(dim: int) -> Callable[[], np.ndarray]:
    return lambda: np.random.default_rng(99).standard_normal((500, dim)).astype(np.float32)


TEACHERS: dict[str, TeacherSpec] = {
    "hubert_base": TeacherSpec("hubert_base", 768, 12, _hubert_base, _hubert_base_kmeans),
    "hubert_random_tiny": TeacherSpec("hubert_random_tiny", 32, 12, _hubert_random_tiny,
                                      _random_kmeans(32)),
}


def normalise_per_channel(x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """(T, C) -> per-channel zero mean / unit variance over time, statistics of this sample only."""
    return ((x - x.mean(axis=0, keepdims=True)) / (x.std(axis=0, keepdims=True) + eps)).astype(np.float32)


@dataclass(frozen=True)
class KDTarget:
    name: str
    loss: str                                               # "mse" or "ce"
    dim: Callable[[TeacherSpec], int]                       # head output size
    extract: Callable[[list[np.ndarray], np.ndarray | None], np.ndarray]  # hidden states -> target
    # targets computed from the clean 44.1 kHz segment itself, no teacher (issue 6: stft44k/16k)
    compute: Callable[[np.ndarray, int], np.ndarray] | None = None


def _avg(hs, _km):
    return normalise_per_channel(np.mean(np.stack(hs[1:]), axis=0))


def _l9(hs, _km):
    return normalise_per_channel(hs[9])


def _l9_k500(hs, km):
    d = ((hs[9][:, None, :] - km[None]) ** 2).sum(-1)
    return d.argmin(axis=1).astype(np.int64)


# Issue 6 adds stft44k / stft16k (regression on the target STFT) as further entries.
KD_TARGETS: dict[str, KDTarget] = {
    "avg_feature": KDTarget("avg_feature", "mse", lambda t: t.dim, _avg),
    "l9_feature": KDTarget("l9_feature", "mse", lambda t: t.dim, _l9),
    "l9_k500": KDTarget("l9_k500", "ce", lambda t: 500, _l9_k500),
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


# issue 6: the spectral regression targets stft44k / stft16k register themselves
from systems.masksr import kd_spectral  # noqa: E402,F401
