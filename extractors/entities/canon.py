"""Canonical forms of entity mentions, used to group «لسوريا» with «سوريا».

Steps: NFKC, no diacritics or tatweel, unified alef / yaa / taa marbuta, ASCII digits, case-folded Latin,
collapsed whitespace, outer punctuation and quotes stripped; then leading clitics of the first word are
removed conservatively:

* ``لل`` + X («للأمم المتحدة») becomes ``ال`` + X when that form is known or X is long enough;
* two-letter proclitics (وب ول وك فب فل فك) are removed when the rest is known, or when it starts with the
  article and is long enough («وبالعراق» -> «العراق»);
* one letter (و ب ل ف ك) is removed only when the rest is a known form at least as frequent as the whole,
  or when the rest starts with the article ال followed by at least three letters («والعراق» -> «العراق»).
  «بغداد», «فرنسا», «لبنان» stay as they are.

"Known forms" come from ``extractors/entities/models/ner_gazetteer.tsv``: entity forms of the ANERcorp training data
(the shipped model's data) with their counts.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from extractors.arabic import normalize_arabic, remove_invisible

GAZETTEER_PATH = Path(__file__).resolve().parent / "models" / "ner_gazetteer.tsv"

_OUTER = re.compile(r"^[\W_]+|[\W_]+$")
_SPACES = re.compile(r"\s+")
AL = "ال"
_SINGLE = frozenset("وبلفك")
_DOUBLE = frozenset({"وب", "ول", "وك", "فب", "فل", "فك"})


def normalize_form(surface: str) -> str:
    """Normalised comparison form (no clitic handling)."""
    s = normalize_arabic(remove_invisible(surface))
    s = _SPACES.sub(" ", s).strip()
    s = _OUTER.sub("", s)
    return s.casefold()


@lru_cache(maxsize=1)
def known_forms() -> dict[str, int]:
    """Known entity forms (normalised) with their frequency in the training data."""
    forms: dict[str, int] = {}
    try:
        with open(GAZETTEER_PATH, encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("#") or "\t" not in line:
                    continue
                form, counts = line.rstrip("\n").split("\t", 1)
                total = sum(int(c.rsplit(":", 1)[1]) for c in counts.split(",") if ":" in c)
                form = normalize_form(form)
                if form:
                    forms[form] = forms.get(form, 0) + total
    except FileNotFoundError:
        pass
    return forms


def _article_rest_ok(rest_first: str) -> bool:
    return rest_first.startswith(AL) and len(rest_first) >= 5


def strip_clitics(form: str, known: dict[str, int] | None = None) -> str:
    """Remove leading clitics of an already normalised form where that is safe (see module doc)."""
    if known is None:
        known = known_forms()
    if not form or not "\u0621" <= form[0] <= "\u064a":
        return form
    first, sep, tail = form.partition(" ")
    count = known.get(form, 0)

    def candidate(new_first: str) -> str:
        return new_first + sep + tail if new_first else tail

    def better(cand: str) -> bool:
        return known.get(cand, 0) > 0 and known.get(cand, 0) >= count

    # لل + X  ->  ال + X   (ل + article)
    if first.startswith("لل") and len(first) >= 4:
        cand = candidate(AL + first[2:])
        if better(cand) or (count == 0 and len(first) >= 5):
            return cand
    # و / ف + لل + X  ->  ال + X
    if first[:3] in ("ولل", "فلل") and len(first) >= 5:
        cand = candidate(AL + first[3:])
        if better(cand) or (count == 0 and len(first) >= 6):
            return cand
    # two proclitic letters
    if first[:2] in _DOUBLE and len(first) >= 5:
        rest = first[2:]
        cand = candidate(rest)
        if better(cand) or (count == 0 and _article_rest_ok(rest)):
            return cand
    # one proclitic letter
    if first[0] in _SINGLE and len(first) >= 4:
        rest = first[1:]
        cand = candidate(rest)
        if better(cand) or (count == 0 and _article_rest_ok(rest)):
            return cand
    return form


def canonical_entity(surface: str) -> str:
    """Canonical grouping form of a mention: «لِسوريا» -> «سوريا», «للأمم المتحدة» -> «الامم المتحده»."""
    return strip_clitics(normalize_form(surface))
