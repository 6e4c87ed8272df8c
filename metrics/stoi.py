"""STOI and extended STOI through `pystoi` (which works internally at 10 kHz).

Signals are brought to 16 kHz with the project's resampler first (the rate recorded in score
rows); pystoi then resamples to 10 kHz itself, as in its reference implementation. Items shorter
than pystoi's 30-frame analysis minimum (about 0.4 s of speech) are recorded errors.
"""

from __future__ import annotations

import warnings

import numpy as np

from metrics._common import ItemError, pair, pkg_version, resampler_version, score_each
from metrics.base import METRICS, ItemScore, Metric, MetricInfo, MetricItem


def _stoi(ref: np.ndarray, deg: np.ndarray, rate: int, extended: bool) -> float:
    from pystoi import stoi
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(stoi(ref.astype(np.float64), deg.astype(np.float64), rate, extended=extended))
    short = [w for w in caught if "Not enough STFT frames" in str(w.message)]
    if short:
        raise ItemError(f"too short for (E)STOI: {short[0].message}")
    return value


class _StoiBase(Metric):
    extended = False

    @property
    def backend_version(self) -> str:
        return f"{pkg_version('pystoi')}; {resampler_version(self.info.rate)} (pystoi then to 10 kHz)"

    def score(self, items: list[MetricItem]) -> list[ItemScore]:
        col = self.info.columns[0]

        def one(it: MetricItem) -> dict[str, float]:
            x, r = pair(self, it, 0.05)
            if float(np.abs(r).max()) == 0.0:
                raise ItemError("reference is silent: (E)STOI is undefined")
            if float(np.abs(x).max()) == 0.0:   # pystoi would return a meaningless 0 (0/eps)
                raise ItemError("processed audio is silent: (E)STOI correlations are undefined")
            return {col: _stoi(r, x, self.info.rate, self.extended)}
        return score_each(self, items, one)


@METRICS.register
class STOI(_StoiBase):
    info = MetricInfo(
        name="stoi", rate=16000, needs_reference=True, needs_transcript=False,
        higher_is_better=True, columns=("STOI",), backends=("pystoi",), paper_backend="pystoi",
        description="short-time objective intelligibility (Taal et al. 2011), 0..1")


@METRICS.register
class ESTOI(_StoiBase):
    extended = True
    info = MetricInfo(
        name="estoi", rate=16000, needs_reference=True, needs_transcript=False,
        higher_is_better=True, columns=("ESTOI",), backends=("pystoi",), paper_backend="pystoi",
        description="extended STOI (Jensen & Taal 2016)")
