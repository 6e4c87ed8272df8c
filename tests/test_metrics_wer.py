import pytest
from metrics_support import item, vctk_clips, voicebank

from metrics import METRICS, ItemScore
from metrics._text_norm import normalize
from metrics.wer import word_counts


@pytest.mark.parametrize("raw, expected", [
    ("Please call Stella.", "please call stella"),
    ("Mr. Smith paid $1,200 for 3 TVs!", "mister smith paid $1200 for 3 tvs"),
    ("twelve hundred dollars", "$1200"),
    ("It's 10% off; don't 'quote' me.", "it is 10% off do not quote me"),
    ("The COLOUR of the theatre's centre", "the color of the theater is center"),  # Whisper's 's
    ("on the 21st of May, the 1990s", "on the 21st of may the 1990s"),
    ("on the twenty first of may, the nineteen nineties", "on the 21st of may the 1990s"),
    ("Café-owner Dr. Brown & co.", "cafe owner doctor brown and co"),     # own rule: & -> and
    ("2.5 kg — “quoted” — 1st/2nd", "2.5 kg quoted 1st 2nd"),
    ("Okay, uh, fourteen fifty-five", "ok 1455"),                         # own rule: okay -> ok
    ("  \t ", ""),
])
def test_whisper_normaliser_on_tricky_strings(raw, expected):
    assert normalize(raw) == expected


def _vctk_text(corpora, speaker):
    return next((corpora / "VCTK-Corpus-0.92" / "txt" / speaker).glob("*.txt")).read_text().strip()


def _libri_texts(corpora):
    out = {}
    for f in sorted((corpora / "LibriSpeech/test-clean").rglob("*.trans.txt")):
        for line in f.read_text().splitlines():
            key, _, text = line.partition(" ")
            out[key] = text
    return out


def test_spoken_form_hypotheses_meet_written_transcripts(corpora):
    """Real VCTK / LibriSpeech transcripts against spoken-form (digits, years, money, contractions)
    ASR-style hypotheses: 0 edits after normalising both sides; a real word error still counts."""
    peas, bags = _vctk_text(corpora, "p362"), _vctk_text(corpora, "p364")
    libri = _libri_texts(corpora)
    assert peas.startswith("Six spoons") and "three red bags, and we will go" in bags
    cases = [
        (peas, "6 spoons of fresh snow peas 5 thick slabs of blue cheese and maybe a snack for her brother bob", 0),
        (bags, "she can scoop these things into 3 red bags and we'll go meet her wednesday at the train station", 0),
        (libri["2830-3980-0043"] + " since 1455", "experience proves this since fourteen fifty five", 0),
        (libri["8455-210777-0068"] + " it cost $5.50", "your power is sufficient i said it cost five dollars and fifty cents", 0),
        (libri["4507-16021-0012"] + " in the 1990s", "why should one halt on the way in the nineteen nineties", 0),
        (peas, "6 spoons of fresh snow peas 5 thick slabs of blue cheese and maybe a snake for her brother bob", 1),
    ]
    for ref, hyp, edits in cases:
        c = word_counts(ref, hyp)
        assert c["sub"] + c["del"] + c["ins"] == edits, (ref, hyp, c)
    # both sides normalised: 20 reference words in the peas sentence ("six" -> "6"), not 21
    assert word_counts(peas, peas)["ref_words"] == len(normalize(peas).split()) == 20
    # reading "1455" as a cardinal would give "one thousand four hundred fifty five" vs "fourteen
    # fifty five": 3 substitutions + 3 deletions in a 9-word reference (the old normaliser's 67 %)
    assert normalize("since 1455") == normalize("since fourteen fifty five") == "since 1455"


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


def _long_speech(corpora, seconds: float):
    """Real VCTK speech (16 kHz) repeated to `seconds`, with its pauses between utterances."""
    import numpy as np

    from benchmark.core.audio import read_audio, resample
    parts = [resample(*read_audio(f), 16000) for f in vctk_clips(corpora)]
    return np.resize(np.concatenate(parts), int(seconds * 16000)).astype(np.float32)


def test_long_items_are_cut_at_quiet_frames_into_bounded_pieces(corpora):
    import numpy as np

    from metrics import _asr
    x = _long_speech(corpora, 200.0)
    assert _asr.utterance_pieces(x[:16000 * 60]) == [(0, 16000 * 60)]     # up to 60 s: one utterance
    pieces = _asr.utterance_pieces(x)
    assert pieces[0][0] == 0 and pieces[-1][1] == x.size
    assert all(b == a2 for (_, b), (a2, _) in zip(pieces, pieces[1:], strict=False))   # contiguous
    lengths = np.array([b - a for a, b in pieces]) / 16000
    assert lengths.max() <= 30.0 and lengths[:-1].min() >= 20.0, lengths
    # each cut is at the quietest 10 ms of its 20-30 s span: far below the item's median frame
    energy = (x[: x.size // 160 * 160].reshape(-1, 160).astype(np.float64) ** 2).sum(axis=1)
    for _, cut in pieces[:-1]:
        assert energy[cut // 160] <= np.quantile(energy, 0.05), cut


def test_pocketsphinx_decodes_long_items_piece_by_piece(corpora, monkeypatch):
    from metrics import _asr
    asr = _asr.PocketSphinxASR()
    asr.load("cpu")
    x = _long_speech(corpora, 9.0)
    monkeypatch.setattr(_asr, "MAX_UTTERANCE_S", 4.0)
    monkeypatch.setattr(_asr, "PIECE_MIN_S", 2.0)
    monkeypatch.setattr(_asr, "PIECE_MAX_S", 3.0)
    pieces = _asr.utterance_pieces(x)
    assert len(pieces) >= 3
    alone = [asr._decode(x[a:b]) for a, b in pieces]
    (joined,) = asr.transcribe([x])
    assert joined == " ".join(h for h in alone if h) and len(joined.split()) >= 5, joined


def test_wer_hypothesis_of_an_item_is_the_same_alone_and_in_a_folder(corpora):
    """Two noisy VoiceBank items (3 s each) scored as one batch (a folder) and each alone by a fresh
    metric: identical hypotheses. The test can fail: the same pocketsphinx decoder without the
    per-item reset gives the second item another hypothesis (its live cepstral mean carries over
    from the first item: "what oscar to bring them..." instead of "to an oscar to bring them...")."""
    import numpy as np

    from metrics._asr import to_int16
    items = [item(n, text=t) for n, _, t in voicebank(corpora)[:2]]
    folder = METRICS.get("wer")()
    together = [s.aux["hypothesis"] for s in folder.score(items)]
    # the first item of the folder met a fresh decoder; the second is scored alone by a new metric
    alone = [together[0], METRICS.get("wer")().score(items[1:])[0].aux["hypothesis"]]
    assert together == alone and all(together)
    # what the reset prevents: the same decoder, the first item, then the second without reset
    asr = folder._asr
    asr._decoder.reinit_feat()
    pcm = [folder.at_rate(np.asarray(it.audio, np.float32), it.rate) for it in items]
    carried = [normalize(asr._decode(x)) for x in pcm]
    assert carried[0] == alone[0] and carried[1] != alone[1]
    # int16 by rounding: 0.5 LSB up, not truncated toward zero
    assert to_int16(np.array([0.49, 0.51, -0.51, 2e5]) / 32767).tolist() == [0, 1, -1, 32767]
