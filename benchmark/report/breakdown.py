"""Per-distortion bins from manifest parameters: SNR, bandwidth (low-pass cutoff), clipping and
reverb, plus the manifest subset. The builders record every parameter drawn; this module finds
them by name anywhere in `params` (nested dicts are flattened with dots)."""

from __future__ import annotations

import re
from typing import Any

SNR_BINS = ((-1e9, 0, "< 0 dB"), (0, 5, "0–5 dB"), (5, 10, "5–10 dB"), (10, 15, "10–15 dB"),
            (15, 1e9, "≥ 15 dB"))
BW_BINS = ((0, 2, "≤ 2 kHz"), (2, 4, "2–4 kHz"), (4, 8, "4–8 kHz"), (8, 16, "8–16 kHz"),
           (16, 1e9, "≥ 16 kHz"))
CLIP_BINS = ((0, 0.25, "η < 0.25"), (0.25, 0.5, "0.25 ≤ η < 0.5"), (0.5, 1e9, "η ≥ 0.5"))

FACTORS = ("subset", "SNR", "bandwidth", "clipping", "reverb")


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in (d or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _bin(x: float, bins) -> str:
    for lo, hi, label in bins:
        if lo <= x < hi:
            return label
    return bins[-1][2]


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _find(flat: dict[str, Any], pattern: str, exclude: str = r"$^") -> tuple[str, Any] | None:
    for k, v in flat.items():
        leaf = k.lower()
        if re.search(pattern, leaf) and not re.search(exclude, leaf):
            return k, v
    return None


def factors(manifest: dict[str, Any]) -> dict[str, str]:
    """Factor -> bin label for one item (factors the item's parameters do not mention are absent)."""
    out: dict[str, str] = {}
    if manifest.get("subset"):
        out["subset"] = str(manifest["subset"])
    flat = flatten(manifest.get("params") or {})
    hit = _find(flat, r"snr")
    if hit:
        v = _num(hit[1])
        out["SNR"] = "no noise" if v is None else _bin(v, SNR_BINS)
    hit = _find(flat, r"cutoff|bandwidth|lowpass|low_pass", exclude=r"order|type|ripple|filter|noise")
    if hit:
        v = _num(hit[1])
        if v is None:
            out["bandwidth"] = "full band"
        else:
            khz = v / 1000 if v > 100 else v
            out["bandwidth"] = _bin(khz, BW_BINS)
    hit = _find(flat, r"clip", exclude=r"applied|enabled")
    if hit:
        v = _num(hit[1])
        out["clipping"] = "no clipping" if v is None or v >= 1 else _bin(v, CLIP_BINS)
    hit = _find(flat, r"rir|reverb", exclude=r"rt60|scale|gain")
    if hit:
        present = hit[1] not in (None, "", False, 0, "none")
        out["reverb"] = "reverb" if present else "no reverb"
    return out


def bin_order(factor: str, labels: set[str]) -> list[str]:
    table = {"SNR": SNR_BINS, "bandwidth": BW_BINS, "clipping": CLIP_BINS}.get(factor)
    order = [b[2] for b in table] if table else []
    first = {"SNR": ["no noise"], "bandwidth": [], "clipping": ["no clipping"],
             "reverb": ["no reverb", "reverb"]}.get(factor, [])
    last = ["full band"] if factor == "bandwidth" else []
    known = first + order + last
    return [x for x in known if x in labels] + sorted(labels - set(known))
