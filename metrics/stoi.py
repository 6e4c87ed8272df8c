"""STOI and extended STOI through `pystoi` (which works internally at 10 kHz).

Signals are brought to 16 kHz with the project's resampler first (the rate recorded in score
rows); pystoi then resamples to 10 kHz itself, as in its reference implementation. Items shorter
than pystoi's 30-frame analysis minimum (about 0.4 s of speech) are recorded errors.
STOI backends: `pystoi` (that) and `speechmetrics` (003/004's STOI columns: VoiceFixer's evaluation
called speechmetrics' `stoi`, `relative/stoi.py` at ae661ec: pystoi at the files' own rate, no
resampling of ours, the shorter signal zero-padded).
"""

from __future__ import annotations

import warnings

import numpy as np

from metrics._common import (
    SPEECHMETRICS,
    ItemError,
    Scored,
    pair,
    pkg_version,
    resampler_version,
    score_each,
    speechmetrics_pair,
)
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


def _harness_pair(metric: Metric, it: MetricItem):
    x, r = pair(metric, it, 0.05)
    return x, r, metric.info.rate


def _speechmetrics_pair(metric: Metric, it: MetricItem):
    return speechmetrics_pair(metric, it, None, 0.05)


PAIRINGS = {"pystoi": _harness_pair, "speechmetrics": _speechmetrics_pair}


class _StoiBase(Metric):
    extended = False

    @property
    def backend_version(self) -> str:
        if self.backend == "speechmetrics":
            return f"{pkg_version('pystoi')}; stoi of {SPEECHMETRICS}, at the files' own rate"
        return f"{pkg_version('pystoi')}; {resampler_version(self.info.rate)} (pystoi then to 10 kHz)"

    def score(self, items: list[MetricItem]) -> list[ItemScore]:
        col, pairing = self.info.columns[0], PAIRINGS[self.backend]

        def one(it: MetricItem) -> Scored:
            x, r, rate = pairing(self, it)
            if float(np.abs(r).max()) == 0.0:
                raise ItemError("reference is silent: (E)STOI is undefined")
            if float(np.abs(x).max()) == 0.0:   # pystoi would return a meaningless 0 (0/eps)
                raise ItemError("processed audio is silent: (E)STOI correlations are undefined")
            return Scored({col: _stoi(r, x, rate, self.extended)}, rate)
        return score_each(self, items, one)


@METRICS.register
class STOI(_StoiBase):
    info = MetricInfo(
        name="stoi", rate=16000, needs_reference=True, needs_transcript=False,
        higher_is_better=True, columns=("STOI",), backends=("pystoi", "speechmetrics"),
        paper_backend="pystoi", own_rate_backends=("speechmetrics",),
        description="short-time objective intelligibility (Taal et al. 2011), 0..1")


@METRICS.register
class ESTOI(_StoiBase):
    extended = True
    info = MetricInfo(
        name="estoi", rate=16000, needs_reference=True, needs_transcript=False,
        higher_is_better=True, columns=("ESTOI",), backends=("pystoi",), paper_backend="pystoi",
        description="extended STOI (Jensen & Taal 2016)")
