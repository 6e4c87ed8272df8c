"""SSIM of magnitude spectrograms (003 App. C.4 eq. 28), as VoiceFixer's evaluation code computes it,
in the two forms in use:

- `voicefixer`: haoheliu/voicefixer_main `evaluation_proc/metrics.py` (0c206f7) and the PyPI
  `ssr_eval` up to 0.0.6 (`ssr_eval/metrics.py`, `AudioMetrics.ssim`) call scikit-image's
  `structural_similarity(est, target, win_size=7)` without `data_range`, which the scikit-image
  of the time took from the float dtype range [-1, 1]: data_range = 2.
- `ssr_eval007`: `ssr_eval` 0.0.7 (the version `lsd.py`'s 2022 form matches) passes
  `data_range = max(max(target), max(est)) - min(min(target), min(est))` of the two magnitude
  spectrograms. For speech magnitudes (peaks of tens) C1, C2 then grow with the spectrogram's
  peak and the value rises (0.949 against 0.786 on one measured pair; docs/comparing.md).

Both on the 44.1 kHz linear-magnitude spectrograms of `metrics._spectral` (frames x 1025 bins).
We reimplement scikit-image's computation (it is not a dependency): 7x7 uniform windows
(scipy.ndimage.uniform_filter, reflect borders), K1 = 0.01, K2 = 0.03, C_i = (K_i * data_range)^2,
sample (N-1) covariances, then the mean of the SSIM map after cropping 3 bins/frames at each
border. Computed in float64 (scikit-image computes float32 input in float32: ~1e-6 apart).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from metrics._common import ItemError, pair, pkg_version, resampler_version, score_each
from metrics._spectral import STFT_DESC, magnitude
from metrics.base import METRICS, ItemScore, Metric, MetricInfo, MetricItem

WIN = 7
K1, K2 = 0.01, 0.03
DATA_RANGE = 2.0


def ssim_image(x: np.ndarray, y: np.ndarray, win: int = WIN, data_range: float = DATA_RANGE) -> float:
    from scipy.ndimage import uniform_filter
    if min(x.shape) < win:
        raise ItemError(f"spectrogram {x.shape} is smaller than the {win}x{win} SSIM window")
    n = win * win
    cov_norm = n / (n - 1)
    ux, uy = uniform_filter(x, win), uniform_filter(y, win)
    uxx, uyy, uxy = uniform_filter(x * x, win), uniform_filter(y * y, win), uniform_filter(x * y, win)
    vx, vy, vxy = cov_norm * (uxx - ux * ux), cov_norm * (uyy - uy * uy), cov_norm * (uxy - ux * uy)
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))
    p = (win - 1) // 2
    return float(s[p:-p, p:-p].mean())


def spread(est: np.ndarray, ref: np.ndarray) -> float:
    """ssr_eval 0.0.7's data_range: from the smallest to the largest value of both spectrograms."""
    return float(max(ref.max(), est.max()) - min(ref.min(), est.min()))


@dataclass(frozen=True)
class SSIMForm:
    data_range: Callable[[np.ndarray, np.ndarray], float]
    source: str


FORMS = {
    "voicefixer": SSIMForm(lambda e, r: DATA_RANGE,
                           "voicefixer_main@0c206f7 / ssr_eval<=0.0.6 ssim win=7 data_range=2"),
    "ssr_eval007": SSIMForm(spread, "ssr_eval 0.0.7 ssim win=7 data_range=max-min of both spectrograms"),
}


@METRICS.register
class SSIM(Metric):
    info = MetricInfo(
        name="ssim", rate=44100, needs_reference=True, needs_transcript=False,
        higher_is_better=True, columns=("SSIM",), backends=tuple(FORMS),
        paper_backend="voicefixer",
        description="structural similarity of magnitude spectrograms: voicefixer (data_range 2, "
                    "voicefixer_main / ssr_eval<=0.0.6) or ssr_eval007 (data_range from the data)")

    @property
    def backend_version(self) -> str:
        return (f"{FORMS[self.backend].source}; {STFT_DESC}; {pkg_version('scipy')}; "
                f"{resampler_version(self.info.rate)}")

    def score(self, items: list[MetricItem]) -> list[ItemScore]:
        form = FORMS[self.backend]

        def one(it: MetricItem) -> dict[str, float]:
            x, r = pair(self, it, 0.1)
            e, t = magnitude(x), magnitude(r)
            return {"SSIM": ssim_image(e, t, data_range=form.data_range(e, t))}
        return score_each(self, items, one)
