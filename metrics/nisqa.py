"""NISQA v2.0: no-reference full-band speech quality (MOS and the four quality dimensions).

The public stand-in for the papers' in-house SESQA (both score 48 kHz speech without a
reference). Weights: the NISQA repository's `weights/nisqa.tar` (asset `nisqa`, CC BY-NC-SA
4.0, research use only). The `nisqa` PyPI package pins torch 2.2.1 and cannot be installed beside
our pins, so the published architecture is implemented in `metrics._nisqa_model` (checked against
the package's model code on the same inputs). Audio is resampled to 48 kHz; items are batched
with padding and masks (padding never changes a clip's scores).
"""

from __future__ import annotations

from benchmark.assets import fetch
from metrics._common import ItemError, degraded
from metrics.base import METRICS, ItemScore, Metric, MetricInfo, MetricItem

COLUMNS = ("MOS", "NOI", "DIS", "COL", "LOUD")
BATCH = 8


@METRICS.register
class NISQA(Metric):
    info = MetricInfo(
        name="nisqa", rate=48000, needs_reference=False, needs_transcript=False,
        higher_is_better=True, columns=COLUMNS, backends=("nisqa_v2",), paper_backend="nisqa_v2",
        description="NISQA v2.0 MOS, noisiness, discontinuity, coloration, loudness (1..5)",
        assets={"nisqa_v2": ("nisqa",)}, devices=("cpu", "cuda"))

    def __init__(self, backend: str | None = None, device: str = "cpu"):
        super().__init__(backend, device)
        self._model = None
        self._args: dict = {}

    @property
    def backend_version(self) -> str:
        from benchmark.assets import get_asset
        return f"NISQA v2.0 nisqa.tar sha256:{get_asset('nisqa').sha256[:12]} (own torch impl)"

    def load(self) -> None:
        if self._model is None:
            from metrics._nisqa_model import load
            path = fetch("nisqa")
            self._model, self._args = load(str(path))
            self._model.to(self.device)

    def _segments(self, it: MetricItem):
        from metrics._nisqa_model import melspec, segments
        x = degraded(self, it, 0.2)
        seg = segments(melspec(x, self._args), self._args["ms_seg_length"],
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
                                   aux={"segments": int(n[j])})
        return [o if o is not None else ItemScore(error="not scored") for o in out]
