"""Per-distortion bins from an item's typed conditions: SNR, bandwidth (low-pass cutoff), clipping
and reverb, plus the manifest subset. The builders write `conditions` (testsets.manifest
CONDITION_TYPES: snr_db, cutoff_hz, clip_level, reverb, rt60_s) into every manifest record; a
set built before that is read from its builder's parameter record by exact keys. No parameter
is guessed from its name (URGENT's get_breakdown.py reads typed keys the same way)."""

from __future__ import annotations

from typing import Any

SNR_BINS = ((-1e9, 0, "< 0 dB"), (0, 5, "0–5 dB"), (5, 10, "5–10 dB"), (10, 15, "10–15 dB"),
            (15, 1e9, "≥ 15 dB"))
BW_BINS = ((0, 2, "≤ 2 kHz"), (2, 4, "2–4 kHz"), (4, 8, "4–8 kHz"), (8, 16, "8–16 kHz"),
           (16, 1e9, "≥ 16 kHz"))
CLIP_BINS = ((0, 0.25, "η < 0.25"), (0.25, 0.5, "0.25 ≤ η < 0.5"), (0.5, 1e9, "η ≥ 0.5"))

FACTORS = ("subset", "SNR", "bandwidth", "clipping", "reverb")


def _bin(x: float, bins) -> str:
    for lo, hi, label in bins:
        if lo <= x < hi:
            return label
    return bins[-1][2]


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _earlier_builds(p: dict[str, Any]) -> dict[str, Any]:
    """Conditions of a manifest written before builders recorded them, from the exact keys of
    the builders' parameter records (testsets.distortions.DistortionParams under `distortion`;
    sr's `low_rate`, decli's `clip_eta`, dns2020's `snr_db`)."""
    d = p.get("distortion")
    if isinstance(d, dict):
        lp = d.get("lowpass") if isinstance(d.get("lowpass"), dict) else None
        room = p.get("room") if isinstance(p.get("room"), dict) else {}
        return {"snr_db": d.get("snr_db"), "cutoff_hz": lp.get("cutoff") if lp else None,
                "clip_level": d.get("clip_eta"), "reverb": bool(d.get("reverb")),
                "rt60_s": room.get("rt60")}
    out: dict[str, Any] = {}
    if _num(p.get("low_rate")) is not None:
        out["cutoff_hz"] = _num(p["low_rate"]) / 2
    if "clip_eta" in p:
        out["clip_level"] = p["clip_eta"]
    if "snr_db" in p:
        out["snr_db"] = p["snr_db"]
    return out


def conditions(manifest: dict[str, Any]) -> dict[str, Any]:
    """The item's typed conditions (key present: the factor applies; None: the stage is off)."""
    cond = manifest.get("conditions")
    if isinstance(cond, dict) and cond:
        return cond
    return _earlier_builds(manifest.get("params") or {})


def factors(manifest: dict[str, Any]) -> dict[str, str]:
    """Factor -> bin label for one item (factors its conditions do not mention are absent)."""
    out: dict[str, str] = {}
    if manifest.get("subset"):
        out["subset"] = str(manifest["subset"])
    cond = conditions(manifest)
    if "snr_db" in cond:
        v = _num(cond["snr_db"])
        out["SNR"] = "no noise" if v is None else _bin(v, SNR_BINS)
    if "cutoff_hz" in cond:
        v = _num(cond["cutoff_hz"])
        out["bandwidth"] = "full band" if v is None else _bin(v / 1000, BW_BINS)
    if "clip_level" in cond:
        v = _num(cond["clip_level"])
        out["clipping"] = "no clipping" if v is None or v >= 1 else _bin(v, CLIP_BINS)
    if "reverb" in cond:
        out["reverb"] = "reverb" if cond["reverb"] else "no reverb"
    return out


def bin_order(factor: str, labels: set[str]) -> list[str]:
    table = {"SNR": SNR_BINS, "bandwidth": BW_BINS, "clipping": CLIP_BINS}.get(factor)
    order = [b[2] for b in table] if table else []
    first = {"SNR": ["no noise"], "bandwidth": [], "clipping": ["no clipping"],
             "reverb": ["no reverb", "reverb"]}.get(factor, [])
    last = ["full band"] if factor == "bandwidth" else []
    known = first + order + last
    return [x for x in known if x in labels] + sorted(labels - set(known))
