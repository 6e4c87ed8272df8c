"""SiSPNR: scale-invariant spectrogram-to-noise ratio (003 App. C.4 eq. 30), as VoiceFixer's code
computes it (haoheliu/voicefixer_main `evaluation_proc/metrics.py` `sispec` with
`evaluation_proc/utils.py` `energy_unify`, `pow_p_norm`, `to_log`, commit 0c206f7):

    S_target = <S_hat, S> S / (|S|^2 + 1e-8),  E = S_hat - S_target,
    SiSPNR = 10 log10( |S_target|^2 / (|E|^2 + 1e-8) + 1e-8 )   (sums over all bins)

Backends:
- `voicefixer2021` (default; 003's reported `sispec`): S, S_hat are *log* spectrograms,
  log10(max(|STFT|, 1e-8)) of `metrics._spectral`.
- `voicefixer2021_linear` (the same file's `non_log_sispec`): on linear magnitudes |STFT|. On
  low-passed speech it climbs far above 003's flat Unprocessed SR values; not what 003 reports.
The paper's text mentions a mean normalisation that the code does not perform; we follow the code.
The 2022 commit only changed the ratio's eps to 1e-12 (irrelevant at these magnitudes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from metrics._common import ItemError, pair, pkg_version, resampler_version, score_each
from metrics._spectral import STFT_DESC, magnitude
from metrics.base import METRICS, ItemScore, Metric, MetricInfo, MetricItem

EPS = 1e-8        # utils.EPS (energy_unify) and metrics.EPS (the ratio) at 0c206f7
LOG_FLOOR = 1e-8  # utils.to_log: log10(clip(x, min=1e-8))


def sispec(est: np.ndarray, ref: np.ndarray) -> float:
    """VoiceFixer's `sispec` on two spectrograms (any representation) of equal shape."""
    t_energy = float(np.sum(ref * ref))
    target = np.sum(est * ref) * ref / (t_energy + EPS)
    noise = est - target
    return float(10 * np.log10(np.sum(target ** 2) / (np.sum(noise ** 2) + EPS) + EPS))


def to_log(mag: np.ndarray) -> np.ndarray:
    return np.log10(np.maximum(mag, LOG_FLOOR))


@dataclass(frozen=True)
class Representation:
    transform: Callable[[np.ndarray], np.ndarray]   # magnitude spectrogram -> what sispec compares
    source: str
    silent_reference_defined: bool  # log spectra of silence are the floor, -8: still a number


REPRESENTATIONS = {
    "voicefixer2021": Representation(to_log, "sispec(to_log(|S|)) voicefixer_main@0c206f7", True),
    "voicefixer2021_linear": Representation(np.asarray, "non_log_sispec(|S|) voicefixer_main@0c206f7",
                                            False),
}


def sispnr(est: np.ndarray, ref: np.ndarray, backend: str = "voicefixer2021") -> float:
    rep = REPRESENTATIONS[backend]
    e, t = magnitude(est), magnitude(ref)
    if not rep.silent_reference_defined and not np.any(t):
        raise ItemError("reference is silent: linear SiSPNR is undefined")
    return sispec(rep.transform(e), rep.transform(t))


@METRICS.register
class SiSPNR(Metric):
    info = MetricInfo(
        name="sispnr", rate=44100, needs_reference=True, needs_transcript=False,
        higher_is_better=True, columns=("SiSPNR",), backends=tuple(REPRESENTATIONS),
        paper_backend="voicefixer2021",
        description="scale-invariant spectrogram-to-noise ratio, dB, VoiceFixer's sispec on log "
                    "spectra (voicefixer2021) or linear magnitudes (voicefixer2021_linear)")

    @property
    def backend_version(self) -> str:
        return (f"{REPRESENTATIONS[self.backend].source} EPS=1e-8; {STFT_DESC}; "
                f"{pkg_version('librosa')}; {resampler_version(self.info.rate)}")

    def score(self, items: list[MetricItem]) -> list[ItemScore]:
        return score_each(self, items,
                          lambda it: {"SiSPNR": sispnr(*pair(self, it, 0.05), backend=self.backend)})
