"""SiSPNR: scale-invariant spectrogram-to-noise ratio (003 App. C.4 eq. 30; `ssr_eval.sispec`).

On the 44.1 kHz magnitude spectrograms of `metrics._spectral` (S reference, S^ processed):
S_target = <S^, S> S / (|S|^2 + eps), E_noise = S^ - S_target,
SiSPNR = 10 log10( |S_target|^2 / (|E_noise|^2 + eps) + eps ), eps = 1e-12, sums over all
time-frequency bins. The paper's text mentions a mean normalisation that VoiceFixer's code does
not perform; we follow the code (the numbers in 003 were produced by it).
"""

from __future__ import annotations

import numpy as np

from metrics._common import ItemError, pair, pkg_version, score_each
from metrics._spectral import EPS, magnitude
from metrics.base import METRICS, ItemScore, Metric, MetricInfo, MetricItem


def sispnr(est: np.ndarray, ref: np.ndarray) -> float:
    e, t = magnitude(est), magnitude(ref)
    t_energy = float(np.sum(t * t))
    if t_energy == 0.0:
        raise ItemError("reference is silent: SiSPNR is undefined")
    target = np.sum(e * t) * t / (t_energy + EPS)
    noise = e - target
    return float(10 * np.log10(np.sum(target ** 2) / (np.sum(noise ** 2) + EPS) + EPS))


@METRICS.register
class SiSPNR(Metric):
    info = MetricInfo(
        name="sispnr", rate=44100, needs_reference=True, needs_transcript=False,
        higher_is_better=True, columns=("SiSPNR",), backends=("voicefixer",),
        paper_backend="voicefixer",
        description="scale-invariant spectrogram-to-noise ratio, dB (VoiceFixer ssr_eval)")

    @property
    def backend_version(self) -> str:
        return f"ssr_eval-sispec n_fft=2048 hop=441; {pkg_version('librosa')}"

    def score(self, items: list[MetricItem]) -> list[ItemScore]:
        return score_each(self, items, lambda it: {"SiSPNR": sispnr(*pair(self, it, 0.05))})
