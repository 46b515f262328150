"""Arabic text normalisation shared by extraction, entity canonicalisation and search.

Only camel-tools' data-free utilities are used here (no catalogue, no torch).
"""

from __future__ import annotations

import re
import unicodedata

# Tashkeel (harakat, tanween, shadda, sukun), superscript alef, Quranic marks.
_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed]")
_TATWEEL = "\u0640"
_ALEF_VARIANTS = str.maketrans({"\u0622": "\u0627", "\u0623": "\u0627", "\u0625": "\u0627", "\u0671": "\u0627"})
_YAA_TAA = str.maketrans({"\u0649": "\u064a", "\u0629": "\u0647"})
_ARABIC_LETTER = re.compile("[\u0621-\u064a]")
# Eastern Arabic (٠-٩) and Persian (۰-۹) digits to ASCII.
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


def dediacritize(text: str) -> str:
    """Remove tashkeel and tatweel, keep everything else."""
    return _DIACRITICS.sub("", text).replace(_TATWEEL, "")


def ascii_digits(text: str) -> str:
    """Map Eastern Arabic and Persian digits to ASCII digits."""
    return text.translate(_DIGITS)


def normalize_arabic(text: str) -> str:
    """NFKC, no diacritics or tatweel, unified alef / alef maqsura+yaa / taa marbuta+haa, ASCII digits.

    This is the form used for comparing and grouping text, never for display.
    """
    text = unicodedata.normalize("NFKC", text)
    text = dediacritize(text)
    text = text.translate(_ALEF_VARIANTS).translate(_YAA_TAA)
    return ascii_digits(text)


def arabic_ratio(text: str) -> float:
    """Share of letters in `text` that are Arabic letters (0.0 when there are no letters)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if _ARABIC_LETTER.match(c)) / len(letters)
