"""SSIM of magnitude spectrograms (003 App. C.4 eq. 28), as VoiceFixer's `ssr_eval` computes it.

ssr_eval calls scikit-image's `structural_similarity(est, target, win_size=7)` on the 44.1 kHz
linear-magnitude spectrograms of `metrics._spectral` (frames x 1025 bins) without `data_range`,
which the scikit-image of the time took from the float dtype range [-1, 1]: data_range = 2.
We reimplement that computation (scikit-image is not a dependency): 7x7 uniform windows
(scipy.ndimage.uniform_filter, reflect borders), K1 = 0.01, K2 = 0.03, C_i = (K_i * 2)^2,
sample (N-1) covariances, then the mean of the SSIM map after cropping 3 bins/frames at each
border. Computed in float64.
"""

from __future__ import annotations

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


@METRICS.register
class SSIM(Metric):
    info = MetricInfo(
        name="ssim", rate=44100, needs_reference=True, needs_transcript=False,
        higher_is_better=True, columns=("SSIM",), backends=("voicefixer",),
        paper_backend="voicefixer",
        description="structural similarity of magnitude spectrograms (VoiceFixer ssr_eval)")

    @property
    def backend_version(self) -> str:
        return (f"voicefixer_main@0c206f7 ssim win=7 data_range=2; {STFT_DESC}; {pkg_version('scipy')}; "
                f"{resampler_version(self.info.rate)}")

    def score(self, items: list[MetricItem]) -> list[ItemScore]:
        def one(it: MetricItem) -> dict[str, float]:
            x, r = pair(self, it, 0.1)
            return {"SSIM": ssim_image(magnitude(x), magnitude(r))}
        return score_each(self, items, one)
