"""PESQ (ITU-T P.862) through the `pesq` package: wide-band at 16 kHz, narrow-band at 8 kHz.

003 App. C.4 downsamples the 44.1 kHz output to 16 kHz before PESQ-wb; we do the same through
the project's resampler. The package's errors (no utterance detected, too short) become the
item's recorded error; a silent (all-zero) processed or reference signal is refused with a clear
message before the call (the package would fail with "cannot convert float NaN to integer").
"""

from __future__ import annotations

import numpy as np

from metrics._common import ItemError, pair, pkg_version, resampler_version, score_each
from metrics.base import METRICS, ItemScore, Metric, MetricInfo, MetricItem


def _pesq(ref, deg, rate: int, mode: str) -> float:
    from pesq import PesqError, pesq
    for what, x in (("processed audio", deg), ("reference", ref)):
        if not np.any(x):
            raise ItemError(f"{what} is silent (all zeros): PESQ is undefined for silence")
    try:
        return float(pesq(rate, ref, deg, mode))
    except PesqError as exc:
        raise ItemError(f"PESQ could not score this item: {type(exc).__name__}: {exc}") from exc
    except ValueError as exc:     # the C code's NaN level on (near-)silent input
        raise ItemError(f"PESQ could not score this item (near-silent input?): {exc}") from exc


class _PesqBase(Metric):
    mode = "wb"

    @property
    def backend_version(self) -> str:
        return f"{pkg_version('pesq')} ({self.mode}); {resampler_version(self.info.rate)}"

    def score(self, items: list[MetricItem]) -> list[ItemScore]:
        col = self.info.columns[0]

        def one(it: MetricItem) -> dict[str, float]:
            x, r = pair(self, it, 0.25)
            return {col: _pesq(r.astype("float64"), x.astype("float64"), self.info.rate, self.mode)}
        return score_each(self, items, one)


@METRICS.register
class PESQWideBand(_PesqBase):
    mode = "wb"
    info = MetricInfo(
        name="pesq", rate=16000, needs_reference=True, needs_transcript=False,
        higher_is_better=True, columns=("PESQ-wb",), backends=("pesq",), paper_backend="pesq",
        description="wide-band PESQ (P.862.2) at 16 kHz, MOS-LQO -0.5..4.5")


@METRICS.register
class PESQNarrowBand(_PesqBase):
    mode = "nb"
    info = MetricInfo(
        name="pesq_nb", rate=8000, needs_reference=True, needs_transcript=False,
        higher_is_better=True, columns=("PESQ-nb",), backends=("pesq",), paper_backend="pesq",
        description="narrow-band PESQ (P.862) at 8 kHz")
