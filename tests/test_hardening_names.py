"""Hostile names on real audio: run names that are paths, report folders holding the user's own
files, Markdown/HTML injected through item ids, and the file modes the process umask asks for."""

from __future__ import annotations

import json
import os
import stat
from html.parser import HTMLParser

import numpy as np
import pytest
import runner_support as rs

from benchmark.cli import main
from benchmark.core import paths
from benchmark.core.audio import read_audio, write_audio
from benchmark.core.errors import UnsafePathError
from benchmark.core.files import MEDIA_MARKER, atomic_write
from benchmark.report import mdhtml
from benchmark.run.store import validate_run_name


@pytest.fixture
def plugins(monkeypatch, tmp_path):
    rs.register()
    monkeypatch.setenv(rs.CALLS_ENV, str(tmp_path / "calls.log"))
    yield
    rs.unregister()


def _tree(root) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


@pytest.mark.parametrize("bad", ["../../x", "a/b", "..", ".hidden", "a b", "", "x" * 101, "ok\n",
                                 "ABS"])
def test_run_report_merge_refuse_names_that_are_paths(isolated_env, plugins, capsys, bad):
    bad = str(isolated_env / "elsewhere") if bad == "ABS" else bad
    before = _tree(isolated_env)
    for argv in (["run", "--systems", "t_half", "--name", bad, "--profile", "offline"],
                 ["report", bad, "--html"], ["merge", bad]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: run name {bad!r} is not allowed: use 1 to 100 characters "
                              "from A-Z a-z 0-9 . _ -"), err
    assert _tree(isolated_env) == before          # nothing created or deleted anywhere
    assert validate_run_name("paper-v1.2_b") == "paper-v1.2_b"


def test_report_deletes_only_folders_it_wrote(isolated_env, corpora, plugins, capsys):
    rs.make_vb_set(corpora, paths.testsets_dir(), n=2)
    assert main(["run", "--systems", "t_half", "--metrics", "t_rms", "--name", "r1",
                 "--profile", "offline"]) == 0
    mine = isolated_env / "mine"
    for sub in ("listen", "plots"):
        (mine / sub).mkdir(parents=True)
        (mine / sub / "notes.txt").write_text("the user's own file")
    capsys.readouterr()
    assert main(["report", "r1", "--out", str(mine), "--html"]) == 2
    err = capsys.readouterr().err
    assert "exists and was not written by the benchmark" in err and "nothing was deleted" in err
    assert (mine / "plots" / "notes.txt").read_text() == "the user's own file"
    assert (mine / "listen" / "notes.txt").read_text() == "the user's own file"
    (mine / "plots" / "notes.txt").unlink()
    (mine / "listen" / "notes.txt").unlink()
    (mine / "plots").rmdir()
    (mine / "listen").rmdir()
    for _ in range(2):                            # a folder the benchmark wrote is replaced
        assert main(["report", "r1", "--out", str(mine), "--html"]) == 0
        assert (mine / "listen" / MEDIA_MARKER).is_file() and (mine / "plots" / MEDIA_MARKER).is_file()
    assert not [p for p in mine.iterdir() if p.name.startswith(".listen") or p.name.startswith(".plots")]


class _Attrs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k in ("src", "href", "srcset", "poster", "data", "action", "formaction"):
                self.urls.append(v or "")
            if k.startswith("on"):
                self.handlers.append(f"{tag} {k}")


INJECT = ("evil](javascript:alert(1)) ![x](http://evil.example/x.png) <script>alert(1)</script> "
          "<img src=//evil.example/y.png onerror=alert(1)> [z](../../etc/passwd)")


def test_injected_markdown_loads_nothing_from_outside_the_page(isolated_env, corpora, plugins):
    folder = rs.make_vb_set(corpora, paths.testsets_dir(), n=2)
    with open(folder / "manifest.jsonl", "a") as f:      # an item whose id and error carry markup
        f.write(json.dumps({"id": INJECT, "degraded": "degraded/" + INJECT.replace("/", "_") + ".wav",
                            "target": None, "rate": 16000, "target_rate": None, "duration": 1.0}) + "\n")
    assert main(["run", "--systems", "t_half", "--metrics", "t_rms", "--name", "inj",
                 "--profile", "offline", "--listen-items", "5"]) == 0
    out = paths.reports_dir() / "inj"
    md = (out / "report.md").read_text()
    assert "Item errors: 1" in md
    page = _Attrs()
    page.feed((out / "index.html").read_text())
    assert "script" not in page.tags and page.handlers == []
    assert page.urls and all(mdhtml.is_local_url(u) for u in page.urls), page.urls
    for u in page.urls:                                   # and every one exists in the folder
        if not u.startswith("#"):
            assert (out / u).is_file(), u
    # the renderer on its own: every non-local URL stays literal text
    html = mdhtml.to_html("[a](javascript:alert(1)) ![b](http://e.example/b.png) ![c](//e.example/c.png) "
                          "![d](/etc/d.png) ![e](../e.png) [f](data:text/html,x) <http://e.example> "
                          "<b onclick=x>raw</b> ![ok](plots/ok.png) [ok](#r-top)")
    p = _Attrs()
    p.feed(html)
    assert p.urls == ["plots/ok.png", "#r-top"] and p.handlers == []
    assert "&lt;b onclick=x&gt;raw&lt;/b&gt;" in html


def test_files_follow_the_process_umask(isolated_env, corpora, plugins):
    x, rate = read_audio(corpora / "VoiceBank-DEMAND/clean_testset_wav/p287_001.wav")
    old = os.umask(0o022)
    try:
        rs.make_vb_set(corpora, paths.testsets_dir(), n=1)
        assert main(["run", "--systems", "t_half", "--metrics", "t_rms", "--name", "um",
                     "--profile", "offline"]) == 0
        made = [*(paths.runs_dir() / "um" / "outputs").rglob("*.wav"),
                *(paths.reports_dir() / "um").glob("*.*"),
                *(paths.reports_dir() / "um" / "listen").rglob("*.flac")]
        assert len(made) >= 6
        assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in made} == {"0o644"}
        os.umask(0o077)
        assert stat.S_IMODE(write_audio(isolated_env / "a.wav", x, rate).stat().st_mode) == 0o600
        assert stat.S_IMODE(atomic_write(isolated_env / "b.txt", "x").stat().st_mode) == 0o600
        os.umask(0o002)
        assert stat.S_IMODE(write_audio(isolated_env / "c.flac", x, rate).stat().st_mode) == 0o664
    finally:
        os.umask(old)
    assert np.array_equal(read_audio(isolated_env / "a.wav")[0], x)


def test_staged_media_folder_refuses_a_symlinked_media_folder(tmp_path):
    from benchmark.core.files import StagedDir
    (tmp_path / "victim").mkdir()
    (tmp_path / "victim" / MEDIA_MARKER).write_text("")
    (tmp_path / "victim" / "keep.png").write_bytes(b"png")
    (tmp_path / "report").mkdir()
    os.symlink(tmp_path / "victim", tmp_path / "report" / "listen")
    with pytest.raises(UnsafePathError, match="nothing was deleted"):
        StagedDir(tmp_path / "report", "listen")
    assert (tmp_path / "victim" / "keep.png").read_bytes() == b"png"
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == ["listen"]   # nothing made


def test_staged_media_folder_replaces_the_old_one_only_on_success(tmp_path):
    from benchmark.core.files import StagedDir
    with StagedDir(tmp_path, "plots") as st:
        (st.path / "a.png").write_bytes(b"1")
    assert (tmp_path / "plots" / "a.png").read_bytes() == b"1"
    with pytest.raises(OSError), StagedDir(tmp_path, "plots") as st:
        (st.path / "b.png").write_bytes(b"2")
        raise OSError(28, "No space left on device")
    # the failed replacement left the old folder whole and no staged folder behind
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [MEDIA_MARKER, "a.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plots"]
