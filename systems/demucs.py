"""`demucs`: the DEMUCS real-time denoiser (Defossez et al. 2020), `dns64` checkpoint, 16 kHz.

Model code from the `denoiser` package (`denoiser.demucs.Demucs`, hidden=64, causal, resample=4,
the configuration of `denoiser.pretrained.dns64`); the checkpoint is the asset `demucs_dns64`
(the package's own release URL) instead of torch.hub's download. Offline (whole-file) inference
as in `denoiser.enhance` with dry=0: the model normalises by the input's std, pads to a valid
length and crops its output back, so output and input are aligned and of equal length.

Install: the `denoiser` sdist pins hydra-core<1.0, torchaudio and sounddevice, which the model
code does not import (and torchaudio would not match our torch); install it without them:
`pip install --no-deps denoiser==0.1.5` (the `demucs` extra only documents this; see README).
"""

from __future__ import annotations

import numpy as np

from benchmark.assets import fetch
from benchmark.core.deps import require
from benchmark.core.errors import BenchmarkError
from systems.base import SYSTEMS, RestoreItem, System, SystemInfo

DNS64 = {"hidden": 64, "sample_rate": 16000}   # denoiser.pretrained.dns64()


@SYSTEMS.register
class Demucs(System):
    info = SystemInfo(
        name="demucs", version="denoiser0.1.5-dns64", rate=16000, backend="torch",
        description="DEMUCS real-time denoiser, dns64 checkpoint (denoiser package)",
        assets=("demucs_dns64",), devices=("cpu", "cuda"), extra="demucs", paper_row="DEMUCS")

    def load(self) -> None:
        path = fetch("demucs_dns64")          # fails with the asset error before any import
        import torch

        demucs_mod = require("denoiser.demucs", "demucs",
                             "system demucs; install with: pip install --no-deps denoiser==0.1.5")
        model = demucs_mod.Demucs(**DNS64)
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
            model.load_state_dict(state)
        except Exception as exc:   # wrong file / wrong architecture: one clear message
            raise BenchmarkError(f"DEMUCS checkpoint {path} does not load into Demucs(hidden=64): "
                                 f"{type(exc).__name__}: {exc}") from exc
        self._torch = torch
        self._model = model.to(self.device).eval()

    def restore(self, items: list[RestoreItem]) -> list[np.ndarray]:
        if not hasattr(self, "_model"):
            self.load()
        torch = self._torch
        out = []
        with torch.inference_mode():
            for it in items:
                x = torch.from_numpy(np.asarray(it.audio, dtype=np.float32)).to(self.device)
                y = self._model(x[None, None])[0, 0]
                if y.shape != x.shape:
                    raise BenchmarkError(f"DEMUCS returned {tuple(y.shape)} samples for an input "
                                         f"of {tuple(x.shape)}")
                out.append(y.cpu().numpy().astype(np.float32))
        return out
