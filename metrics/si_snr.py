"""SI-SNR (003 App. C.4 eq. 29): 10 log10(|s_target|^2 / |e_noise|^2), s_target = <s^,s>s/|s|^2.

Computed on the waveform at 44.1 kHz (the rate VoiceFixer evaluates at) after removing each
signal's mean (Le Roux et al. 2019, "SDR - half-baked or well done?"). eps = 1e-8 in both the
projection denominator and the ratio; identical signals therefore give a large finite value.
Backends: `numpy` (that definition) and `speechmetrics` (what 003/004's SiSNR columns come from:
VoiceFixer's evaluation called speechmetrics' `sisdr`, `relative/sisdr.py` at ae661ec, Le Roux's
code: no mean removal, eps = float64 machine epsilon, a = (eps + <s, s^>) / (|s|^2 + eps), at the
files' own rate with the shorter signal zero-padded).
"""

from __future__ import annotations

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

EPS = 1e-8


def si_snr(est: np.ndarray, ref: np.ndarray) -> float:
    est = est.astype(np.float64) - est.mean()
    ref = ref.astype(np.float64) - ref.mean()
    ref_energy = float(np.dot(ref, ref))
    if ref_energy <= EPS:
        raise ItemError("reference is silent: SI-SNR is undefined")
    target = np.dot(est, ref) / (ref_energy + EPS) * ref
    noise = est - target
    return float(10 * np.log10((np.dot(target, target) + EPS) / (np.dot(noise, noise) + EPS)))


def si_sdr_speechmetrics(est: np.ndarray, ref: np.ndarray) -> float:
    eps = np.finfo(np.float64).eps
    a = (eps + np.dot(ref, est)) / (np.dot(ref, ref) + eps)
    target = a * ref
    res = est - target
    return float(10 * np.log10((eps + np.dot(target, target)) / (eps + np.dot(res, res))))


def _numpy(metric: Metric, it: MetricItem) -> dict[str, float]:
    return {"SI-SNR": si_snr(*pair(metric, it, 0.01))}


def _speechmetrics(metric: Metric, it: MetricItem) -> Scored:
    x, r, rate = speechmetrics_pair(metric, it, None, 0.01)
    if not np.any(r):
        raise ItemError("reference is silent: SI-SNR is undefined")
    return Scored({"SI-SNR": si_sdr_speechmetrics(x, r)}, rate)


BACKENDS = {"numpy": _numpy, "speechmetrics": _speechmetrics}


@METRICS.register
class SISNR(Metric):
    info = MetricInfo(
        name="si_snr", rate=44100, needs_reference=True, needs_transcript=False,
        higher_is_better=True, columns=("SI-SNR",), backends=tuple(BACKENDS), paper_backend="numpy",
        own_rate_backends=("speechmetrics",),
        description="scale-invariant SNR of the waveform, dB (003 App. C.4 eq. 29)")

    @property
    def backend_version(self) -> str:
        if self.backend == "speechmetrics":
            return f"{pkg_version('numpy')}; sisdr of {SPEECHMETRICS}, at the files' own rate"
        return f"{pkg_version('numpy')}; {resampler_version(self.info.rate)}"

    def score(self, items: list[MetricItem]) -> list[ItemScore]:
        fn = BACKENDS[self.backend]
        return score_each(self, items, lambda it: fn(self, it))
