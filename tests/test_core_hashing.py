"""benchmark.core.hashing on a real clip: the stamp is reused while size, mtime and inode are the
file's, and any change of bytes in place, of mtime or of the file behind the path (a same-size,
same-mtime replacement) hashes it again; the per-process memo hashes a file once."""

from __future__ import annotations

import hashlib
import os
import shutil

from conftest import CORPORA

from benchmark.core import hashing
from benchmark.core.hashing import FileStamp, sha256_memo, stamp_file

CLIP = CORPORA / "VoiceBank-DEMAND" / "clean_testset_wav" / "p287_001.wav"


def _counting(calls: list):
    def hasher(path):
        calls.append(path)
        return hashlib.sha256(path.read_bytes()).hexdigest()
    return hasher


def test_stamp_is_reused_only_while_the_file_is_unchanged(tmp_path):
    f = tmp_path / "a.wav"
    shutil.copyfile(CLIP, f)
    want = hashlib.sha256(CLIP.read_bytes()).hexdigest()
    calls: list = []
    hasher = _counting(calls)
    first = stamp_file(f, None, hasher)
    st = os.stat(f)
    assert first == FileStamp(st.st_size, st.st_mtime_ns, st.st_ino, want) and len(calls) == 1
    assert stamp_file(f, first, hasher) is first and len(calls) == 1          # unchanged: no hash
    # rewritten in place: same size and inode, other bytes, an mtime only 1 ns later
    data = bytearray(f.read_bytes())
    data[-1] ^= 0xFF
    f.write_bytes(bytes(data))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    second = stamp_file(f, first, hasher)
    assert len(calls) == 2 and second.sha256 == hashlib.sha256(bytes(data)).hexdigest() != want
    # another file moved over the path, with the old size and mtime: only the inode differs
    other = tmp_path / "b.wav"
    other.write_bytes(CLIP.read_bytes())
    os.utime(other, ns=(second.mtime_ns, second.mtime_ns))
    os.replace(other, f)
    assert (os.stat(f).st_size, os.stat(f).st_mtime_ns) == (second.size, second.mtime_ns)
    assert not second.matches(f)
    third = stamp_file(f, second, hasher)
    assert len(calls) == 3 and third.sha256 == want and third.inode != second.inode


def test_memo_hashes_a_file_once_per_signature(tmp_path, monkeypatch):
    f = tmp_path / "model.bin"
    shutil.copyfile(CLIP, f)
    calls: list = []
    monkeypatch.setattr(hashing, "_sha256_file", _counting(calls))
    want = hashlib.sha256(CLIP.read_bytes()).hexdigest()
    assert sha256_memo(f) == sha256_memo(str(f)) == sha256_memo(tmp_path / "." / "model.bin") == want
    assert len(calls) == 1
    f.write_bytes(b"retrained")
    assert sha256_memo(f) == hashlib.sha256(b"retrained").hexdigest() and len(calls) == 2
