import pytest
from metrics_support import item, voicebank

from metrics import METRICS, ItemScore
from metrics._text_norm import normalize, number_to_words


@pytest.mark.parametrize("raw, expected", [
    ("Please call Stella.", "please call stella"),
    ("Mr. Smith paid $1,200 for 3 TVs!", "mister smith paid one thousand two hundred dollars for three tvs"),
    ("It's 10% off; don't 'quote' me.", "it's ten percent off don't quote me"),
    ("The COLOUR of the theatre's centre", "the color of the theatre's center"),
    ("on the 21st of May, the 1990s", "on the twenty first of may the nineteen ninety s".replace(
        "nineteen ninety s", "one thousand nine hundred nineties")),
    ("Café-owner Dr. Brown & co.", "cafe owner doctor brown and co"),
    ("2.5 kg — “quoted” — 1st/2nd", "two point five kg quoted first second"),
    ("  \t ", ""),
])
def test_normaliser_on_tricky_strings(raw, expected):
    assert normalize(raw) == expected


def test_number_words():
    assert number_to_words(0) == "zero"
    assert number_to_words(115) == "one hundred fifteen"
    assert number_to_words(2_000_019) == "two million nineteen"


def test_corpus_wer_is_sum_of_edits_over_sum_of_words_not_mean():
    m = METRICS.get("wer")()
    scores = [ItemScore(values={"WER": 100.0}, aux={"edits": 1, "ref_words": 1}),
              ItemScore(values={"WER": 0.0}, aux={"edits": 0, "ref_words": 9}),
              ItemScore(error="ASR failed")]
    assert m.aggregate(scores)["WER"] == pytest.approx(10.0)      # the mean would be 50


@pytest.mark.slow
def test_pocketsphinx_wer_real_clips_noisier_is_worse(corpora):
    m = METRICS.get("wer")()                      # offline default backend
    assert m.backend == "pocketsphinx"
    pairs = voicebank(corpora)[1:3]
    clean = [item(c, text=t) for _, c, t in pairs]
    noisy = [item(n, text=t) for n, _, t in pairs]
    lib = sorted((corpora / "LibriSpeech/test-clean").rglob("*.flac"))[0]   # 2.0 s
    trans = {ln.split(" ", 1)[0]: ln.split(" ", 1)[1] for ln in
             lib.with_name(lib.parent.parent.name + "-" + lib.parent.name + ".trans.txt").read_text().splitlines()}
    s_clean = m.score(clean + [item(lib, text=trans[lib.stem])])
    s_noisy = m.score(noisy)
    for s in s_clean + s_noisy:
        assert s.error is None and s.aux["ref_words"] > 0 and s.values["WER"] >= 0
        assert s.values["WER"] == pytest.approx(100 * s.aux["edits"] / s.aux["ref_words"])
    wer_clean, wer_noisy = m.aggregate(s_clean[:2])["WER"], m.aggregate(s_noisy)["WER"]
    assert 0 <= wer_clean < 80 and wer_noisy > wer_clean + 10, (wer_clean, wer_noisy)
    assert "pocketsphinx" in m.backend_version


def test_wer_item_without_transcript_is_a_recorded_error(corpora):
    _, clean, _ = voicebank(corpora)[0]
    (s,) = METRICS.get("wer")().score([item(clean)])
    assert s.error and "transcript" in s.error
