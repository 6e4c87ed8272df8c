"""Room impulse responses simulated with pyroomacoustics (image-source method, deterministic),
cached by their parameters, and the Schroeder RT60 measurement used to check them.

Two room recipes:
- `sample_voicefixer_room` (003 App. C.1): sides ~ U(1, 12) m, microphone anywhere in the room,
  source distance ~ N(2, 4^2) redrawn until in (0, 5] m, direction uniform on the sphere,
  RT60 ~ U(0.05, 1.0) s, omnidirectional or cardioid microphone (1/2 each).
- `sample_whamr_room` (WHAMR!, Maciejewski et al., ICASSP 2020, Sec. 3 / the room table of the
  paper; the WHAMR! scripts `wham_room.py` build a pyroomacoustics ShoeBox whose absorption comes
  from Sabine's formula and whose ISM order covers T60): length and width ~ U(5, 10) m, height
  ~ U(3, 4) m, microphone at the room centre +- U(-0.2, 0.2) m in x and y, height U(0.9, 1.8) m,
  source at horizontal distance U(0.66, 2) m in a uniform direction, height U(0.9, 1.8) m,
  T60 ~ U(0.1, 1.0) s, omnidirectional microphone (the left microphone of the WHAMR! pair).

A third kind, recipe "whamr_csv" (`testsets.whamr`): one row of the WHAMR! test parameters
(reverb_params_tt.csv) simulated as the WHAMR! scripts do (`_simulate_whamr_legacy`).

The VoiceFixer recipe keeps its drawn source distance through every redraw (see
`sample_voicefixer_room`). Both recipes redraw the room when Sabine's formula cannot reach the drawn RT60 (wall
absorption above 1, e.g. a large room with a very short RT60) or when the ISM order it needs
exceeds `MAX_ISM_ORDER` (tiny rooms with long RT60s, minutes of simulation each). This narrows
the joint room/RT60 distribution slightly; every drawn value still lies in the published range.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

import numpy as np

from benchmark.core.deps import require
from benchmark.core.files import atomic_target
from benchmark.core.paths import cache_dir

MAX_ISM_ORDER = 120
SOUND_SPEED = 343.0          # m/s, pyroomacoustics' default constants.get("c")
VF_DIST_MEAN, VF_DIST_STD, VF_DIST_MAX = 2.0, 4.0, 5.0   # 003 App. C.1 source distance (m)
# The direct path of a pyroomacoustics ISM RIR arrives at distance / c * rate + frac_delay_length
# // 2 samples: its fractional-delay filters (81 taps by default) are centred, so every arrival is
# delayed by 40 samples (pyroomacoustics 0.10 simulation/ism.py, compute_ism_rir: "time += fdl2").
PRA_FRAC_DELAY_LENGTH = 81


def pra_direct_offset() -> int:
    """The simulator's fractional-delay offset in samples (from the installed pyroomacoustics)."""
    try:
        import pyroomacoustics as pra
        return int(pra.constants.get("frac_delay_length")) // 2
    except ImportError:                                   # pragma: no cover - core dependency
        return PRA_FRAC_DELAY_LENGTH // 2


@dataclass(frozen=True)
class RoomParams:
    dims: tuple[float, float, float]
    mic: tuple[float, float, float]
    source: tuple[float, float, float]
    rt60: float
    rate: int
    directivity: str = "omni"                    # "omni" or "cardioid"
    mic_azimuth: float = 0.0                     # degrees, cardioid orientation
    mic_colatitude: float = 90.0
    recipe: str = ""

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> RoomParams:
        d = dict(d)
        for k in ("dims", "mic", "source"):
            d[k] = tuple(float(v) for v in d[k])
        return cls(**d)

    def distance(self) -> float:
        return float(np.linalg.norm(np.subtract(self.source, self.mic)))

    def direct_delay(self) -> float:
        """Arrival of the direct path in the simulated RIR, in samples: geometry plus the
        simulator's fractional-delay offset (independent of the microphone's directivity)."""
        return self.distance() / SOUND_SPEED * self.rate + pra_direct_offset()

    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:20]


def sabine(dims, rt60: float) -> tuple[float, int]:
    """Energy absorption of the walls and the ISM order for `rt60` (Sabine's formula)."""
    v = dims[0] * dims[1] * dims[2]
    s = 2 * (dims[0] * dims[1] + dims[0] * dims[2] + dims[1] * dims[2])
    absorption = 24 * np.log(10.0) * v / (SOUND_SPEED * s * rt60)
    order = int(np.ceil(SOUND_SPEED * rt60 / min(dims)))
    return float(absorption), order


def feasible(dims, rt60: float) -> bool:
    absorption, order = sabine(dims, rt60)
    return absorption < 1.0 and order <= MAX_ISM_ORDER


def _inside(p, dims, margin: float) -> bool:
    return all(margin <= p[i] <= dims[i] - margin for i in range(3))


def _round(v) -> tuple[float, ...]:
    return tuple(round(float(a), 4) for a in v)


def truncated_distance(rng: np.random.Generator) -> float:
    """The source distance of 003 App. C.1: N(2, 4^2), redrawn until in (0, 5] m."""
    dist = rng.normal(VF_DIST_MEAN, VF_DIST_STD)
    while not 0.0 < dist <= VF_DIST_MAX:
        dist = rng.normal(VF_DIST_MEAN, VF_DIST_STD)
    return float(dist)


def sample_voicefixer_room(rng: np.random.Generator, rate: int = 44100) -> RoomParams:
    """003 App. C.1. The source distance is drawn once and kept: when no direction on its sphere
    puts the source inside the room (or Sabine's formula cannot reach the RT60), the room, the
    microphone and the RT60 are redrawn around the same distance, so the distances follow the
    truncated N(2, 4^2) exactly (redrawing the distance with the room would favour short ones)."""
    margin = 0.05
    dist = truncated_distance(rng)
    while True:
        dims = rng.uniform(1.0, 12.0, size=3)
        rt60 = float(rng.uniform(0.05, 1.0))
        mic = rng.uniform(margin, dims - margin)
        directivity = "cardioid" if rng.random() < 0.5 else "omni"
        azimuth, colat = float(rng.uniform(0, 360)), float(np.degrees(np.arccos(rng.uniform(-1, 1))))
        source = None
        if feasible(dims, rt60):
            for _ in range(100):
                u = rng.normal(size=3)
                cand = mic + dist * u / np.linalg.norm(u)
                if _inside(cand, dims, margin):
                    source = cand
                    break
        if source is not None:
            return RoomParams(_round(dims), _round(mic), _round(source), round(rt60, 4), rate,
                              directivity, round(azimuth, 2), round(colat, 2), "voicefixer")


def sample_whamr_room(rng: np.random.Generator, rate: int = 44100) -> RoomParams:
    while True:
        dims = np.array([rng.uniform(5, 10), rng.uniform(5, 10), rng.uniform(3, 4)])
        mic = np.array([dims[0] / 2 + rng.uniform(-0.2, 0.2), dims[1] / 2 + rng.uniform(-0.2, 0.2),
                        rng.uniform(0.9, 1.8)])
        dist, theta = rng.uniform(0.66, 2.0), rng.uniform(0, 2 * np.pi)
        source = np.array([mic[0] + dist * np.cos(theta), mic[1] + dist * np.sin(theta),
                           rng.uniform(0.9, 1.8)])
        rt60 = float(rng.uniform(0.1, 1.0))
        if _inside(source, dims, 0.05) and feasible(dims, rt60):
            return RoomParams(_round(dims), _round(mic), _round(source), round(rt60, 4), rate,
                              recipe="whamr")


def whamr_legacy_absorption(dims, rt60: float) -> tuple[float, float, int]:
    """The WHAMR! scripts' wall absorption for `rt60` (wham_room.py `WhamRoom.__init__`, as
    speechbrain carries it: recipes/WHAMandWHAMR/meta/wham_room.py @ 9c826ef39): Sabine's
    24 ln(10) V / (c S T60), passed to pyroomacoustics' legacy `absorption` argument, which
    pyroomacoustics (v0.4.0 room.py, "1 - a1 == sqrt(1 - a2)") turns into the energy absorption
    1 - (1 - a)^2: roughly twice Sabine's, so the simulated decay is faster than the row's T60.
    Returns (Sabine's a, the energy absorption used, the ISM order ceil(T60 c / min(dims)))."""
    v = dims[0] * dims[1] * dims[2]
    s = 2 * (dims[0] * dims[1] + dims[0] * dims[2] + dims[1] * dims[2])
    a = 24 * v * np.log(10.0) / (SOUND_SPEED * s * rt60)
    order = int(np.ceil(rt60 * SOUND_SPEED / min(dims)))
    return float(a), float(1.0 - (1.0 - a) ** 2), order


def _simulate_whamr_legacy(room: RoomParams, max_order: int | None = None) -> np.ndarray:
    """One WHAMR! room as its scripts simulate it (wham_room.py @ 9c826ef39: t0 = 0, no air
    absorption, legacy absorption, the RIR cut to ceil(T60 fs) samples), at room.rate."""
    pra = require("pyroomacoustics", "core", "simulating room impulse responses")
    _, energy, order = whamr_legacy_absorption(room.dims, room.rt60)
    if not 0.0 < energy <= 1.0:
        raise ValueError(f"WHAMR! room {room.dims} with T60 {room.rt60} s gives an absorption "
                         f"{energy:.3f} outside (0, 1]")
    shoebox = pra.ShoeBox(list(room.dims), fs=room.rate, t0=0.0, materials=pra.Material(energy),
                          max_order=order if max_order is None else max_order, air_absorption=False)
    shoebox.add_source(list(room.source))
    shoebox.add_microphone(list(room.mic))
    shoebox.compute_rir()
    h = np.asarray(shoebox.rir[0][0], dtype=np.float32)
    return h[: int(np.ceil(room.rt60 * room.rate))]


def simulate_direct_path(room: RoomParams) -> np.ndarray:
    """The direct path alone of `room` (image-source order 0, same microphone), not cached: the
    reference the alignment tests measure the geometric delay against."""
    return _simulate(room, max_order=0)


def simulate_rir(room: RoomParams) -> np.ndarray:
    """The RIR of `room` (float32, at room.rate), from the cache or simulated and cached."""
    path = cache_dir() / "rirs" / f"{room.key()}.npy"
    if path.exists():
        return np.load(path)
    rir = _simulate(room)
    with atomic_target(path) as tmp, open(tmp, "wb") as f:
        np.save(f, rir)
    return rir


def _simulate(room: RoomParams, max_order: int | None = None) -> np.ndarray:
    if room.recipe == "whamr_csv":
        return _simulate_whamr_legacy(room, max_order)
    pra = require("pyroomacoustics", "core", "simulating room impulse responses")
    absorption, order = sabine(room.dims, room.rt60)
    shoebox = pra.ShoeBox(list(room.dims), fs=room.rate, materials=pra.Material(absorption),
                          max_order=order if max_order is None else max_order, air_absorption=False)
    shoebox.add_source(list(room.source))
    directivity = None
    if room.directivity == "cardioid":
        from pyroomacoustics.directivities import Cardioid, DirectionVector
        directivity = Cardioid(DirectionVector(azimuth=room.mic_azimuth, colatitude=room.mic_colatitude,
                                               degrees=True), gain=1.0)
    shoebox.add_microphone(list(room.mic), directivity=directivity)
    shoebox.compute_rir()
    return np.asarray(shoebox.rir[0][0], dtype=np.float32)


def schroeder_rt60(rir: np.ndarray, rate: int, fit_db: tuple[float, float] = (-5.0, -35.0)) -> float:
    """RT60 from the Schroeder backward-integrated energy decay curve: a least-squares line
    fitted between `fit_db` (T30 by default), extrapolated to -60 dB."""
    h = np.asarray(rir, dtype=np.float64)
    h = h[int(np.argmax(np.abs(h))):]
    edc = np.cumsum((h ** 2)[::-1])[::-1]
    edc_db = 10 * np.log10(np.maximum(edc / edc[0], 1e-300))
    hi, lo = fit_db
    idx = np.nonzero((edc_db <= hi) & (edc_db >= lo))[0]
    if len(idx) < 2:
        raise ValueError(f"the decay curve does not span {hi}..{lo} dB")
    t = idx / rate
    slope, _ = np.polyfit(t, edc_db[idx], 1)
    return float(-60.0 / slope)

