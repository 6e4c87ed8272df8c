"""The English text normaliser applied to both the reference transcript and the ASR output.

Whisper's English normaliser, `EnglishTextNormalizer` of the `whisper-normalizer` package (a
packaged copy of openai/whisper `whisper/normalizers/english.py`), the convention of the field's
ASR evaluation toolkits (ESPnet, the Open ASR Leaderboard, VERSA). It lower-cases, removes
bracketed text and fillers (uh, um, hmm), expands contractions and titles ("don't" -> "do not",
"Mr." -> "mister"), maps British to American spellings (~1,700 words), and writes spoken numbers
*as digits*: "fourteen fifty five" and "1455" both become "1455", "five dollars and fifty cents"
and "$5.50" both "$5.50", "nineteen nineties" and "1990s" both "1990s", "twenty first" "21st".
So a spoken-form ASR hypothesis meets a written-form transcript (the reverse of reading every
number as a cardinal, which cost 1-4 errors per year-like number).

Our own rules, only where it has none (applied around it, both sides alike):
- before: "&" -> " and " (Whisper drops the symbol: "rock & roll" would become "rock roll");
- after: "okay" -> "ok" (its spelling map keeps both forms; ASR systems emit either).
The result is a space-separated word string (may be empty).
"""

from __future__ import annotations

from functools import cache

from metrics._common import pkg_version

OWN_AFTER = {"okay": "ok"}


@cache
def _whisper():
    from benchmark.core.deps import require
    english = require("whisper_normalizer.english", "core", "WER text normalisation")
    return english.EnglishTextNormalizer()


def normalize(text: str) -> str:
    t = (text or "").replace("&", " and ")
    words = _whisper()(t).split()
    return " ".join(OWN_AFTER.get(w, w) for w in words)


def normalizer_version() -> str:
    return f"EnglishTextNormalizer ({pkg_version('whisper-normalizer')}) + &->and, okay->ok"
