"""Measurements shared by the test-set tests (helpers only; no tests here)."""

from __future__ import annotations

import numpy as np

LEAK_DB = -60.0          # energy above the stop-band edge, relative to the total, must stay below this
# The recipes resample with scipy.signal.resample_poly (VoiceFixer's code, see testsets.distortions):
# its Kaiser(5) anti-aliasing filter has its transition band just above the cutoff. Measured on
# p361/p362 VCTK speech: -31 to -47 dB of the energy lies between the cutoff and 1.2 x cutoff,
# -68 to -72 dB above 1.2 x cutoff, for every filter type and order. The stop band starts there.
STOPBAND = 1.2
MIX_LEAK_DB = -50.0      # the same with noise mixed in before the low-pass (all_gsr's order)


def band_energy_db(y: np.ndarray, rate: int, above_hz: float) -> float:
    spec = np.abs(np.fft.rfft(y.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / rate)
    return float(10 * np.log10(spec[freqs > above_hz].sum() / spec.sum()))


def independent_active_snr(speech, noise, rate, active_db=40.0):
    """A second implementation of the documented SNR definition (10 ms frames within 40 dB)."""
    hop = rate // 100
    ps, pn, frame_power = [], [], []
    for start in range(0, len(speech), hop):
        s, n = speech[start:start + hop].astype(np.float64), noise[start:start + hop].astype(np.float64)
        frame_power.append(np.mean(s ** 2))
        ps.append(s)
        pn.append(n)
    thr = max(frame_power) * 10 ** (-active_db / 10)
    keep = [i for i, p in enumerate(frame_power) if p >= thr]
    s = np.concatenate([ps[i] for i in keep])
    n = np.concatenate([pn[i] for i in keep])
    return 10 * np.log10(np.mean(s ** 2) / np.mean(n ** 2))


def independent_algorithm1_snr(speech, noise):
    """003 App. C.2, Algorithm 1: the noise is scaled to mean|x| / mean|n| and divided by
    10^(S/20), so S = 20 log10(sum|x| / sum|n|) (written out again here)."""
    return 20 * np.log10(np.sum(np.abs(np.asarray(speech, np.float64)))
                         / np.sum(np.abs(np.asarray(noise, np.float64))))


def xcorr_lag(x, t, max_lag=2000):
    """The lag (samples) at which x best matches t: x[n] ~ t[n - lag]. FFT cross-correlation."""
    x, t = np.asarray(x, np.float64), np.asarray(t, np.float64)
    n = len(x) + len(t)
    size = 1 << (n - 1).bit_length()
    xc = np.fft.irfft(np.fft.rfft(x, size) * np.conj(np.fft.rfft(t, size)), size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    vals = np.concatenate([xc[: max_lag + 1], xc[-max_lag:]])
    return int(lags[int(np.argmax(vals))])


# --- fixtures laid out like the public releases, built from the shared real files -------------

AUTHOR_ROOT = "/opt/tiger/lhh_arnold_base/arnold_workspace/src/voicefixer_main/datasets/se/TestSets"


def make_official_release(corpora, root, flac_subset: str = "DECLI/0.5", drop_list: str = ""):
    """A VoiceFixer TestSets/ folder (Zenodo 5528144 layout, voicefixer_main
    evaluation_proc/config.py) made from the shared VCTK and VoiceBank-DEMAND files: degraded
    files produced by the harness's own recipes (their content does not matter to ingestion),
    pair lists with the absolute paths of the machine that wrote them (as refresh_lists writes
    them). `flac_subset` is written as FLAC; `drop_list` names a pair list left out (pairs then
    derived from the file names). Returns {set: [(degraded rel, target rel)]} relative to root."""
    import soundfile as sf

    from benchmark.core.audio import read_audio, resample
    from testsets.corpora import vctk_utterances
    from testsets.sr import sr_degrade

    root.mkdir(parents=True, exist_ok=True)
    pairs: dict[str, list[tuple[str, str]]] = {}

    def write(rel, x, rate=44100):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if rel.startswith(flac_subset):
            p = p.with_suffix(".flac")
            sf.write(p, x, rate, subtype="PCM_24")
        else:
            sf.write(p, x, rate, subtype="PCM_16")
        return p.relative_to(root).as_posix()

    def listing(name, rows):
        if name == drop_list:
            return
        (root / name).write_text("".join(f"{AUTHOR_ROOT}/{d} {AUTHOR_ROOT}/{t}\n" for d, t in rows))

    speech = []
    for u in vctk_utterances(corpora):
        x, r = read_audio(corpora / u.path, mix_channels=True)
        stem = u.path.rsplit("/", 1)[1].split(".")[0]           # p360_001_mic1
        speech.append((stem, (0.9 * resample(x, r, 44100) / np.max(np.abs(x))).astype(np.float32)))
    # SR
    for c in (1000, 2000, 4000, 8000, 12000):
        rows = []
        for stem, x in speech[:3]:
            t = write(f"SR/GroundTruth/{stem}.wav", x)
            rows.append((write(f"SR/cheby1/{c}/{stem}.wav", sr_degrade(x, 44100, 2 * c)), t))
        listing(f"SR/cheby1/pair_cheby1_{c}.lst", rows)
        pairs[f"sr/{2 * c // 1000}kHz"] = rows
    # DECLI
    for ratio in ("0.1", "0.25", "0.5"):
        rows = []
        for stem, x in speech[:4]:
            t = write(f"DECLI/GroundTruth/{stem}.wav", x)
            clipped = np.clip(x / np.max(np.abs(x)), -float(ratio), float(ratio))
            rows.append((write(f"DECLI/{ratio}/{stem[:-5]}_clip.wav", clipped), t))
        listing(f"DECLI/pair_{float(ratio):.2f}.lst", rows)
        pairs[f"decli/{ratio}"] = rows
    # DEREV
    rows = []
    for stem, x in speech[:2]:
        t = write(f"DEREV/GroundTruth/{stem}.wav", x)
        rev = np.convolve(x, np.r_[1.0, np.zeros(300), 0.5, np.zeros(500), 0.25])[: len(x)]
        rows.append((write(f"DEREV/Reverb_Speech/{stem}_reverb.wav", 0.7 * rev), t))
    listing("DEREV/pair_vctk_reverb.lst", rows)
    pairs["derev"] = rows
    # ALL_GSR: <n>_<anything>.wav <-> target/<n>_clean.wav
    rows = []
    for n, (_stem, x) in enumerate(speech[:3]):
        seg = x[: 3 * 44100]
        t = write(f"ALL_GSR/target/{n}_clean.wav", seg)
        rows.append((write(f"ALL_GSR/simulated/{n}_random_filter.wav", 0.5 * seg[::-1].copy()), t))
    listing("ALL_GSR/pair_random_filter_type.lst", rows)
    pairs["all_gsr"] = rows
    # DENOISE: VoiceBank-DEMAND pairs of the same name (16 kHz here; 44.1 kHz in the release)
    rows = []
    vb = corpora / "VoiceBank-DEMAND"
    for f in sorted((vb / "noisy_testset_wav").glob("*.wav"))[:3]:
        for kind in ("noisy", "clean"):
            p = root / f"DENOISE/vd_test/{kind}_testset_wav/{f.name}"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes((vb / f"{kind}_testset_wav" / f.name).read_bytes())
        rows.append((f"DENOISE/vd_test/noisy_testset_wav/{f.name}", f"DENOISE/vd_test/clean_testset_wav/{f.name}"))
    listing("DENOISE/vd_test/pair.lst", rows)
    pairs["denoise"] = rows
    return pairs


def make_rir44k(root, rate=44100, rooms=4, seed=0):
    """An RIR_44k/test/ folder as the release lays it out: .npy RIRs named with their room
    (room_<x>_<y>_<z>_mic_<x>_<y>_<z>_source_<x>_<y>_<z>_rt60_<t>), simulated here with
    pyroomacoustics and shifted 40 samples earlier so that, like sunits/rir_simulator_python's,
    the direct path arrives at distance / c x rate. Returns [(file name, RoomParams)]."""
    from testsets.rir import sample_voicefixer_room, simulate_rir
    out = []
    folder = root / "RIR_44k" / "test"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(rooms):
        room = sample_voicefixer_room(np.random.default_rng([seed, i]), rate)
        h = simulate_rir(room)[40:]
        fmt = "_".join(f"{v:.4f}" for v in room.dims), "_".join(f"{v:.4f}" for v in room.mic), \
            "_".join(f"{v:.4f}" for v in room.source)
        name = f"{i:05d}_room_{fmt[0]}_mic_{fmt[1]}_source_{fmt[2]}_rt60_{room.rt60:.4f}_{room.directivity}.npy"
        np.save(folder / name, h.astype(np.float32))
        out.append((name, room))
    return out
