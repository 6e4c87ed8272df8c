"""Test-set rendering speed on the mini corpora: seconds of rendered audio per wall second per
worker process ("x real time per core"), per set, with 1 worker (RIRs pre-simulated: the RIR
cache is warmed by a first build, then timed separately). Also the rebuilt `sr` set's Unprocessed
LSD per rate, by both LSD forms, with the recipe's resampler and with soxr, next to 003 Table 6,
and all_gsr's level and alignment statistics (`all_gsr_level_alignment`).

LSD forms (written out here, independent of metrics/): magnitude STFT as voicefixer_main
evaluation_proc/metrics.py (commit 0c206f7) takes it (librosa.stft defaults: periodic Hann 2048,
hop 441, centred with reflect padding), T target, E estimate, per frame
sqrt(mean_f (log10 r)^2), averaged over frames, with
  2021 (003-era, that metrics.py): r = T^2 / (E^2 + 1e-8) + 1e-8
  2022:                           r = T^2 / (E + 1e-12)^2 + 1e-12
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from testsets import TESTSETS, BuildOptions

CORPORA = Path(os.environ.get("BENCHMARK_CORPORA", Path(__file__).resolve().parents[2] / "shared/data/corpora"))
TABLE6_UNPROCESSED = {2000: 3.13, 4000: 2.97, 8000: 2.70, 16000: 2.32, 24000: 1.91}   # 003 Table 6


def stft_mag(x: np.ndarray, n_fft: int = 2048, hop: int = 441) -> np.ndarray:
    x = np.pad(np.asarray(x, np.float64), n_fft // 2, mode="reflect")
    win = np.hanning(n_fft + 1)[:-1]
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * win
    return np.abs(np.fft.rfft(frames, axis=1))          # (frames, bins)


def lsd(est: np.ndarray, target: np.ndarray, form: str) -> float:
    e, t = stft_mag(est), stft_mag(target)
    if form == "2021":
        r = t ** 2 / (e ** 2 + 1e-8) + 1e-8
    else:
        r = t ** 2 / (e + 1e-12) ** 2 + 1e-12
    return float(np.mean(np.sqrt(np.mean(np.log10(r) ** 2, axis=1))))


def sr_unprocessed_lsd(corpora: Path = CORPORA) -> dict:
    """Unprocessed LSD of the rebuilt sr set (recipe resampler) and of the soxr variant."""
    from benchmark.core.audio import read_audio, resample
    from testsets.corpora import vctk_utterances
    from testsets.sr import RATES, sr_degrade
    out: dict = {}
    targets = []
    for u in vctk_utterances(corpora):
        x, r = read_audio(corpora / u.path, mix_channels=True)
        targets.append(resample(x, r, 44100))
    for low in RATES:
        row: dict = {"table6": TABLE6_UNPROCESSED[low]}
        for name in ("resample_poly", "soxr"):
            vals = {"2021": [], "2022": []}
            for t in targets:
                if name == "resample_poly":
                    d = sr_degrade(t, 44100, low)
                else:       # the same filter, the harness's soxr for the resampling
                    from scipy import signal
                    sos = signal.cheby1(8, 0.1, (low // 2) / 22050, output="sos")
                    y = signal.sosfiltfilt(sos, t.astype(np.float64)).astype(np.float32)
                    d = resample(resample(y, 44100, low), low, 44100)[: len(t)]
                    d = np.pad(d, (0, len(t) - len(d)))
                for form in vals:
                    vals[form].append(lsd(d, t, form))
            row[name] = {form: round(float(np.mean(v)), 2) for form, v in vals.items()}
        out[f"{low // 1000}kHz"] = row
    return out


def all_gsr_level_alignment(corpora: Path = CORPORA, items: int = 60) -> dict:
    """Levels and direct-path alignment of an all_gsr plan (seed 501, utterances repeated,
    simulated VoiceFixer rooms): peaks of input and target, and for every reverberant item the
    applied shift minus the direct path's arrival in the same room simulated at image order 0."""
    from testsets.rir import RoomParams, simulate_direct_path
    b = TESTSETS.get("all_gsr")()
    b._notes = []
    plan = b.plan(BuildOptions(corpora=corpora, out=Path("."), items=items, allow_repeat=True,
                               rirs="simulate"), 501)
    pk, pt, gains, offsets = [], [], [], []
    for it in plan:
        r = b.rerender(corpora, it)
        pk.append(float(np.max(np.abs(r.degraded))))
        pt.append(float(np.max(np.abs(r.target))))
        gains.append(it.params["distortion"]["gain"])
        if it.params.get("room"):
            direct = simulate_direct_path(RoomParams.from_dict(it.params["room"]))
            offsets.append(int(round(it.params["rir_delay"])) - int(np.argmax(np.abs(direct))))
    pk_a, pt_a = np.array(pk), np.array(pt)
    return {"items": items, "peak_degraded_max": round(float(pk_a.max()), 3),
            "items_peak_degraded_over_1": int((pk_a > 1).sum()),
            "ratio_degraded_over_target_max": round(float((pk_a / pt_a).max()), 2),
            "items_max_peak_equals_gain": int(sum(abs(max(a, b) - g) < 1e-5
                                                  for a, b, g in zip(pk, pt, gains, strict=True))),
            "reverberant_items": len(offsets),
            "misaligned_items": int(sum(abs(o) > 2 for o in offsets)),
            "offset_max_abs": int(max([abs(o) for o in offsets], default=0))}


def main() -> dict:
    os.environ.setdefault("BENCHMARK_NO_PROGRESS", "1")
    out: dict = {"corpora": str(CORPORA)}
    out["sr_unprocessed_lsd"] = sr_unprocessed_lsd()
    print("sr_unprocessed_lsd", out["sr_unprocessed_lsd"], flush=True)
    out["all_gsr_level_alignment"] = all_gsr_level_alignment()
    print("all_gsr_level_alignment", out["all_gsr_level_alignment"], flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["BENCHMARK_CACHE"] = str(Path(tmp) / "cache")
        for name, items in (("sr", 8), ("all_gsr", 8), ("vctk_gsr", 8), ("libri_noisy", 3),
                            ("decli", 8), ("derev", 3), ("denoise", 6)):
            res = {}
            for label in ("cold_rir_cache", "warm"):
                builder = TESTSETS.get(name)()
                t0 = time.perf_counter()
                builder.build(BuildOptions(corpora=CORPORA, out=Path(tmp) / label, items=items, workers=1))
                wall = time.perf_counter() - t0
                audio = builder.result.seconds_audio
                res[label] = {"items": builder.result.items, "audio_s": round(audio, 2),
                              "wall_s": round(wall, 2), "x_realtime_per_core": round(audio / wall, 1)}
            out[name] = res
            print(name, res, flush=True)
    return out


if __name__ == "__main__":
    main()
