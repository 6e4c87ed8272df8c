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
- `urgent2025` (urgent-challenge/urgent2025_challenge `evaluation_metrics/
  calculate_intrusive_se_metrics.py` `lsd_metric`@daf1730, another definition under the same
  name): at the files' own rate, the output first scaled by <S, S_hat>/|S_hat|^2 (eps 1e-8),
  |librosa.stft| with n_fft = 32 ms, hop = 16 ms of that rate, natural log,
      LSD = 1/T sum_t sqrt( 1/F sum_f ln( S^2 / (S_hat + 1e-8)^2 + 1e-8 )^2 ).
Which table used which: 003/004 (2021; the 2022 fix post-dates both papers' evaluations), 001/002
(2022: in 2024 every public VoiceFixer LSD - voicefixer_main HEAD and ssr_eval - had the fix).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from metrics._common import (
    MAX_LENGTH_MISMATCH_S,
    ItemError,
    Scored,
    pair,
    pkg_version,
    resampler_version,
    score_each,
)
from metrics._spectral import STFT_DESC, magnitude_blocks
from metrics.base import METRICS, ItemScore, Metric, MetricInfo, MetricItem


@dataclass(frozen=True)
class LSDForm:
    """One version of the formula: where EPS enters the power ratio, and its value."""
    eps: float
    eps_after_square: bool        # True: S_hat^2 + EPS (2021); False: (S_hat + EPS)^2 (2022)
    source: str

    def frames(self, est_mag: np.ndarray, ref_mag: np.ndarray) -> np.ndarray:
        """The per-frame value: sqrt of the mean over frequency of the squared log ratio."""
        den = est_mag ** 2 + self.eps if self.eps_after_square else (est_mag + self.eps) ** 2
        d = np.log10(ref_mag ** 2 / den + self.eps) ** 2
        return np.sqrt(np.mean(d, axis=1))

    def __call__(self, est_mag: np.ndarray, ref_mag: np.ndarray) -> float:
        return float(np.mean(self.frames(est_mag, ref_mag)))


FORMS = {
    "voicefixer2022": LSDForm(1e-12, False, "voicefixer_main evaluation_proc/metrics.py@9c94468"),
    "voicefixer2021": LSDForm(1e-8, True, "voicefixer_main evaluation_proc/metrics.py@0c206f7"),
}


def lsd(est: np.ndarray, ref: np.ndarray, backend: str = "voicefixer2022") -> float:
    """The mean over frames of a per-frame value, streamed over spectrogram blocks
    (`magnitude_blocks`): block-sized memory for a long item, the same definition."""
    form, total, frames = FORMS[backend], 0.0, 0
    for e, t in zip(magnitude_blocks(est), magnitude_blocks(ref), strict=True):
        values = form.frames(e, t)
        total += float(values.sum())
        frames += values.size
    return total / frames


def lsd_urgent2025(est: np.ndarray, ref: np.ndarray, rate: int, eps: float = 1e-8) -> float:
    """URGENT 2025's `lsd_metric(ref, inf, fs)` (p = 2), on float64 copies of the two signals."""
    import librosa
    ref, est = np.asarray(ref, np.float64), np.asarray(est, np.float64)
    est = est * (np.sum(ref * est) / (np.sum(est ** 2) + eps))
    n_fft, hop = int(rate * 0.032), int(rate * 0.016)
    r = np.abs(librosa.stft(ref, hop_length=hop, n_fft=n_fft)).T
    e = np.abs(librosa.stft(est, hop_length=hop, n_fft=n_fft)).T
    d = np.log(r ** 2 / ((e + eps) ** 2) + eps) ** 2
    return float(np.mean(np.mean(d, axis=1) ** 0.5))


def _urgent(metric: Metric, it: MetricItem) -> Scored:
    x, r = it.audio, it.reference
    if r is None:
        raise ItemError("lsd needs a reference signal and none was given")
    rate, ref_rate = int(it.rate), int(it.reference_rate or it.rate)
    if rate != ref_rate:
        raise ItemError(f"processed ({rate} Hz) and reference ({ref_rate} Hz) rates differ; "
                        "lsd:urgent2025 scores at the files' own rate")
    n = min(len(x), len(r))
    if abs(len(x) - len(r)) / rate > MAX_LENGTH_MISMATCH_S:
        raise ItemError(f"processed and reference lengths differ by {abs(len(x) - len(r)) / rate:.3f} s")
    return Scored({"LSD": lsd_urgent2025(x[:n], r[:n], rate)}, rate)


@METRICS.register
class LSD(Metric):
    info = MetricInfo(
        name="lsd", rate=44100, needs_reference=True, needs_transcript=False,
        higher_is_better=False, columns=("LSD",), backends=(*FORMS, "urgent2025"),
        paper_backend="voicefixer2022", own_rate_backends=("urgent2025",),
        description="log-spectral distance at 44.1 kHz, VoiceFixer's code: voicefixer2022 "
                    "(EPS 1e-12, 001/002) or voicefixer2021 (EPS 1e-8, 003/004)")

    @property
    def backend_version(self) -> str:
        if self.backend == "urgent2025":
            return (f"urgent2025_challenge evaluation_metrics lsd_metric@daf1730 (scaled output, ln, "
                    f"n_fft 32 ms hop 16 ms, eps 1e-8) at the files' own rate; {pkg_version('librosa')}")
        f = FORMS[self.backend]
        return (f"{f.source} lsd EPS={f.eps:g} {'E^2+EPS' if f.eps_after_square else '(E+EPS)^2'}; "
                f"{STFT_DESC}; {pkg_version('librosa')}; {resampler_version(self.info.rate)}")

    def score(self, items: list[MetricItem]) -> list[ItemScore]:
        if self.backend == "urgent2025":
            return score_each(self, items, lambda it: _urgent(self, it))
        return score_each(self, items, lambda it: {"LSD": lsd(*pair(self, it, 0.05), self.backend)})
