"""`target_dac`: the clean target through DAC 44 kHz encode/decode (the token models' upper bound).

Uses the MaskSR family's frozen codec wrapper (`systems.masksr.codec.Codec`, 9 x 1024 RVQ, hop
512, weights = asset `dac_44khz`, extra `codec`). The codec pads the input to whole 512-sample
frames; its convolutions are centred ("same" padding), so the decoded waveform is aligned with the
input and is cut back to the input length. Config `codec` selects another registered codec
(tests use `dac_random_small`, the real DAC class with seeded random weights).
"""

from __future__ import annotations

import numpy as np

from benchmark.assets import fetch
from benchmark.core.errors import BenchmarkError
from systems.base import SYSTEMS, RestoreItem, System, SystemInfo


@SYSTEMS.register
class TargetDAC(System):
    info = SystemInfo(
        name="target_dac", version="dac44k-8kbps", rate=44100, backend="torch",
        description="clean target after DAC 44 kHz encode/decode (oracle upper bound of token models)",
        assets=("dac_44khz",), devices=("cpu", "cuda"), needs_target=True, extra="codec",
        paper_row="Target (DAC)")

    def load(self) -> None:
        name = str(self.config.get("codec", "dac_44khz"))
        if name == "dac_44khz":
            fetch("dac_44khz")          # the asset error, before the codec is built
        import torch

        from systems.masksr.codec import Codec
        self._torch = torch
        self._codec = Codec(name, device=self.device)
        if self._codec.rate != self.info.rate:
            raise BenchmarkError(f"codec '{name}' runs at {self._codec.rate} Hz, expected {self.info.rate}")

    def restore(self, items: list[RestoreItem]) -> list[np.ndarray]:
        if not hasattr(self, "_codec"):
            self.load()
        out = []
        for it in items:
            if it.target is None:
                raise BenchmarkError(f"system 'target_dac' needs the clean reference of item "
                                     f"'{it.id}', but the test set has none")
            x = np.asarray(it.target, dtype=np.float32)
            codes = self._codec.encode(self._torch.from_numpy(x)[None])
            y = self._codec.decode(codes)[0].float().cpu().numpy()[:x.size]
            out.append(np.ascontiguousarray(y, dtype=np.float32))
        return out
