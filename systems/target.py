"""`target`: the clean reference itself (the papers' "Target" row, an oracle upper bound)."""

from __future__ import annotations

import numpy as np

from benchmark.core.errors import BenchmarkError
from systems.base import SYSTEMS, RestoreItem, System, SystemInfo


@SYSTEMS.register
class Target(System):
    info = SystemInfo(
        name="target", version="1", rate=44100, backend="identity",
        description="clean reference (oracle)", max_batch=64, needs_target=True,
        paper_row="Target")

    def restore(self, items: list[RestoreItem]) -> list[np.ndarray]:
        out = []
        for it in items:
            if it.target is None:
                raise BenchmarkError(f"system 'target' needs the clean reference of item '{it.id}', "
                                     "but the test set has none (real recordings have no target)")
            ref = np.asarray(it.target, dtype=np.float32)
            if ref.shape != np.shape(it.audio):
                # The test sets store target and input at equal length; a mismatch is a set error.
                raise BenchmarkError(f"item '{it.id}': target has {ref.size} samples but the input "
                                     f"has {np.size(it.audio)}; expected equal lengths")
            out.append(ref.copy())
        return out
