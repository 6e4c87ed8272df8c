"""The plugin contract, checked where a plugin's result enters the harness: a system returns float
audio of its input's length (± OUTPUT_LENGTH_TOLERANCE_S), a metric a finite float per column.

A result that breaks the contract is the item's error, naming the plugin and the item; it is
never cast, padded beyond the tolerance or stored as an empty value. Integer PCM (e.g. int16) is
refused rather than scaled by 2**-15: the harness cannot know the scale a plugin meant.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

# How far a system's output length may differ from its input's (at the system's rate) before it is
# an item error: STFT and codec systems return up to a frame more or less (DAC hop 512, one
# 2048-sample STFT window = 46 ms at 44.1 kHz). Within it the runner cuts or zero-pads the output
# to the input's length.
OUTPUT_LENGTH_TOLERANCE_S = 0.05


class ContractError(ValueError):
    """A plugin's result that breaks the contract; its text is the item's error."""


def length_tolerance(rate: int) -> int:
    """Samples of OUTPUT_LENGTH_TOLERANCE_S at `rate` (at least one)."""
    return max(1, round(OUTPUT_LENGTH_TOLERANCE_S * rate))


def check_output(y: object, n_input: int, rate: int, system: str, item: str) -> np.ndarray:
    """A system's output for one item as a float32 1-D array; ContractError naming the system and
    the item when it is not float audio of the input's length (± the tolerance) or not finite."""
    where = f"system '{system}' returned for item '{item}'"
    if not isinstance(y, np.ndarray):
        try:                        # a torch tensor or list converts; None and strings do not
            arr = np.asarray(y)
        except Exception:
            arr = None
        if arr is None or arr.dtype == object or arr.dtype.kind in "USb":
            raise ContractError(f"{where} a {type(y).__name__}, expected a 1-D float waveform "
                                "(numpy array)")
        y = arr
    if y.dtype.kind in "iu":
        raise ContractError(f"{where} {y.dtype} samples; the contract is float audio in [-1, 1] "
                            f"(integer PCM is refused, not rescaled: divide int16 by 32768)")
    if y.dtype.kind != "f":
        raise ContractError(f"{where} {y.dtype} samples, expected float audio")
    if y.ndim != 1:
        raise ContractError(f"{where} an array of shape {y.shape}, expected a 1-D mono waveform")
    tol = length_tolerance(rate)
    if abs(y.size - n_input) > tol:
        raise ContractError(f"{where} {y.size} samples at {rate} Hz for an input of {n_input} "
                            f"(allowed: ± {tol}, {OUTPUT_LENGTH_TOLERANCE_S:g} s)")
    finite = np.isfinite(y)
    if not finite.all():
        raise ContractError(f"{where} {y.size - int(np.count_nonzero(finite))} NaN/Inf samples of "
                            f"{y.size}, expected finite values")
    return y.astype(np.float32, copy=False)


def check_values(values: object, metric: str, item: str) -> dict[str, float]:
    """A metric's values for one item as {column: float}; ContractError naming the metric, the item
    and the first bad column when a value is not a finite real number (None, a string, NaN, inf)."""
    where = f"metric '{metric}' returned for item '{item}'"
    if not isinstance(values, dict):
        raise ContractError(f"{where} values of type {type(values).__name__}, expected a dict "
                            "{column: float}")
    out: dict[str, float] = {}
    for col, v in values.items():
        if isinstance(v, bool) or not isinstance(v, numbers.Real | np.number) \
                or isinstance(v, complex | np.complexfloating):
            raise ContractError(f"{where} {col}={v!r} ({type(v).__name__}), expected a finite float")
        f = float(v)
        if not math.isfinite(f):
            raise ContractError(f"{where} {col}={f!r}, expected a finite float")
        out[str(col)] = f
    return out
