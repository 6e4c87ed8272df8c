"""The one English text normaliser applied to both the reference transcript and the ASR output.

Steps, in order:
1. Unicode NFKC, then accents stripped (café -> cafe); curly quotes/dashes mapped to ASCII.
2. Lower case.
3. Symbols spelled out: "&" -> "and", "%" -> "percent", "$5" -> "5 dollars", "£5" -> "5 pounds".
4. Numbers spelled out as cardinals ("1,200" -> "one thousand two hundred"); ordinals
   ("21st" -> "twenty first"); decimals digit by digit after "point" ("2.5" -> "two point five").
   Years are read as cardinals too (one rule for every number; the ASR side goes through the
   same rule, so only the spoken form, not the written one, matters).
5. Abbreviations: mr -> mister, mrs -> missus, dr -> doctor, st -> saint, vs -> versus.
6. Hyphens and slashes become spaces; all other punctuation is removed, except apostrophes
   inside words (don't, o'clock); stray apostrophes are removed.
7. British spellings mapped to American ones from a fixed list (colour -> color, ...).
8. Whitespace collapsed. The result is a space-separated word string (may be empty).
"""

from __future__ import annotations

import re
import unicodedata

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = [(10 ** 12, "trillion"), (10 ** 9, "billion"), (10 ** 6, "million"), (1000, "thousand")]
_ORD = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
        "nine": "ninth", "twelve": "twelfth"}

ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint", "vs": "versus",
                 "prof": "professor", "mt": "mount"}

BRITISH_TO_AMERICAN = {
    "colour": "color", "colours": "colors", "favour": "favor", "favourite": "favorite",
    "honour": "honor", "labour": "labor", "neighbour": "neighbor", "neighbours": "neighbors",
    "behaviour": "behavior", "humour": "humor", "harbour": "harbor", "rumour": "rumor",
    "centre": "center", "centres": "centers", "theatre": "theater", "metre": "meter",
    "metres": "meters", "litre": "liter", "fibre": "fiber", "organise": "organize",
    "organised": "organized", "realise": "realize", "realised": "realized",
    "recognise": "recognize", "recognised": "recognized", "apologise": "apologize",
    "criticise": "criticize", "analyse": "analyze", "travelled": "traveled",
    "travelling": "traveling", "cancelled": "canceled", "grey": "gray", "defence": "defense",
    "offence": "offense", "licence": "license", "programme": "program", "cheque": "check",
    "tyre": "tire", "plough": "plow", "jewellery": "jewelry", "mum": "mom", "catalogue": "catalog",
    "dialogue": "dialog", "ageing": "aging", "judgement": "judgment", "towards": "toward",
}


def number_to_words(n: int) -> str:
    if n < 0:
        return "minus " + number_to_words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + number_to_words(rest))
    for value, name in _SCALES:
        if n >= value:
            rest = n % value
            return (number_to_words(n // value) + " " + name
                    + ("" if rest == 0 else " " + number_to_words(rest)))
    raise AssertionError(n)


def _ordinal(words: str) -> str:
    head, _, last = words.rpartition(" ")
    if last in _ORD:
        last = _ORD[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return (head + " " + last).strip()


def _number(match: re.Match) -> str:
    text = match.group(0).replace(",", "")
    if text.endswith("s") and not text.endswith(("st", "nd", "rd", "th")):
        words = number_to_words(int(text[:-1]))      # "1990s" -> "... nineties"
        return " " + (words[:-1] + "ies" if words.endswith("y") else words + "s") + " "
    suffix = re.search(r"(st|nd|rd|th)$", text)
    if suffix:
        return " " + _ordinal(number_to_words(int(text[:suffix.start()]))) + " "
    whole, _, frac = text.partition(".")
    out = number_to_words(int(whole)) if whole else "zero"
    if frac:
        out += " point " + " ".join(_ONES[int(d)] for d in frac)
    return " " + out + " "


def normalize(text: str) -> str:
    t = unicodedata.normalize("NFKC", text)
    t = "".join(c for c in unicodedata.normalize("NFKD", t) if not unicodedata.combining(c))
    t = t.translate(str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                                   "\u2013": "-", "\u2014": "-"}))
    t = t.lower()
    t = re.sub(r"\$(\d[\d,]*(?:\.\d+)?)", r"\1 dollars", t)
    t = re.sub(r"£(\d[\d,]*(?:\.\d+)?)", r"\1 pounds", t)
    t = t.replace("&", " and ").replace("%", " percent ")
    t = re.sub(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:st|nd|rd|th|s)\b|\d+\.\d+|\d+", _number, t)
    t = re.sub(r"[-/]", " ", t)
    t = re.sub(r"[^a-z' ]+", " ", t)
    t = re.sub(r"(?<![a-z])'|'(?![a-z])", " ", t)
    words = [ABBREVIATIONS.get(w, w) for w in t.split()]
    words = [BRITISH_TO_AMERICAN.get(w, w) for w in words]
    return " ".join(words)
