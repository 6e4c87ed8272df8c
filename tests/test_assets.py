import subprocess
import sys

import pytest
from report_support import table_rows

from benchmark import assets
from benchmark.core.errors import AssetError

GTCRN_SHA = "f648b02f2d7ff96ebcb0eec2219688a08ed12fe7e3d50f248605a90eba8cad17"


def test_catalog_records_are_complete():
    for a in assets.all_assets():
        assert a.urls and a.urls[0].startswith("https://"), a.name
        # full sha256, a publisher's prefix (torch.hub names) or "" (unpinned: used with a warning)
        assert len(a.sha256) in (0, 64) or len(a.sha256) >= 16, a.name
        assert all(c in "0123456789abcdef" for c in a.sha256), a.name
        assert a.size >= 0 and a.licence and a.path and a.used_by, a.name


def test_unpinned_asset_is_used_with_a_warning_naming_its_hash(isolated_env, asset_mirror,
                                                               monkeypatch, capsys):
    pinned = assets.get_asset("gtcrn_onnx")
    import dataclasses
    monkeypatch.setitem(assets.ASSETS, "gtcrn_unpinned",
                        dataclasses.replace(pinned, name="gtcrn_unpinned", sha256="", size=0))
    monkeypatch.setenv("BENCHMARK_ASSET_MIRROR", str(asset_mirror))
    path = assets.fetch("gtcrn_unpinned")
    assert assets.local_sha256("gtcrn_unpinned", path) == GTCRN_SHA
    assert f"no published sha256 to verify against; using {path} (sha256 {GTCRN_SHA})" in capsys.readouterr().err
    res = assets.verify(["gtcrn_unpinned"])
    assert res[0].status == "unpinned" and GTCRN_SHA in res[0].detail


def test_fetch_from_local_mirror_folder(isolated_env, asset_mirror, monkeypatch):
    monkeypatch.setenv("BENCHMARK_ASSET_MIRROR", str(asset_mirror))
    path = assets.fetch("gtcrn_onnx")
    assert path == isolated_env / "cache/gtcrn/gtcrn.onnx"
    assert assets.sha256_of(path) == GTCRN_SHA
    assert [r.status for r in assets.verify(["gtcrn_onnx", "nisqa"])] == ["ok", "missing"]


def test_fetch_from_file_url_and_resume(isolated_env, asset_mirror, monkeypatch):
    monkeypatch.setenv("BENCHMARK_ASSET_MIRROR", asset_mirror.as_uri())
    a = assets.get_asset("nisqa")
    target = a.cached_path()
    target.parent.mkdir(parents=True)
    # a partial download from an earlier, interrupted fetch
    part = target.with_name(target.name + ".part")
    part.write_bytes((asset_mirror / "nisqa/nisqa.tar").read_bytes()[:300_000])
    path = assets.fetch("nisqa")
    assert assets.sha256_of(path) == a.sha256 and not part.exists()


def test_concurrent_fetches_of_one_asset_wait_for_each_other(isolated_env, asset_mirror, monkeypatch):
    """While one process holds the asset's lock (downloading), another fetch writes nothing
    (no `.part` of its own) and, once the lock is free, returns the first one's verified file;
    two processes fetching at once both get the right bytes."""
    import threading

    from filelock import FileLock
    monkeypatch.setenv("BENCHMARK_ASSET_MIRROR", asset_mirror.as_uri())
    a = assets.get_asset("gtcrn_onnx")
    target = a.cached_path()
    target.parent.mkdir(parents=True)
    lock = FileLock(str(target) + ".lock")
    lock.acquire()
    got: list = []
    t = threading.Thread(target=lambda: got.append(assets.fetch("gtcrn_onnx")))
    t.start()
    t.join(1.0)
    assert t.is_alive() and not target.with_name(target.name + ".part").exists() and not target.exists()
    lock.release()
    t.join(60)
    assert got == [target] and assets.sha256_of(target) == GTCRN_SHA
    target.unlink()
    code = ("import sys; from benchmark import assets; "
            "print(assets.sha256_of(assets.fetch('gtcrn_onnx')))")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
             for _ in range(3)]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0] and outs == [GTCRN_SHA] * 3


def test_tampered_file_is_refused(isolated_env, asset_mirror, monkeypatch):
    monkeypatch.setenv("BENCHMARK_ASSET_MIRROR", str(asset_mirror))
    path = assets.fetch("gtcrn_onnx")
    data = bytearray(path.read_bytes())
    data[1000] ^= 0xFF
    path.write_bytes(data)
    with pytest.raises(AssetError, match="corrupted or truncated"):
        assets.fetch("gtcrn_onnx")
    res = assets.verify(["gtcrn_onnx"])
    assert res[0].status == "corrupted" and GTCRN_SHA in res[0].detail


def test_truncated_mirror_copy_is_refused(isolated_env, tmp_path, asset_mirror, monkeypatch):
    bad = tmp_path / "badmirror/gtcrn"
    bad.mkdir(parents=True)
    (bad / "gtcrn.onnx").write_bytes((asset_mirror / "gtcrn/gtcrn.onnx").read_bytes()[:1000])
    monkeypatch.setenv("BENCHMARK_ASSET_MIRROR", str(tmp_path / "badmirror"))
    with pytest.raises(AssetError, match="sha256 mismatch"):
        assets.fetch("gtcrn_onnx")
    assert not assets.get_asset("gtcrn_onnx").cached_path().exists()


def test_missing_offline_names_asset_url_and_path(isolated_env):
    with pytest.raises(AssetError) as exc:
        assets.fetch("gtcrn_onnx")
    msg = str(exc.value)
    assert "gtcrn_onnx" in msg and "https://github.com/Xiaobin-Rong/gtcrn" in msg
    assert str(isolated_env / "cache/gtcrn/gtcrn.onnx") in msg


def _cli(*args, env):
    return subprocess.run([sys.executable, "-m", "benchmark", *args], capture_output=True,
                          text=True, env=env)


def test_cli_fetch_verify_flipped_byte(isolated_env, asset_mirror):
    import os
    env = {**os.environ, "BENCHMARK_ASSET_MIRROR": str(asset_mirror)}
    r = _cli("assets", "fetch", "gtcrn_onnx", env=env)
    assert r.returncode == 0, r.stderr
    assert "gtcrn_onnx: ok" in r.stdout
    r = _cli("assets", "verify", env=env)
    assert r.returncode == 0 and "gtcrn_onnx: OK" in r.stdout
    path = isolated_env / "cache/gtcrn/gtcrn.onnx"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(data)
    r = _cli("assets", "verify", env=env)
    assert r.returncode == 1
    assert "gtcrn_onnx: CORRUPTED" in r.stdout and "expected " + GTCRN_SHA in r.stdout
    r = _cli("assets", "list", env=env)
    assert r.returncode == 0 and "nisqa" in r.stdout


def _place(name: str, data: bytes):
    path = assets.get_asset(name).cached_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_changed_unpinned_file_changes_the_cache_keys(isolated_env, capsys):
    """voicefixer's checkpoints and the WeSpeaker model are unpinned: a different file (even of
    the same size, after a verification stamp was written) gives different cache keys."""
    import hashlib

    from benchmark.run.provenance import asset_files
    from systems.base import SYSTEMS

    assert assets.get_asset("voicefixer_vocoder").sha256 == ""
    a = _place("voicefixer_analysis", b"analysis weights A" * 1000)
    _place("voicefixer_vocoder", b"vocoder weights" * 1000)
    assets.fetch("voicefixer_analysis")                # writes the verification stamp
    key1 = SYSTEMS.get("voicefixer")().cache_key()
    assert key1 == SYSTEMS.get("voicefixer")().cache_key()           # stable
    a.write_bytes(b"analysis weights B" * 1000)                      # same size, other bytes
    key2 = SYSTEMS.get("voicefixer")().cache_key()
    assert key2 != key1
    assert assets.local_sha256("voicefixer_analysis") == hashlib.sha256(a.read_bytes()).hexdigest()
    # a config change still changes it, and a pinned-only system keeps the plain formula
    assert SYSTEMS.get("voicefixer")(config={"x": 1}).cache_key() != key2
    plain = hashlib.sha256(b'{"config": {}, "name": "gtcrn", "version": "%s"}'
                           % SYSTEMS.get("gtcrn").info.version.encode()).hexdigest()[:16]
    assert SYSTEMS.get("gtcrn")().cache_key() == plain

    # metrics: the version hashed into the key names the unpinned file (here before load, as a
    # backend whose own version does not name its file would)
    from metrics import METRICS
    from metrics.base import metric_version
    spk = METRICS.get("spk_sim")
    (wespeaker_asset,) = spk.info.assets["wespeaker"]
    assert assets.get_asset(wespeaker_asset).sha256 == ""
    w = _place(wespeaker_asset, b"onnx one")
    v1 = metric_version(spk(backend="wespeaker"))
    w.write_bytes(b"onnx two")
    v2 = metric_version(spk(backend="wespeaker"))
    assert v1 != v2 and hashlib.sha256(b"onnx two").hexdigest() in v2
    w.write_bytes(b"onnx three")                # the offline backend does not use the file
    assert metric_version(spk(backend="resemblyzer")) == spk(backend="resemblyzer").backend_version

    files = asset_files(["voicefixer_analysis", "gtcrn_onnx"])
    assert files["voicefixer_analysis"] == {"sha256": hashlib.sha256(a.read_bytes()).hexdigest(),
                                            "pinned": False}
    assert files["gtcrn_onnx"] == {"sha256": "missing", "pinned": True}
    assert "no published sha256" in capsys.readouterr().err


def test_report_provenance_names_unpinned_file_and_a_swap_reruns(isolated_env, asset_mirror,
                                                                 monkeypatch, corpora):
    """A run whose system uses an unpinned asset: the report's provenance lists the file's
    sha256 as unpinned, and after the file is swapped the same run restores again."""
    import dataclasses

    import runner_support as rs

    from benchmark.core import paths
    from benchmark.report.writer import write_report
    from benchmark.run.runner import RunConfig, Runner
    from systems.base import SYSTEMS, System, SystemInfo, SystemSpec

    monkeypatch.setitem(assets.ASSETS, "gtcrn_unpinned", dataclasses.replace(
        assets.get_asset("gtcrn_onnx"), name="gtcrn_unpinned", sha256="", size=0,
        path="gtcrn_unpinned/gtcrn.onnx"))
    (isolated_env / "mirror/gtcrn_unpinned").mkdir(parents=True)
    (isolated_env / "mirror/gtcrn_unpinned/gtcrn.onnx").write_bytes(
        (asset_mirror / "gtcrn/gtcrn.onnx").read_bytes())
    monkeypatch.setenv("BENCHMARK_ASSET_MIRROR", str(isolated_env / "mirror"))

    class UsesUnpinned(System):
        info = SystemInfo(name="t_unpinned", version="1", rate=16000, backend="numpy",
                          description="test: identity, needs an unpinned asset",
                          assets=("gtcrn_unpinned",))

        def restore(self, items):
            return [it.audio for it in items]

    SYSTEMS.register(UsesUnpinned)
    try:
        rs.make_vb_set(corpora, paths.testsets_dir(), n=1)
        cfg = RunConfig("unpinned", [SystemSpec("t_unpinned")], testsets=["vb_pairs"],
                        metrics=["si_snr"], profile="offline")
        first = Runner(cfg).run(argv=["test"])
        md = write_report("unpinned").read_text()
        assert table_rows(md, "asset")[1]["gtcrn_unpinned"] == {
            "asset": "gtcrn_unpinned", "sha256": f"`{GTCRN_SHA}`", "pinned": "**unpinned**"}
        assert Runner(cfg).run(argv=["test"]).restored == 0           # cached
        cached = assets.get_asset("gtcrn_unpinned").cached_path()
        cached.write_bytes(cached.read_bytes() + b"\0")                # a different file
        again = Runner(cfg).run(argv=["test"])
        assert first.restored == again.restored == 1
        md = write_report("unpinned").read_text()
        assert GTCRN_SHA not in md.split("Asset files")[1].split("Systems:")[0]
    finally:
        SYSTEMS.unregister("t_unpinned")


def test_symlinks_in_the_cache_are_never_written_through(isolated_env, asset_mirror):
    """The audit's case with the real CLI: a `.part` symlinked to a user's file made `assets
    fetch` append the download to that file. Now the link is dropped and the download lands in
    the cache; a stamp link is replaced; a cache file linking out of the cache is refused."""
    import os
    env = {**os.environ, "BENCHMARK_ASSET_MIRROR": str(asset_mirror)}
    target = isolated_env / "cache/gtcrn/gtcrn.onnx"
    target.parent.mkdir(parents=True)
    victim = isolated_env / "thesis.tex"
    victim.write_text("six months of work")
    part = target.with_name(target.name + ".part")
    part.symlink_to(victim)
    stamp = target.with_name(target.name + ".verified")
    stamp.symlink_to(victim)
    r = _cli("assets", "fetch", "gtcrn_onnx", env=env)
    assert r.returncode == 0, r.stderr
    assert victim.read_text() == "six months of work"
    assert not target.is_symlink() and assets.sha256_of(target) == GTCRN_SHA
    assert not stamp.is_symlink() and GTCRN_SHA in stamp.read_text()
    # the cache file itself linking out of the cache: one message, nothing read or written
    target.unlink()
    target.symlink_to(victim)
    r = _cli("assets", "fetch", "gtcrn_onnx", env=env)
    assert r.returncode != 0 and "Traceback" not in r.stderr + r.stdout
    assert (f"asset 'gtcrn_onnx': the cache file {target} is a symlink to {victim.resolve()}, outside "
            f"the cache {(isolated_env / 'cache').resolve()}; nothing was read or written through it") in r.stdout + r.stderr
    assert victim.read_text() == "six months of work"


def test_the_verification_stamp_serves_loads_only_while_the_file_is_unchanged(isolated_env, asset_mirror,
                                                                             monkeypatch):
    """A fetched asset is hashed once: its stamp (sha256 with the file's size, mtime and inode,
    benchmark.core.hashing) serves the next loads; a stamp of the older format (no inode) or a
    damaged one is never trusted: the file is hashed again and the stamp rewritten."""
    import json
    import os

    from benchmark.assets import download
    monkeypatch.setenv("BENCHMARK_ASSET_MIRROR", str(asset_mirror))
    calls = []
    real = download.sha256_of
    monkeypatch.setattr(download, "sha256_of", lambda p, desc="": calls.append(p) or real(p, desc))
    path = assets.fetch("gtcrn_onnx")
    st = os.stat(path)
    stamp = path.with_name(path.name + ".verified")
    assert json.loads(stamp.read_text()) == {"sha256": GTCRN_SHA, "size": st.st_size,
                                             "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}
    n = len(calls)
    assert assets.fetch("gtcrn_onnx") == path and assets.local_sha256("gtcrn_onnx", path) == GTCRN_SHA
    assert len(calls) == n                                          # served by the stamp
    for bad in ({"sha256": GTCRN_SHA, "size": st.st_size, "mtime_ns": st.st_mtime_ns},
                {"sha256": GTCRN_SHA, "size": "x", "mtime_ns": st.st_mtime_ns, "inode": st.st_ino},
                [GTCRN_SHA]):
        stamp.write_text(json.dumps(bad))
        assert assets.fetch("gtcrn_onnx") == path and len(calls) == n + 1, bad
        assert json.loads(stamp.read_text())["inode"] == st.st_ino
        n += 1
