"""Media for the listening page: 16-bit FLAC copies of the audio and log-magnitude spectrogram PNGs
on one frequency axis (0 to 22.05 kHz, whatever the file's rate) and one colour scale per row.

Spectrograms use the same analysis in seconds at every rate (46.4 ms Hann window, the 2048-point
window of 44.1 kHz audio), so a 16 kHz file and a 44.1 kHz file of the same speech look alike
below 8 kHz; the band above a file's Nyquist frequency is drawn in a neutral grey (no data).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.core.audio import read_audio, write_audio
from benchmark.core.files import atomic_write

FMAX = 22050.0                 # shared frequency axis top (Hz): Nyquist of 44.1 kHz
WINDOW_S = 2048 / 44100        # analysis window in seconds
HEIGHT = 128                   # frequency rows of every PNG (linear, 0..FMAX)
WIDTH = 288                    # time columns of every PNG
DYNAMIC_RANGE_DB = 80.0        # colour scale: [row max - 80 dB, row max]
CMAP = "magma"
NO_DATA_RGB = (0.55, 0.55, 0.55)


@dataclass
class Spec:
    """Log power-spectral-density image (HEIGHT x WIDTH, row 0 = FMAX), NaN above the file's Nyquist frequency."""
    db: np.ndarray
    rate: int
    seconds: float

    @property
    def peak(self) -> float:
        finite = self.db[np.isfinite(self.db)]
        return float(finite.max()) if finite.size else -120.0


def spectrogram(x: np.ndarray, rate: int, width: int = WIDTH, height: int = HEIGHT) -> Spec:
    """Log-power spectrogram resampled onto the shared (height x width) grid."""
    win = max(16, int(round(WINDOW_S * rate)))
    x = np.asarray(x, dtype=np.float64)
    if x.size < win:
        x = np.pad(x, (0, win - x.size))
    # `width` frames evenly spaced over the signal (hop may exceed the window for long files).
    starts = np.linspace(0, x.size - win, width).round().astype(np.int64)
    frames = x[starts[:, None] + np.arange(win)[None, :]] * np.hanning(win)[None, :]
    # Power spectral density (per Hz): the same speech gives the same values at every rate.
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2 / (rate * (np.hanning(win) ** 2).sum())
    bin_hz = rate / win
    # Output row r spans [r, r+1) * FMAX/height; average the FFT bins that fall into it.
    edges = np.arange(height + 1) * (FMAX / height)
    img = np.full((height, width), np.nan)
    nyq = rate / 2
    for r in range(height):
        lo, hi = edges[r], edges[r + 1]
        if lo >= nyq:
            break
        a = int(math.floor(lo / bin_hz))
        b = max(a + 1, int(math.ceil(min(hi, nyq) / bin_hz)))
        img[r] = power[:, a:min(b, power.shape[1])].mean(axis=1)
    db = 10 * np.log10(np.maximum(img, 1e-12))
    db[np.isnan(img)] = np.nan
    return Spec(db[::-1].copy(), rate, x.size / rate)


def render_png(spec: Spec, vmax: float, path: Path) -> Path:
    """Colour-map `spec` onto [vmax - DYNAMIC_RANGE_DB, vmax] and write it as a PNG."""
    import matplotlib
    from matplotlib import image as mimage

    cmap = matplotlib.colormaps[CMAP].with_extremes(bad=NO_DATA_RGB)
    norm = np.clip((spec.db - (vmax - DYNAMIC_RANGE_DB)) / DYNAMIC_RANGE_DB, 0.0, 1.0)
    rgba = cmap(np.ma.masked_invalid(norm))
    path.parent.mkdir(parents=True, exist_ok=True)
    mimage.imsave(path, rgba[..., :3])
    return path


def scale_labels(vmax: float) -> tuple[str, str, str]:
    """The legend's tick labels (dB/Hz): its bottom, middle and top. They are all that differs
    between two rows' legends (the ticks always sit at the bar's two ends and middle)."""
    return tuple(f"{v:.0f}" for v in (vmax - DYNAMIC_RANGE_DB, vmax - DYNAMIC_RANGE_DB / 2, vmax))


def render_scale(vmax: float, path: Path) -> Path:
    """The legend of one row: the frequency axis (kHz) and the row's colour bar (dB/Hz)."""
    import matplotlib
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1.5, 2.0), dpi=80)
    fax = fig.add_axes((0.3, 0.1, 0.02, 0.8))           # frequency axis only (no content)
    fax.set_ylim(0, FMAX / 1000)
    fax.set_yticks([0, 4, 8, 12, 16, 22.05], ["0", "4", "8", "12", "16", "22.05"], fontsize=7)
    fax.set_xticks([])
    fax.set_title("kHz", fontsize=7)
    for side in ("top", "right", "bottom"):
        fax.spines[side].set_visible(False)
    cax = fig.add_axes((0.55, 0.1, 0.12, 0.8))
    cax.imshow(np.linspace(1, 0, 64)[:, None], aspect="auto", cmap=matplotlib.colormaps[CMAP],
               extent=(0, 1, vmax - DYNAMIC_RANGE_DB, vmax))
    cax.set_xticks([])
    cax.yaxis.tick_right()
    ticks = [vmax - DYNAMIC_RANGE_DB, vmax - DYNAMIC_RANGE_DB / 2, vmax]
    cax.set_yticks(ticks, list(scale_labels(vmax)), fontsize=7)
    cax.set_title("dB/Hz", fontsize=7)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, buf.getvalue())      # rows rendered in parallel may share a legend


def write_flac16(src: Path, dst: Path) -> tuple[np.ndarray, int]:
    """Copy an audio file as 16-bit FLAC at its own rate (peaks above full scale are clipped)."""
    x, rate = read_audio(src)
    write_audio(dst, np.clip(x, -1.0, 1.0), rate, subtype="PCM_16")
    return x, rate
