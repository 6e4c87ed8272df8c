"""PESQ (ITU-T P.862) through the `pesq` package: wide-band at 16 kHz, narrow-band at 8 kHz.

003 App. C.4 downsamples the 44.1 kHz output to 16 kHz before PESQ-wb; we do the same through
the project's resampler. The package's errors (no utterance detected, too short) become the
item's recorded error; a silent (all-zero) processed or reference signal is refused with a clear
message before the call (the package would fail with "cannot convert float NaN to integer").
Backends of PESQ-wb: `pesq` (the harness's soxr to 16 kHz, cropped to the shorter signal) and
`speechmetrics` (what 003/004's numbers come from: VoiceFixer's evaluation called speechmetrics,
which resamples each file to 16 kHz with resampy kaiser_best and zero-pads to the longer one;
`pesq(16000, target, estimate, 'wb')`, speechmetrics `relative/pesq.py` at ae661ec).
"""

from __future__ import annotations

import numpy as np

from metrics._common import (
    SPEECHMETRICS,
    ItemError,
    pair,
    pkg_version,
    resampler_version,
    score_each,
    speechmetrics_pair,
)
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


def _harness_pair(metric: Metric, it: MetricItem):
    x, r = pair(metric, it, 0.25)
    return x.astype("float64"), r.astype("float64")


def _speechmetrics_pair(metric: Metric, it: MetricItem):
    x, r, _ = speechmetrics_pair(metric, it, metric.info.rate, 0.25)
    return x, r


PAIRINGS = {"pesq": _harness_pair, "speechmetrics": _speechmetrics_pair}


class _PesqBase(Metric):
    mode = "wb"

    @property
    def backend_version(self) -> str:
        how = (SPEECHMETRICS if self.backend == "speechmetrics" else resampler_version(self.info.rate))
        return f"{pkg_version('pesq')} ({self.mode}); {how}"

    def score(self, items: list[MetricItem]) -> list[ItemScore]:
        col, pairing = self.info.columns[0], PAIRINGS[self.backend]

        def one(it: MetricItem) -> dict[str, float]:
            x, r = pairing(self, it)
            return {col: _pesq(r, x, self.info.rate, self.mode)}
        return score_each(self, items, one)


@METRICS.register
class PESQWideBand(_PesqBase):
    mode = "wb"
    info = MetricInfo(
        name="pesq", rate=16000, needs_reference=True, needs_transcript=False,
        higher_is_better=True, columns=("PESQ-wb",), backends=("pesq", "speechmetrics"),
        paper_backend="pesq",
        costs={"pesq": 0.05, "speechmetrics": 0.05},
        description="wide-band PESQ (P.862.2) at 16 kHz, MOS-LQO -0.5..4.5; speechmetrics = "
                    "VoiceFixer's (resampy, zero-pad)")


@METRICS.register
class PESQNarrowBand(_PesqBase):
    mode = "nb"
    info = MetricInfo(
        name="pesq_nb", rate=8000, needs_reference=True, needs_transcript=False,
        higher_is_better=True, columns=("PESQ-nb",), backends=("pesq",), paper_backend="pesq",
        description="narrow-band PESQ (P.862) at 8 kHz")
