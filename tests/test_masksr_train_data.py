"""MaskSR training data on real mini-corpus audio: `train prepare` shards (webdataset layout,
contents recomputed independently, resumable after SIGKILL), the gain grid of Algorithm 1's q,
rank-disjoint and worker-independent step batches, and one clear error for a bad shard."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.cli import main
from systems.masksr.config import get_config, override

ROOT = Path(__file__).resolve().parents[1]
CFG = {"segments_per_file": 2, "gain_bins": 8}      # the papers' 8 bins (masksr2_tiny: 1)


pytestmark = pytest.mark.usefixtures("one_torch_thread")   # conftest.py


def _speech(corpora: Path, n: int) -> list[Path]:
    return sorted((corpora / "VCTK-Corpus-0.92" / "wav48_silence_trimmed").rglob("*.flac"))[:n]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, corpora):
    """masksr2_tiny data of 4 VCTK files, 2 segments each, one file held out as dev, 1 file a shard."""
    from systems.masksr.prepare import PrepareOptions, prepare
    out = tmp_path_factory.mktemp("prepared")
    cfg = override(get_config("masksr2_tiny"), CFG)
    opts = PrepareOptions(files_per_shard=1, dev_fraction=0.25, batch=2)
    index = prepare(cfg, _speech(corpora, 4), out, opts)
    return cfg, out, index


def test_shards_hold_what_an_independent_extraction_gives(prepared):
    import webdataset as wds

    from benchmark.core.audio import resample
    from systems.masksr.codec import Codec
    from systems.masksr.kd import HUBERT_RATE, TeacherRunner
    from systems.masksr.prepare import gain_grid
    from systems.masksr.shards import read_sidecar
    cfg, out, index = prepared
    assert [len(index["splits"][s]) for s in ("train", "dev")] == [3, 1]
    assert all(e["items"] == 2 for s in index["splits"].values() for e in s)
    grid = gain_grid(8)
    np.testing.assert_allclose(grid, 0.3 + (np.arange(8) + 0.5) * 0.7 / 8, atol=1e-7)
    assert index["key"]["gains"] == [round(float(g), 6) for g in grid]
    shard = out / index["splits"]["train"][1]["shard"]
    side = read_sidecar(shard)
    # the tar is a webdataset shard as it is: webdataset's own reader sees the same samples
    samples = list(wds.WebDataset(str(shard), shardshuffle=False))
    assert [s["__key__"] for s in samples] == side["keys"]
    assert set(samples[0]) >= {"flac", "codes.npy", "kd.npy", "json"}
    from systems.masksr.data import ShardSource
    src = ShardSource(out)
    clean, codes, kd = src.item(2)                        # first item of the second train shard
    meta = json.loads(samples[0]["json"])
    assert meta["start"] == 0 and meta["file"] == side["files"][0]
    assert codes.dtype == np.int16 and codes.shape == (8, 9, -(-int(cfg.segment_seconds * cfg.rate) // cfg.hop))
    assert kd.dtype == np.float32 and kd.shape[1] == 32
    assert np.abs(clean).max() == 1.0                     # peak-normalised 16-bit PCM
    # independent recomputation: DAC codegram of q * clean for two grid gains, KD of clean
    codec = Codec(cfg.codec)
    for g in (0, 7):
        ref = codec.encode(torch.from_numpy(clean * grid[g])[None])[0].numpy()
        assert np.array_equal(ref, codes[g]), g
    teacher = TeacherRunner(cfg.kd_target, cfg.kd_teacher, cfg.rate)
    single = teacher(clean)                               # unbatched teacher, fp32
    np.testing.assert_allclose(kd, single, atol=2e-2 * np.abs(single).max())
    assert resample(clean, cfg.rate, HUBERT_RATE).shape[0] == int(cfg.segment_seconds * HUBERT_RATE)


def test_gain_q_scales_input_and_target_and_needs_per_gain_codegrams(prepared):
    """DAC codegrams change with the level (so the grid is pre-extracted); the HuBERT KD target
    does not (extracted once); a pair's target is exactly q * clean for a grid gain q, whose
    codegram is the target; every level bin is drawn."""
    from systems.masksr.data import ItemMaker, NoiseRirPools, ShardSource
    from systems.masksr.kd import TeacherRunner
    cfg, out, _ = prepared
    src = ShardSource(out)
    clean, codes, _ = src.item(0)
    differ = float((codes[0] != codes[7]).mean())
    print(f"tokens differing between q={src.gains[0]:.3f} and q={src.gains[7]:.3f}: {differ:.3f}")
    assert differ > 0.2
    teacher = TeacherRunner(cfg.kd_target, cfg.kd_teacher, cfg.rate)
    a, b = teacher(clean * src.gains[0]), teacher(clean * src.gains[7])
    other = teacher(src.item(2)[0])
    # HuBERT's bias-free conv + GroupNorm front end: (nearly) invariant to q, up to GroupNorm's eps;
    # measured RMS difference 0.02-0.034 of the unit-variance targets, 1.40 between two segments
    rms = float(np.sqrt(np.mean((a - b) ** 2)))
    print(f"KD target RMS difference across q: {rms:.4f}; between segments: "
          f"{float(np.sqrt(np.mean((a - other) ** 2))):.3f}")
    assert rms < 0.05 and np.sqrt(np.mean((a - other) ** 2)) > 1.0
    corpora = ROOT.parent / "shared" / "data" / "corpora"
    pools = NoiseRirPools(cfg, sorted((corpora / "noise").glob("*.wav")),
                          sorted((corpora / "rirs").glob("*.wav")), 0, cfg.seed)
    maker = ItemMaker(cfg, src, pools)
    bins = np.zeros(8, dtype=int)
    for k in range(160):
        wave, target, tcodes, _ = maker.pair(k % len(src), np.random.default_rng([5, k]))
        clean_k, codes_k, _ = src.item(k % len(src))
        g = int(np.argmin(np.abs(src.gains - np.abs(target).max())))
        np.testing.assert_allclose(target, clean_k * src.gains[g], atol=1e-6)   # target = q * s
        assert np.array_equal(tcodes, codes_k[g])                               # its codegram
        bins[g] += 1
    print("gain bins over 160 draws:", bins.tolist())
    # q ~ U(0.3, 1) times voicefixer_main's common-peak factor (<= 1): every bin, lower ones more
    assert bins.min() >= 5 and bins[:4].sum() > bins[4:].sum()
    # the input level follows q (Algorithm 1 scales the degraded input by the same q)
    levels = [np.abs(maker.pair(0, np.random.default_rng([9, k]))[0]).max() for k in range(12)]
    assert max(levels) / min(levels) > 1.5


def test_step_batches_are_disjoint_across_ranks_and_independent_of_workers(prepared):
    from systems.masksr.data import ItemMaker, NoiseRirPools, ShardSource, StepBatches
    cfg, out, _ = prepared
    src = ShardSource(out)
    corpora = ROOT.parent / "shared" / "data" / "corpora"
    pools = NoiseRirPools(cfg, sorted((corpora / "noise").glob("*.wav")), [], 2, cfg.seed)
    maker = ItemMaker(cfg, src, pools)
    n = len(src)                                          # 6 training segments
    ranks = [StepBatches(maker, 1, r, 2, shuffle_block=2, steps=6) for r in range(2)]
    seen = [[int(ranks[r].positions(s)[0]) for s in range(n // 2)] for r in range(2)]
    assert set(seen[0]).isdisjoint(seen[1]) and sorted(seen[0] + seen[1]) == list(range(n))
    nxt = [[int(ranks[r].positions(s)[0]) for s in range(n // 2, n)] for r in range(2)]
    assert sorted(nxt[0] + nxt[1]) == list(range(n)) and nxt != seen      # a new epoch order
    ds = StepBatches(maker, 2, 1, 2, shuffle_block=2, steps=4)
    fresh = StepBatches(maker, 2, 1, 2, shuffle_block=2, steps=4)
    loaded = list(torch.utils.data.DataLoader(ds, batch_size=None, sampler=range(4), num_workers=2))
    for step, b in enumerate(loaded):
        a = fresh[step]                                   # in-process, random access (= resume)
        assert torch.equal(a["wave"], b["wave"]) and torch.equal(a["codes"], b["codes"])
        assert torch.equal(a["kd"], b["kd"]) and torch.equal(a["positions"], b["positions"])
    assert not torch.equal(loaded[0]["wave"], loaded[1]["wave"])


def test_a_truncated_or_corrupt_shard_is_one_clear_error_naming_it(prepared, tmp_path, corpora, capsys):
    from systems.masksr.data import ShardSource
    from systems.masksr.shards import ShardError, read_sidecar
    cfg, out, index = prepared
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    name = index["splits"]["train"][1]["shard"]
    offset, size, _ = read_sidecar(bad / name)["members"][1]["flac"]
    data = bytearray((bad / name).read_bytes())
    data[offset + size // 2] ^= 0xFF                      # one flipped byte inside a FLAC member
    (bad / name).write_bytes(bytes(data))
    src = ShardSource(bad)
    src.item(0)                                           # other shards still read
    with pytest.raises(ShardError, match=f"shard {bad / name} is corrupt"):
        for i in range(2, 4):
            src.item(i)
    noise = [str(corpora / "noise")]
    rc = main(["train", "masksr2_tiny", "--data", str(bad), "--noise", *noise, "--out", str(tmp_path / "o"),
               "--steps", "3", "--batch", "2", "--workers", "1", "--no-tensorboard",
               "--config", "segments_per_file=2", "simulated_rirs=1"])
    err = capsys.readouterr().err
    assert rc == 2 and f"shard {bad / name} is corrupt" in err and "Traceback" not in err
    (bad / name).write_bytes(bytes(data[: len(data) // 3]))  # truncated
    with pytest.raises(ShardError, match=f"shard {bad / name} is {len(data) // 3} bytes"):
        ShardSource(bad)


def test_prepare_killed_mid_run_resumes_and_skips_finished_shards(tmp_path, corpora):
    """SIGKILL `train prepare` (2 processes) after its first shard; the re-run keeps every
    finished shard untouched and produces the same shards as an uninterrupted run."""
    out = tmp_path / "data"
    speech = [str(f) for f in _speech(corpora, 4)]
    cmd = [sys.executable, "-m", "benchmark", "train", "prepare", "masksr2_tiny", "--speech", *speech,
           "--out", str(out), "--files-per-shard", "1", "--workers", "2", "--gains", "2",
           "--config", "segments_per_file=1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "BENCHMARK_NO_PROGRESS": "1"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while not list(out.glob("*.tar.json")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = {p.name: p.stat().st_mtime_ns for p in out.glob("*.tar.json")}
    assert 1 <= len(done) < 4 and not (out / "index.json").exists()
    rc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert rc.returncode == 0, rc.stderr[-2000:]
    assert "4 training and 0 dev segments in 4 shards" in rc.stdout
    for name, mtime in done.items():
        assert (out / name).stat().st_mtime_ns == mtime, f"{name} was rebuilt"
    assert not list(out.glob("*.part"))
    index = json.loads((out / "index.json").read_text())
    # shards are deterministic: a fresh single-process run writes byte-identical tars
    ref = tmp_path / "ref"
    assert main(["train", "prepare", "masksr2_tiny", "--speech", *speech, "--out", str(ref),
                 "--files-per-shard", "1", "--gains", "2", "--config", "segments_per_file=1"]) == 0
    for e in index["splits"]["train"]:
        a = json.loads((out / (e["shard"] + ".json")).read_text())
        b = json.loads((ref / (e["shard"] + ".json")).read_text())
        assert a["sha256"] == b["sha256"], e["shard"]


def test_prepare_spreads_speakers_over_shards_and_a_batch_draws_from_many_shards(corpora):
    """`train prepare` puts the files in a seeded random order before cutting shards (a shard is
    not a run of one folder), and a 128-item batch of `StepBatches` draws from many shards and
    all speakers, a different set of shards at each step (the real VCTK excerpts: 8 speakers)."""
    from systems.masksr.data import StepBatches
    from systems.masksr.prepare import PrepareOptions, plan
    files = _speech(corpora, 8)
    speakers = [f.parent.name for f in files]
    assert speakers == sorted(speakers) and len(set(speakers)) == 8
    jobs = plan(files, [], PrepareOptions(files_per_shard=2))
    again = plan(list(reversed(files)), [], PrepareOptions(files_per_shard=2))
    assert [j.files for j in jobs] == [j.files for j in again]            # seeded, order-independent
    pairs = [tuple(Path(f).parent.name for f in j.files) for j in jobs]
    sorted_pairs = [tuple(speakers[i:i + 2]) for i in range(0, 8, 2)]
    assert pairs != sorted_pairs and sorted(s for p in pairs for s in p) == sorted(speakers)
    other = plan(files, [], PrepareOptions(files_per_shard=2, shuffle_seed=1))
    assert [j.files for j in other] != [j.files for j in jobs]
    # a corpus of 8 speakers x 40 files in 80 shards of 4 files (10 segments a file), each file's
    # speaker known from the shuffled plan; the sampler at its default shuffle block
    many = [Path(f"/c/{speakers[i % 8]}/{speakers[i % 8]}_{i:03d}.flac") for i in range(320)]
    shards = plan(many, [], PrepareOptions(files_per_shard=4))
    seg_speaker = np.array([Path(f).parent.name for j in shards for f in j.files for _ in range(10)])

    class Source:                              # positions -> shard via the counts, as ShardSource
        shard_counts = np.full(len(shards), 40)
        gains = np.ones(1, dtype=np.float32)

        def __len__(self):
            return int(self.shard_counts.sum())

    class Maker:
        cfg = override(get_config("masksr2_tiny"), {})
        source = Source()

    ds = StepBatches(Maker(), 128, steps=40)
    starts = np.concatenate([[0], np.cumsum(Source.shard_counts)])
    seen = []
    for step in range(5):
        pos = ds.positions(step)
        shard_ids = set((np.searchsorted(starts, pos, side="right") - 1).tolist())
        seen.append(shard_ids)
        assert len(shard_ids) >= 40 and len(set(seg_speaker[pos])) == 8, (step, len(shard_ids))
    assert len({frozenset(s) for s in seen}) == 5                        # a new mix every step
    old = StepBatches(Maker(), 128, shuffle_block=8, steps=40)            # the old default block
    assert len(set((np.searchsorted(starts, old.positions(0), side="right") - 1).tolist())) <= 8


def test_device_rendered_batches_match_the_worker_rendered_ones(prepared, corpora):
    """`StepBatches(device_render=True)` + `render_on_device` (the batch rendered by augment_torch
    on the training device, here the CPU) gives the batch the workers would have rendered: the same
    draws, waves within 3 % RMS away from the segment's ends and 10 % over all of it (the filters'
    edge transients: sosfiltfilt's backward initial state vs a held end value: 8.4 % measured
    on a quiet 0.5 s reverberant segment, all of it in the last 50 ms),
    the same gain bin (codegram) for nearly every item."""
    from systems.masksr.data import (
        ItemMaker,
        NoiseRirPools,
        ShardSource,
        StepBatches,
        render_on_device,
    )
    cfg, out, _ = prepared
    src = ShardSource(out)
    pools = NoiseRirPools(cfg, sorted((corpora / "noise").glob("*.wav")),
                          sorted((corpora / "rirs").glob("*.wav")), 0, cfg.seed)
    maker = ItemMaker(cfg, src, pools)
    cpu = StepBatches(maker, 6, steps=4)
    dev = StepBatches(maker, 6, steps=4, device_render=True)
    edge = int(0.1 * cfg.rate)
    same = total = 0
    for step in range(2):
        a, raw = cpu[step], dev[step]
        b = render_on_device(raw, maker, "cpu")
        assert torch.equal(a["positions"], b["positions"]) and torch.equal(a["kd"], b["kd"])
        for k in range(6):
            ref = a["wave"][k].double()
            got = b["wave"][k].double()
            got = got * float(got @ ref / (got @ got))        # the level (gain bin) compared apart
            err = float((got - ref).pow(2).mean().sqrt() / ref.pow(2).mean().sqrt())
            mid = float((got - ref)[edge:-edge].pow(2).mean().sqrt() / ref[edge:-edge].pow(2).mean().sqrt())
            assert err < 0.1 and mid < 0.03, (step, k, raw["params"][k], err, mid)
            same += int(torch.equal(a["codes"][k], b["codes"][k]))
            total += 1
    print(f"same gain bin for {same}/{total} items")
    assert same >= total - 2
