import numpy as np
import pytest
import soundfile as sf
import soxr

from benchmark.core.audio import read_audio, resample, sha256_file, write_audio
from benchmark.core.errors import AudioError


def test_read_real_flac_and_wav(corpora):
    x, rate = read_audio(corpora / "VCTK-Corpus-0.92/wav48_silence_trimmed/p360/p360_001_mic1.flac")
    assert rate == 48000 and x.dtype == np.float32 and x.ndim == 1 and len(x) > rate
    ref, _ = sf.read(corpora / "VCTK-Corpus-0.92/wav48_silence_trimmed/p360/p360_001_mic1.flac",
                     dtype="float32")
    np.testing.assert_array_equal(x, ref)
    y, rate = read_audio(corpora / "VoiceBank-DEMAND/clean_testset_wav/p287_001.wav")
    assert rate == 16000 and np.abs(y).max() <= 1.0


def test_write_roundtrip_is_lossless_and_atomic(tmp_path, corpora):
    x, rate = read_audio(corpora / "LibriSpeech/test-clean/2830/3980/2830-3980-0043.flac")
    out = write_audio(tmp_path / "sub" / "a.wav", x, rate)
    y, r2 = read_audio(out)
    assert r2 == rate
    np.testing.assert_array_equal(x, y)
    assert [p.name for p in out.parent.iterdir()] == ["a.wav"]  # no temp files left
    write_audio(tmp_path / "b.flac", x, rate)
    z, _ = read_audio(tmp_path / "b.flac")
    assert np.max(np.abs(z - x)) < 2.0 ** -22  # 24-bit FLAC


def test_resample_is_soxr_vhq(corpora):
    x, rate = read_audio(corpora / "VCTK-Corpus-0.92/wav48_silence_trimmed/p361/p361_002_mic1.flac")
    y = resample(x, rate, 44100)
    assert len(y) == round(len(x) * 44100 / 48000)
    np.testing.assert_allclose(y, soxr.resample(x, rate, 44100, quality="VHQ"), atol=0)
    assert resample(x, rate, rate) is not None and len(resample(x, rate, rate)) == len(x)


@pytest.mark.parametrize("content, message", [
    (np.zeros((100, 2), np.float32), "found 2 channels, expected mono"),
    (np.zeros((0,), np.float32), "found 0 samples"),
])
def test_bad_files_give_clear_errors(tmp_path, content, message):
    p = tmp_path / "bad.wav"
    sf.write(p, content, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=message):
        read_audio(p)


def test_nan_and_unreadable(tmp_path):
    p = tmp_path / "nan.wav"
    x = np.zeros(1000, np.float32)
    x[10] = np.nan
    sf.write(p, x, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="1 NaN/Inf samples"):
        read_audio(p)
    q = tmp_path / "junk.wav"
    q.write_bytes(b"not audio at all")
    with pytest.raises(AudioError, match="cannot read audio"):
        read_audio(q)
    with pytest.raises(AudioError, match="no such audio file"):
        read_audio(tmp_path / "missing.wav")
    with pytest.raises(AudioError, match="NaN/Inf"):
        write_audio(tmp_path / "o.wav", x, 16000)
    assert not (tmp_path / "o.wav").exists()


def test_sha256_file(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"abc")
    assert sha256_file(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_float_wav_bytes_are_reproducible(tmp_path, corpora):
    import time
    x, rate = read_audio(corpora / "VoiceBank-DEMAND/clean_testset_wav/p287_002.wav")
    a = write_audio(tmp_path / "a.wav", x, rate)
    time.sleep(1.1)  # libsndfile's PEAK chunk stores a timestamp in seconds
    b = write_audio(tmp_path / "b.wav", x, rate)
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("rate_in, rate_out", [(16000, 500), (1, 16000), (16000, 768000)])
def test_resample_refuses_rates_outside_the_item_limits(rate_in, rate_out):
    """The rates a header may declare (1 kHz to 384 kHz) bound resampling too: a hostile rate is
    one clear error, never a huge allocation."""
    with pytest.raises(AudioError, match=rf"cannot resample from {rate_in} Hz to {rate_out} Hz: "
                                         r"rates must be 1000 to 384000 Hz"):
        resample(np.zeros(1000, np.float32), rate_in, rate_out)
