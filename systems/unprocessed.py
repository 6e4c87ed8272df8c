"""`unprocessed`: the degraded input passed through unchanged (the papers' "Unprocessed" row)."""

from __future__ import annotations

import numpy as np

from systems.base import SYSTEMS, RestoreItem, System, SystemInfo


@SYSTEMS.register
class Unprocessed(System):
    # 44.1 kHz, the benchmark's full-band rate: the runner's resampling is then a no-op on the
    # full-band sets, and wide-band inputs are only upsampled (no content added or removed).
    info = SystemInfo(
        name="unprocessed", version="1", rate=44100, backend="identity",
        description="degraded input, unchanged", max_batch=64, paper_row="Unprocessed")

    def restore(self, items: list[RestoreItem]) -> list[np.ndarray]:
        return [np.asarray(it.audio, dtype=np.float32).copy() for it in items]
