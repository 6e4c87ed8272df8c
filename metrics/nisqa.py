"""NISQA v2.0: no-reference full-band speech quality (MOS and the four quality dimensions).

The public stand-in for the papers' in-house SESQA (both score 48 kHz speech without a
reference). Weights: the NISQA repository's `weights/nisqa.tar` (asset `nisqa`, CC BY-NC-SA
4.0, research use only). The `nisqa` PyPI package pins torch 2.2.1 and cannot be installed beside
our pins, so the published architecture is implemented in `metrics._nisqa_model` (checked against
the package's model code on the same inputs). Audio is scored at the file's own rate, as the
released model does (its args have ms_sr = None: gabrielmittag/NISQA `nisqa/NISQA_lib.py`
`get_librosa_melspec` loads with librosa.load(sr=None); commit fe84f0f): no resampling, so
`info.rate` is 0 and each item's aux records the rate it was scored at. (Resampling 16 kHz
input to 48 kHz first moves single scores by up to 0.40 MOS on the DNS excerpts.) Items are
batched with padding and masks (padding never changes a clip's scores).
"""

from __future__ import annotations

import numpy as np

from benchmark.assets import fetch
from metrics._common import ItemError, file_sha256, pkg_version
from metrics.base import METRICS, ItemScore, Metric, MetricInfo, MetricItem

COLUMNS = ("MOS", "NOI", "DIS", "COL", "LOUD")
BATCH = 8


@METRICS.register
class NISQA(Metric):
    info = MetricInfo(
        name="nisqa", rate=0, needs_reference=False, needs_transcript=False,
        higher_is_better=True, columns=COLUMNS, backends=("nisqa_v2",), paper_backend="nisqa_v2",
        costs={"nisqa_v2": 0.02},
        description="NISQA v2.0 MOS, noisiness, discontinuity, coloration, loudness (1..5), at "
                    "the file's own rate (rate 0)",
        assets={"nisqa_v2": ("nisqa",)}, devices=("cpu", "cuda"))

    def __init__(self, backend: str | None = None, device: str = "cpu"):
        super().__init__(backend, device)
        self._model = None
        self._args: dict = {}
        self._version = ""

    @property
    def backend_version(self) -> str:
        """After load(): the weights file's sha256; no resampler (the file's own rate)."""
        if not self._version:
            return "nisqa_v2 (not loaded)"
        return self._version

    def load(self) -> None:
        if self._model is None:
            from metrics._nisqa_model import load
            path = fetch("nisqa")
            self._model, self._args = load(str(path))
            self._model.to(self.device)
            self._version = (f"NISQA v2.0 {path.name} sha256:{file_sha256(path)} (own torch impl); "
                             f"{pkg_version('librosa')} mel at the file's own rate, no resampling")

    def _segments(self, it: MetricItem):
        from metrics._nisqa_model import melspec, segments
        x = np.asarray(it.audio, dtype=np.float32)
        if x.size < int(0.2 * it.rate):
            raise ItemError(f"audio is {x.size / it.rate:.3f} s long; nisqa needs at least 0.2 s")
        # the segment count follows from the length (centred frames): refuse an item that is too
        # long before its spectrogram and segments are built (a 30-minute item: ~1 GB of segments)
        frames = 1 + x.size // int(int(it.rate) * self._args["ms_hop_length"])
        n = -(-max(0, frames - self._args["ms_seg_length"] + 1) // self._args["ms_seg_hop_length"])
        if n > self._args["ms_max_segments"]:
            raise ItemError(f"{n} segments > NISQA's maximum {self._args['ms_max_segments']} "
                            "(about 52 s of audio); cut the item shorter")
        seg = segments(melspec(x, self._args, int(it.rate)), self._args["ms_seg_length"],
                       self._args["ms_seg_hop_length"])
        if len(seg) > self._args["ms_max_segments"]:
            raise ItemError(f"{len(seg)} segments > NISQA's maximum {self._args['ms_max_segments']} "
                            "(about 52 s of audio); cut the item shorter")
        return seg

    def score(self, items: list[MetricItem]) -> list[ItemScore]:
        import torch
        self.load()
        out: list[ItemScore | None] = [None] * len(items)
        ready = []
        for k, it in enumerate(items):
            try:
                ready.append((k, self._segments(it)))
            except Exception as exc:
                out[k] = ItemScore(error=str(exc) if isinstance(exc, ItemError)
                                   else f"{type(exc).__name__}: {exc}")
        for i in range(0, len(ready), BATCH):
            chunk = ready[i:i + BATCH]
            t = max(len(s) for _, s in chunk)
            x = torch.zeros((len(chunk), t, *chunk[0][1].shape[1:]))
            for j, (_, s) in enumerate(chunk):
                x[j, :len(s)] = s
            n = torch.tensor([len(s) for _, s in chunk])
            with torch.inference_mode():
                y = self._model(x.to(self.device), n.to(self.device)).cpu().numpy()
            for j, (k, _) in enumerate(chunk):
                out[k] = ItemScore(values={c: float(v) for c, v in zip(COLUMNS, y[j], strict=True)},
                                   aux={"segments": int(n[j]), "rate": int(items[k].rate)})
        return [o if o is not None else ItemScore(error="not scored") for o in out]
