"""The seeded distortion pipeline (VoiceFixer Algorithm 1, 003 App. C.2), shared by the test-set
builders and the MaskSR trainer's on-the-fly data: `sample_params` draws, `render` applies.

Conventions, from VoiceFixer's reference code where it says how (haoheliu/voicefixer_main, files
and commits cited at each function), decided here where it is silent:
- The clean speech is peak-normalised to 1 first.
- Reverb: the RIR is convolved; a result whose peak exceeds 0.99 is renormalised to a peak of 0.98
  and cut to the input length (voicefixer_main `MagicalEffects.reverb_rir`,
  dataloaders/augmentation/magical_effects.py L158-165 @ 0c206f7: no shift). That is alignment
  "none", what the test-set builders do by default. Alignment "direct_path" (an option of the
  builders, and what `render` does when not told otherwise, for the trainer) first shifts the
  result by the RIR's direct-path delay so that the reverberant input stays time-aligned with the
  dry target. The delay is geometric when the room is known (source-microphone distance / c x rate
  plus the simulator's fractional-delay offset, `testsets.rir.RoomParams.direct_delay`); only for
  an RIR of unknown geometry (the trainer's RIR files) is it the index of the RIR's largest
  magnitude.
- Clipping: x is peak-normalised to 1, then `clip(x, -eta, eta)`.
- Low bandwidth: a zero-phase (forward-backward, `sosfiltfilt`) low-pass of the drawn type,
  order and cutoff (cheby1/ellip ripple 0.1 dB, ellip stop band 60 dB), then resampling to
  2*cutoff and back with `scipy.signal.resample_poly`: exactly voicefixer_main's
  `tools/dsp/lowpass.py` (`lowpass_filter`, `stft_hard_lowpass`, commit b6d4425). This is the
  one place the harness does not use its soxr resampler: the recipe's resampler decides how
  much energy is left in the stop band, and that changes the published LSD. A cutoff at or above
  the Nyquist frequency leaves the signal as it is.
- Noise, two SNR definitions, both measured and recorded for every item:
  `algorithm1` (003 App. C.2 and voicefixer_main `add_noise_and_scale_with_HQ`,
  dataloaders/augmentation/base.py, commit b6d4425): the noise is peak-normalised, scaled so that
  mean|n| = mean|x| (skipped when mean|x| <= 0.02, as there) and divided by 10^(SNR/20);
  `active`: power ratio over the active-speech 10 ms frames (within `ACTIVE_DB` of the loudest).
  VoiceFixer's recipes mix by `algorithm1` (the default); MaskSR2's sets by `active`.
- Levels: the degraded input and the target are divided by their common peak, then both
  multiplied by the gain q, so max(peak(degraded), peak(target)) = q and their ratio is what the
  distortions made it. voicefixer_main `add_noise_and_scale_with_HQ` (dataloaders/augmentation/
  base.py L104 @ 0c206f7) takes the common peak over more signals: (noisy, noise, front, HQ),
  i.e. also the scaled noise and the speech before the noise is added. Here it is over (degraded,
  target) only: where the noise or the pre-noise speech peaks higher than both, VoiceFixer's
  files are quieter by that ratio (the ratio between input and target is the same).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import signal

FILTER_TYPES = ("butter", "cheby1", "bessel", "ellip")
STAGES = ("reverb", "clip", "lowpass", "noise")
TRAIN_ORDER = ("reverb", "clip", "lowpass", "noise")        # Algorithm 1 (003 App. C.2)
TEST_ORDER = ("reverb", "noise", "clip", "lowpass")         # ALL-GSR / HiFi-Res (004 Sec. 4.2.1)
CHEBY_RIPPLE_DB = 0.1       # pass-band ripple of cheby1/ellip designs (paper silent)
ELLIP_STOP_DB = 60.0        # stop-band attenuation of ellip designs (paper silent)
ACTIVE_DB = 40.0            # active-speech frames: within 40 dB of the loudest 10 ms frame
SNR_DEFINITIONS = ("algorithm1", "active")
REVERB_PEAK_LIMIT, REVERB_PEAK_TO = 0.99, 0.98    # voicefixer_main MagicalEffects.reverb_rir
ALG1_MIN_LEVEL = 0.02       # voicefixer_main: mean|x| at or below this leaves the noise at peak 1
LOWPASS_RESAMPLER = "scipy.signal.resample_poly"  # voicefixer_main tools/dsp/lowpass.py
# How the reverberant signal is aligned with the dry target: "none" as voicefixer_main's
# reverb_rir (magical_effects.py L158-165 @ 0c206f7), or "direct_path" (shifted by the direct path).
REVERB_ALIGNMENTS = ("none", "direct_path")


def recipe_constants() -> dict[str, Any]:
    """The constants the rendered bytes depend on (written to every set's info.json)."""
    return {"cheby_ripple_db": CHEBY_RIPPLE_DB, "ellip_stop_db": ELLIP_STOP_DB,
            "active_db": ACTIVE_DB, "reverb_peak_limit": REVERB_PEAK_LIMIT,
            "reverb_peak_to": REVERB_PEAK_TO, "algorithm1_min_level": ALG1_MIN_LEVEL,
            "lowpass_resampler": LOWPASS_RESAMPLER, "lowpass_filtering": "scipy.signal.sosfiltfilt"}


@dataclass(frozen=True)
class DistortionConfig:
    """Probabilities and ranges. Defaults: Algorithm 1 as published (003 App. C.2); p4 and p5
    are not given in the paper: noise is always added (p5 = 1; SNRs up to 40 dB cover the nearly
    clean case) and the noise is low-passed with the speech half the time (p4 = 0.5)."""
    p_reverb: float = 0.25                                  # p1
    p_clip: float = 0.25                                    # p2
    p_lowpass: float = 0.5                                  # p3
    p_noise_lowpass: float = 0.5                            # p4 (paper silent)
    p_noise: float = 1.0                                    # p5 (paper silent)
    clip_range: tuple[float, float] = (0.06, 0.9)           # eta ~ U
    cutoff_range: tuple[float, float] = (750.0, 22050.0)    # Hz ~ U, rounded to 1 Hz
    order_range: tuple[int, int] = (2, 10)                  # filter order ~ U{lo..hi}
    filter_types: tuple[str, ...] = FILTER_TYPES
    snr_range: tuple[float, float] = (-5.0, 40.0)           # dB ~ U
    gain_range: tuple[float, float] = (0.3, 1.0)            # q ~ U
    order: tuple[str, ...] = TRAIN_ORDER
    snr_definition: str = "algorithm1"                      # how the noise is scaled (see above)

    def __post_init__(self) -> None:
        if sorted(self.order) != sorted(STAGES):
            raise ValueError(f"order must be a permutation of {STAGES}, got {self.order}")
        if self.snr_definition not in SNR_DEFINITIONS:
            raise ValueError(f"snr_definition must be one of {SNR_DEFINITIONS}, "
                             f"got {self.snr_definition!r}")
        bad = set(self.filter_types) - set(FILTER_TYPES)
        if bad:
            raise ValueError(f"unknown filter types {sorted(bad)}; known: {FILTER_TYPES}")

    def to_dict(self) -> dict[str, Any]:
        """Every probability and range (info.json records them: they shape the bytes)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


@dataclass(frozen=True)
class LowpassParams:
    filter_type: str
    cutoff: float       # Hz
    order: int


@dataclass(frozen=True)
class DistortionParams:
    """Every parameter drawn for one item; `None` / False: the stage is off."""
    order: tuple[str, ...] = TRAIN_ORDER
    reverb: bool = False
    clip_eta: float | None = None
    lowpass: LowpassParams | None = None
    noise_lowpass: bool = False          # the same low-pass on the noise (only when noise follows)
    snr_db: float | None = None          # None: no noise
    gain: float = 1.0
    snr_definition: str = "algorithm1"   # the definition the noise is scaled by

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["order"] = list(self.order)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DistortionParams:
        lp = d.get("lowpass")
        return cls(order=tuple(d.get("order", TRAIN_ORDER)), reverb=bool(d.get("reverb", False)),
                   clip_eta=d.get("clip_eta"), lowpass=LowpassParams(**lp) if lp else None,
                   noise_lowpass=bool(d.get("noise_lowpass", False)), snr_db=d.get("snr_db"),
                   gain=float(d.get("gain", 1.0)),
                   snr_definition=str(d.get("snr_definition", "algorithm1")))


@dataclass
class Rendered:
    degraded: np.ndarray
    target: np.ndarray
    components: dict[str, np.ndarray] = field(default_factory=dict)  # pre-gain intermediates
    measured: dict[str, Any] = field(default_factory=dict)   # SNRs by both definitions, levels


def sample_params(rng: np.random.Generator, config: DistortionConfig) -> DistortionParams:
    """Draw one item's parameters. Every value is drawn whether or not its stage is on, in a
    fixed order, so changing one probability never shifts the other draws."""
    coins = rng.random(5)
    eta = float(rng.uniform(*config.clip_range))
    ftype = config.filter_types[int(rng.integers(len(config.filter_types)))]
    cutoff = float(round(rng.uniform(*config.cutoff_range)))
    forder = int(rng.integers(config.order_range[0], config.order_range[1] + 1))
    snr = float(rng.uniform(*config.snr_range))
    gain = float(rng.uniform(*config.gain_range))
    lowpass_on = coins[2] < config.p_lowpass
    noise_on = coins[4] < config.p_noise
    noise_after_lp = config.order.index("noise") > config.order.index("lowpass")
    return DistortionParams(
        order=tuple(config.order),
        reverb=bool(coins[0] < config.p_reverb),
        clip_eta=eta if coins[1] < config.p_clip else None,
        lowpass=LowpassParams(ftype, cutoff, forder) if lowpass_on else None,
        noise_lowpass=bool(lowpass_on and noise_on and noise_after_lp
                           and coins[3] < config.p_noise_lowpass),
        snr_db=snr if noise_on else None,
        gain=gain,
        snr_definition=config.snr_definition,
    )


# --- stages -----------------------------------------------------------------------------------

def design_lowpass(filter_type: str, order: int, cutoff: float, rate: int,
                   bessel_norm: str = "mag") -> np.ndarray:
    """Second-order sections of a digital low-pass of the given type, order and cutoff (Hz); the
    Bessel filter normalised by `bessel_norm` (the test sets: "mag"; voicefixer_main's training
    code leaves scipy's default "phase")."""
    wn = cutoff / (rate / 2)
    if filter_type == "butter":
        return signal.butter(order, wn, output="sos")
    if filter_type == "cheby1":
        return signal.cheby1(order, CHEBY_RIPPLE_DB, wn, output="sos")
    if filter_type == "bessel":
        return signal.bessel(order, wn, output="sos", norm=bessel_norm)
    if filter_type == "ellip":
        return signal.ellip(order, CHEBY_RIPPLE_DB, ELLIP_STOP_DB, wn, output="sos")
    raise ValueError(f"unknown filter type '{filter_type}'; known: {FILTER_TYPES}")


def _fit_length(x: np.ndarray, n: int) -> np.ndarray:
    if len(x) >= n:
        return x[:n]
    return np.pad(x, (0, n - len(x)))


def recipe_resample_down_up(x: np.ndarray, rate: int, low: int) -> np.ndarray:
    """Resample to `low` and back with `scipy.signal.resample_poly`, as voicefixer_main's
    `stft_hard_lowpass` (tools/dsp/lowpass.py, commit b6d4425015964c815418026b9b1c8a2b49f5feb1)
    does; same length as `x` (zero-padded or cut, as its `align_length`)."""
    y = signal.resample_poly(np.asarray(x, dtype=np.float64), low, rate)
    y = signal.resample_poly(y, rate, low)
    return _fit_length(y, len(x)).astype(np.float32)


def apply_lowpass(x: np.ndarray, rate: int, lp: LowpassParams) -> np.ndarray:
    """Filter, then resample to 2*cutoff and back (Algorithm 1); same length as `x`."""
    if lp.cutoff >= rate / 2:
        return x
    sos = design_lowpass(lp.filter_type, lp.order, lp.cutoff, rate)
    y = signal.sosfiltfilt(sos, x)
    return recipe_resample_down_up(y, rate, int(round(2 * lp.cutoff)))


def argmax_delay(rir: np.ndarray) -> int:
    """The index of the RIR's largest magnitude: the direct path only when it is the strongest
    arrival (not with a cardioid microphone facing away from the source)."""
    return int(np.argmax(np.abs(rir)))


def reverb_shift(rir: np.ndarray, delay: float | None, alignment: str) -> int:
    """Samples the reverberant signal is advanced by: 0 for alignment "none"; the direct-path
    `delay` (rounded; None: `argmax_delay`) for "direct_path"."""
    if alignment not in REVERB_ALIGNMENTS:
        raise ValueError(f"reverb alignment must be one of {REVERB_ALIGNMENTS}, got {alignment!r}")
    if alignment == "none":
        return 0
    return argmax_delay(rir) if delay is None else int(round(delay))


def apply_reverb(x: np.ndarray, rir: np.ndarray, delay: float | None = None,
                 alignment: str = "direct_path") -> np.ndarray:
    """Convolve; renormalise a peak above 0.99 to 0.98 and cut to the input's length
    (voicefixer_main `reverb_rir`, dataloaders/augmentation/magical_effects.py L158-165 @ 0c206f7,
    alignment "none"); with alignment "direct_path", first advance by the direct-path `delay` in
    samples (rounded; None: `argmax_delay`) so input and target align."""
    shift = reverb_shift(rir, delay, alignment)
    y = signal.fftconvolve(x.astype(np.float64), rir.astype(np.float64))
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak > REVERB_PEAK_LIMIT:
        y = y / peak * REVERB_PEAK_TO
    return _fit_length(y[max(0, shift):], len(x)).astype(np.float32)


def peak_normalise(x: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return (x / peak).astype(np.float32) if peak > 0 else x.astype(np.float32)


def active_mask(speech: np.ndarray, rate: int, active_db: float = ACTIVE_DB) -> np.ndarray:
    """Boolean per-sample mask of the active-speech frames (10 ms frames within `active_db`
    of the loudest one)."""
    hop = max(1, rate // 100)
    n_frames = int(np.ceil(len(speech) / hop))
    padded = np.pad(speech.astype(np.float64), (0, n_frames * hop - len(speech)))
    power = np.mean(padded.reshape(n_frames, hop) ** 2, axis=1)
    frames = power >= power.max() * 10 ** (-active_db / 10) if power.max() > 0 else power >= 0
    return np.repeat(frames, hop)[: len(speech)]


def active_snr(speech: np.ndarray, noise: np.ndarray, rate: int) -> float:
    """SNR in dB over the active-speech samples (the definition the pipeline mixes at)."""
    m = active_mask(speech, rate)
    ps = float(np.mean(speech[m].astype(np.float64) ** 2))
    pn = float(np.mean(noise[m].astype(np.float64) ** 2))
    return 10 * np.log10(ps / pn) if pn > 0 else float("inf")


def algorithm1_snr(speech: np.ndarray, noise: np.ndarray) -> float:
    """SNR in dB as Algorithm 1 sets it: 20 log10(mean|x| / mean|n|)."""
    pn = float(np.mean(np.abs(noise.astype(np.float64))))
    ps = float(np.mean(np.abs(speech.astype(np.float64))))
    return 20 * np.log10(ps / pn) if pn > 0 else float("inf")


def scale_noise_algorithm1(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """voicefixer_main `add_noise_and_scale_with_HQ` (dataloaders/augmentation/base.py, commit
    b6d4425015964c815418026b9b1c8a2b49f5feb1): peak-normalise the noise, match mean|n| to
    mean|x| when mean|x| > 0.02, divide by 10^(SNR/20)."""
    n = noise.astype(np.float64)
    peak = float(np.max(np.abs(n))) if n.size else 0.0
    if peak <= 0:
        raise ValueError("the noise segment is silent; cannot set an SNR")
    n = n / peak
    level = float(np.mean(np.abs(speech.astype(np.float64))))
    if level > ALG1_MIN_LEVEL:
        n = n / (float(np.mean(np.abs(n))) / level)
    return (n / 10 ** (snr_db / 20)).astype(np.float32)


def scale_noise(speech: np.ndarray, noise: np.ndarray, rate: int, snr_db: float) -> np.ndarray:
    """Scale the noise to `snr_db` over the active speech (the `active` definition)."""
    m = active_mask(speech, rate)
    ps = float(np.mean(speech[m].astype(np.float64) ** 2))
    pn = float(np.mean(noise[m].astype(np.float64) ** 2))
    if pn <= 0:
        raise ValueError("the noise segment is silent over the active speech; cannot set an SNR")
    return (noise.astype(np.float64) * np.sqrt(ps / (pn * 10 ** (snr_db / 10)))).astype(np.float32)


def render(clean: np.ndarray, rate: int, params: DistortionParams, noise: np.ndarray | None = None,
           rir: np.ndarray | None = None, rir_delay: float | None = None,
           reverb_alignment: str = "direct_path") -> Rendered:
    """Apply `params` to `clean` (mono float at `rate`). `noise` must be at least as long as
    `clean` (only its first len(clean) samples are used) and `rir` at `rate`, when their
    stages are on; `rir_delay` is its direct-path delay in samples (None: `argmax_delay`), used
    only with `reverb_alignment` "direct_path" (see `apply_reverb`).
    Returns the degraded input, the target, the intermediate components (`reverberant`,
    `speech`/`noise` as mixed, `clipped`, `pre_lowpass`, `lowpassed`, all before the level unification and the
    gain) and `measured`: the SNR by both definitions, the common-peak scale and both peaks."""
    s = peak_normalise(np.asarray(clean, dtype=np.float32))
    x = s.copy()
    comps: dict[str, np.ndarray] = {}
    measured: dict[str, Any] = {}
    lp = params.lowpass
    for stage in params.order:
        if stage == "reverb" and params.reverb:
            if rir is None:
                raise ValueError("params ask for reverb but no RIR was given")
            rir = np.asarray(rir, dtype=np.float32)
            measured["reverb_shift"] = reverb_shift(rir, rir_delay, reverb_alignment)
            x = apply_reverb(x, rir, rir_delay, reverb_alignment)
            comps["reverberant"] = x
        elif stage == "clip" and params.clip_eta is not None:
            x = np.clip(peak_normalise(x), -params.clip_eta, params.clip_eta)
            comps["clipped"] = x
        elif stage == "lowpass" and lp is not None:
            comps["pre_lowpass"] = x
            x = apply_lowpass(x, rate, lp)
            comps["lowpassed"] = x
        elif stage == "noise" and params.snr_db is not None:
            if noise is None or len(noise) < len(x):
                raise ValueError("params ask for noise but no noise segment as long as the speech "
                                 "was given")
            n = np.asarray(noise[: len(x)], dtype=np.float32)
            if params.noise_lowpass and lp is not None:
                n = apply_lowpass(n, rate, lp)
            if params.snr_definition == "active":
                n = scale_noise(x, n, rate, params.snr_db)
            else:
                n = scale_noise_algorithm1(x, n, params.snr_db)
            comps["speech"], comps["noise"] = x, n
            measured["snr_algorithm1_db"] = round(algorithm1_snr(x, n), 4)
            measured["snr_active_db"] = round(active_snr(x, n, rate), 4)
            x = (x + n).astype(np.float32)
    common = max(float(np.max(np.abs(x))), float(np.max(np.abs(s))))
    unify = 1.0 / common if common > 0 else 1.0
    g = params.gain * unify
    degraded, target = (x * g).astype(np.float32), (s * g).astype(np.float32)
    measured.update(unify_scale=round(unify, 6), peak_degraded=round(float(np.max(np.abs(degraded))), 6),
                    peak_target=round(float(np.max(np.abs(target))), 6))
    return Rendered(degraded=degraded, target=target, components=comps, measured=measured)
