"""Arabic text normalisation: one table of what is removed or unified, and the forms built from it.

The table starts from camel-tools' own utilities, applied to every character of the Arabic block:
``dediac_ar``'s character set (tashkeel, superscript alef), ``normalize_alef_ar``,
``normalize_alef_maksura_ar`` (ى -> ي) and ``normalize_teh_marbuta_ar`` (ة -> ه). Ours is wider where news text
needs it; each addition says why below.
camel-tools' ``simple_word_tokenize`` is not used: it gives no character offsets, which entity mentions need,
and it splits «3.5» and «...» into pieces (extractors/entities/tokens.py keeps its own tokenizer).

Forms built on the one table:

* :func:`fold_arabic`: the table alone. warehouse/arabic_sql.py emits exactly this as the DuckDB macro
  ``akhbar_normalize`` (DuckDB has no NFKC), for search and the named queries.
* :func:`normalize_arabic`: NFKC, then the table: for comparing and grouping text (dedup, content hashes, dates,
  boilerplate, canonical entity forms), never for display.
* :func:`fold_word`: the CRF's word form. It also drops joiners and direction marks, removes marks *before* NFKC
  composes (so و + combining hamza gives و, where normalize_arabic gives ؤ) and lower-cases. The shipped CRF
  model was trained on exactly these word forms, so this variant must not change.

Only camel-tools' data-free utilities are used here (no catalogue, no torch).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from camel_tools.utils.normalize import normalize_alef_ar, normalize_alef_maksura_ar, normalize_teh_marbuta_ar

ARABIC_BLOCK = range(0x0600, 0x0700)

# The characters camel-tools' dediac_ar removes (its AR_DIAC_CHARSET: tashkeel, shadda, sukun, superscript alef).
# Written out rather than imported: camel_tools.utils.dediac imports camel_tools.utils.charsets, which builds
# emoji tables at import time (measured: 0.3 s and 40 MB in every worker process). tests/test_arabic.py checks
# this is exactly what dediac_ar removes.
CAMEL_DIACRITICS = frozenset("\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0670")


def _camel_fold(char: str) -> str:
    """camel-tools' dediac_ar, then its alef, alef-maksura and teh-marbuta normalisers, on one character."""
    dediacritised = "" if char in CAMEL_DIACRITICS else char
    return normalize_teh_marbuta_ar(normalize_alef_maksura_ar(normalize_alef_ar(dediacritised)))


# camel-tools' folds of the Arabic block: {character: replacement}; "" means the character is removed.
CAMEL_FOLDS: dict[str, str] = {c: _camel_fold(c) for c in map(chr, ARABIC_BLOCK) if _camel_fold(c) != c}


def _chars(*ranges: tuple[int, int]) -> frozenset[str]:
    return frozenset(chr(cp) for first, last in ranges for cp in range(first, last + 1))


# Marks dediac_ar keeps that news text carries and comparisons must ignore like tashkeel: honorific and Quranic
# signs above letters (U+0610-061A), madda and hamza written as combining marks and rarer vowel signs
# (U+0653-065F), Quranic annotation marks (U+06D6-06DC, 06DF-06E8, 06EA-06ED) in quoted verses.
EXTRA_MARKS = _chars((0x0610, 0x061A), (0x0653, 0x065F), (0x06D6, 0x06DC), (0x06DF, 0x06E8), (0x06EA, 0x06ED))
# Tatweel only stretches a word on the line; camel-tools' dediac_ar keeps it.
TATWEEL = "\u0640"
# camel-tools has no digit folding: Eastern Arabic (٠-٩) and Persian (۰-۹) digits become ASCII, so dates and
# numbers compare equal whichever digits a site writes.
DIGIT_FOLDS: dict[str, str] = {chr(base + i): str(i) for base in (0x0660, 0x06F0) for i in range(10)}

REMOVED: frozenset[str] = frozenset(c for c, out in CAMEL_FOLDS.items() if not out) | EXTRA_MARKS | {TATWEEL}
"""Characters the table removes: diacritics and other marks, tatweel."""
UNIFIED: dict[str, str] = {**{c: out for c, out in CAMEL_FOLDS.items() if out}, **DIGIT_FOLDS}
"""Characters the table replaces: alef variants -> ا, ى -> ي, ة -> ه, digits -> ASCII."""

JOINERS = "\u200c\u200d"  # zero-width non-joiner and joiner: they shape letters inside a word
DIRECTION_MARKS = "\u200e\u200f"  # left-to-right and right-to-left marks
# Characters that print nothing: zero-width space, joiners, direction marks, embeddings and isolates, BOM.
INVISIBLE: frozenset[str] = _chars((0x200B, 0x200F), (0x202A, 0x202E), (0x2066, 0x2069), (0xFEFF, 0xFEFF))

FOLD_TABLE = str.maketrans({**dict.fromkeys(REMOVED), **UNIFIED})
WORD_TABLE = str.maketrans({**dict.fromkeys(REMOVED | set(JOINERS + DIRECTION_MARKS)), **UNIFIED})
INVISIBLE_TABLE = str.maketrans(dict.fromkeys(INVISIBLE))

_ARABIC_LETTER = re.compile("[\u0621-\u064a]")


def code_point_ranges(chars: Iterable[str]) -> list[tuple[int, int]]:
    """The characters' code points, sorted and grouped into inclusive (first, last) ranges."""
    ranges: list[tuple[int, int]] = []
    for cp in sorted({ord(c) for c in chars}):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    return ranges


def regex_class(chars: Iterable[str]) -> str:
    """The inside of a Python regex character class matching exactly `chars` (no brackets)."""
    parts = (f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in code_point_ranges(chars))
    return "".join(parts)


def fold_arabic(text: str) -> str:
    """The table alone: no diacritics or tatweel, one alef, ى -> ي, ة -> ه, ASCII digits (no NFKC)."""
    return text.translate(FOLD_TABLE)


def normalize_arabic(text: str) -> str:
    """NFKC, then the table. The form for comparing and grouping text, never for display."""
    return unicodedata.normalize("NFKC", text).translate(FOLD_TABLE)


def fold_word(word: str) -> str:
    """The CRF's comparison form of one word (see the module doc for how it differs from normalize_arabic)."""
    out = word.translate(WORD_TABLE)
    if not out.isascii():
        out = unicodedata.normalize("NFKC", out).translate(WORD_TABLE)
    return out.lower()


def remove_invisible(text: str) -> str:
    """`text` without zero-width and direction-control characters."""
    return text.translate(INVISIBLE_TABLE)


def arabic_ratio(text: str) -> float:
    """Share of letters in `text` that are Arabic letters (0.0 when there are no letters)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if _ARABIC_LETTER.match(c)) / len(letters)


# Code points no stored string may hold: lone surrogates (a broken `&#xD800;` or a JSON `\ud800` escape decodes to
# one, and UTF-8 cannot encode it: Arrow and DuckDB refuse the whole batch), noncharacters, and C0/C1 controls
# other than tab, newline and carriage return.
_INVALID_CODE_POINTS = re.compile(
    "[\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    + "".join(f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(1, 17))
    + "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
)


def clean_text(text: str) -> str:
    """`text` without code points that cannot be stored (see _INVALID_CODE_POINTS): surrogates and
    noncharacters become U+FFFD (something was there), controls are dropped."""
    if text.isascii() and text.isprintable():
        return text
    return _INVALID_CODE_POINTS.sub(_replacement, text)


def _replacement(match: re.Match[str]) -> str:
    return "" if match.group() < "\xa0" else "\ufffd"
