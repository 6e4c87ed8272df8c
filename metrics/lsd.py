"""Log-spectral distance as VoiceFixer's evaluation code computes it (003 App. C.4 eq. 27), in the
two versions of haoheliu/voicefixer_main `evaluation_proc/metrics.py` (`AudioMetrics.lsd`):

- `voicefixer2021` (commit 0c206f7, the code 003's numbers come from): EPS = 1e-8,
      LSD = 1/T sum_t sqrt( 1/F sum_f log10( S^2 / (S^2_hat + EPS) + EPS )^2 )
- `voicefixer2022` (commit 9c94468 "Fix eps problem in LSD", Feb 2022; also the PyPI `ssr_eval`
  0.0.7 package): EPS = 1e-12,
      LSD = 1/T sum_t sqrt( 1/F sum_f log10( S^2 / (S_hat + EPS)^2 + EPS )^2 )

S is the reference and S_hat the processed magnitude spectrogram of `metrics._spectral`
(44.1 kHz, F = 1025 bins). log10 of the power ratio, no dB factor; the square root is taken per
frame over frequency, then frames are averaged. The versions differ where S_hat is small (removed
bands): the 2021 form caps the ratio at S^2/1e-8, the 2022 form at S^2/1e-24.
Which table used which: 003/004 (2021; the 2022 fix post-dates both papers' evaluations), 001/002
(2022: in 2024 every public VoiceFixer LSD - voicefixer_main HEAD and ssr_eval - had the fix).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from metrics._common import pair, pkg_version, resampler_version, score_each
from metrics._spectral import STFT_DESC, magnitude
from metrics.base import METRICS, ItemScore, Metric, MetricInfo, MetricItem


@dataclass(frozen=True)
class LSDForm:
    """One version of the formula: where EPS enters the power ratio, and its value."""
    eps: float
    eps_after_square: bool        # True: S_hat^2 + EPS (2021); False: (S_hat + EPS)^2 (2022)
    source: str

    def __call__(self, est_mag: np.ndarray, ref_mag: np.ndarray) -> float:
        den = est_mag ** 2 + self.eps if self.eps_after_square else (est_mag + self.eps) ** 2
        d = np.log10(ref_mag ** 2 / den + self.eps) ** 2
        return float(np.mean(np.sqrt(np.mean(d, axis=1))))


FORMS = {
    "voicefixer2022": LSDForm(1e-12, False, "voicefixer_main evaluation_proc/metrics.py@9c94468"),
    "voicefixer2021": LSDForm(1e-8, True, "voicefixer_main evaluation_proc/metrics.py@0c206f7"),
}


def lsd(est: np.ndarray, ref: np.ndarray, backend: str = "voicefixer2022") -> float:
    return FORMS[backend](magnitude(est), magnitude(ref))


@METRICS.register
class LSD(Metric):
    info = MetricInfo(
        name="lsd", rate=44100, needs_reference=True, needs_transcript=False,
        higher_is_better=False, columns=("LSD",), backends=tuple(FORMS),
        paper_backend="voicefixer2022",
        description="log-spectral distance at 44.1 kHz, VoiceFixer's code: voicefixer2022 "
                    "(EPS 1e-12, 001/002) or voicefixer2021 (EPS 1e-8, 003/004)")

    @property
    def backend_version(self) -> str:
        f = FORMS[self.backend]
        return (f"{f.source} lsd EPS={f.eps:g} {'E^2+EPS' if f.eps_after_square else '(E+EPS)^2'}; "
                f"{STFT_DESC}; {pkg_version('librosa')}; {resampler_version(self.info.rate)}")

    def score(self, items: list[MetricItem]) -> list[ItemScore]:
        form = FORMS[self.backend]
        return score_each(self, items, lambda it: {"LSD": form(*map(magnitude, pair(self, it, 0.05)))})
