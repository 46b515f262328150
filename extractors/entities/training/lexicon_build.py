"""Builds the CRF's word lists from third-party lists (build-time dependencies only: pip install -e '.[train]').

General-Arabic codes: ANERcorp's 125k tokens say little about a word never seen there. A frequency list of
general Arabic (wordfreq's `large_ar` list: about 620,000 words with their frequency in Wikipedia, subtitles,
news, web text; CC BY-SA 4.0) says two useful things about any word:

- how common it is (`gf`), and
- how "productive" its clitic-stripped stem is: common nouns and adjectives also occur with the article
  (ال+s), with pronoun suffixes (s+ه، s+ها، s+هم) and plural endings (s+ات، s+ون، s+ين); names of people and
  places mostly do not. `gm` packs which of those forms exist, `ga` compares the frequency of ال+s with that
  of s.

`build_codes` turns the list into one short code per normalised word; extractors/entities/crf/lexicon.py stores
and looks them up at tagging time. `read_person_names` reads the given and family names of Faker's Arabic
locales.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from pathlib import Path

from extractors.arabic import fold_word
from extractors.entities.crf.features import AL, split_clitics

PRONOUN_SUFFIXES = ("\u0647", "\u0647\u0627", "\u0647\u0645", "\u0647\u0645\u0627", "\u0643\u0645")  # ه ها هم هما كم
PLURAL_SUFFIXES = ("\u0627\u062a", "\u0648\u0646", "\u064a\u0646")  # ات ون ين
RELATIVE_LIMIT = 150  # centibels


def read_wordfreq(path: str | Path | None = None) -> dict[str, int]:
    """{normalised word: centibel bucket} from wordfreq's Arabic list (bucket 0 = most frequent; a word is 100
    buckets rarer per factor 10). Needs the `wordfreq` package (a build-time dependency only)."""
    import msgpack

    if path is None:
        import wordfreq

        path = Path(wordfreq.__file__).parent / "data" / "large_ar.msgpack.gz"
    with gzip.open(path, "rb") as fh:
        data = msgpack.unpackb(fh.read(), raw=False)
    out: dict[str, int] = {}
    for bucket, words in enumerate(data[1:]):
        for w in words:
            n = fold_word(w)
            if n and n not in out:
                out[n] = bucket
    return out


def _band(bucket: int | None) -> str:
    return "x" if bucket is None else str(min(bucket // 50, 15))


def code_of(word: str, freq: dict[str, int]) -> str:
    """The code of one normalised word: 'gf|gm|ga' (see module doc)."""
    pre, stem, had_al = split_clitics(word)
    own = freq.get(word)
    s = freq.get(stem)
    al = freq.get(AL + stem)
    # a derived form counts when it is at most ~30x rarer than the stem itself (the list has a long noisy tail)
    limit = (s if s is not None else (own if own is not None else 800)) + RELATIVE_LIMIT
    # a final taa marbuta (ه once normalised) becomes ت before a suffix and is dropped before ات
    suffix_bases = (stem, stem[:-1] + "\u062a") if stem.endswith("\u0647") else (stem,)
    plural_bases = (stem, stem[:-1]) if stem.endswith("\u0647") else (stem,)
    pron = any(freq.get(b + x, 10_000) <= limit for b in suffix_bases for x in PRONOUN_SUFFIXES)
    plural = any(freq.get(b + x, 10_000) <= limit for b in plural_bases for x in PLURAL_SUFFIXES)
    gm = f"{'a' if al is not None and al <= limit else '-'}{'p' if pron else '-'}{'l' if plural else '-'}"
    if al is None or s is None:
        ga = "x"
    else:
        d = s - al  # > 0: the form with the article is the more frequent
        ga = "A" if d > 100 else "a" if d > 0 else "b" if d > -100 else "B"
    return f"{_band(own)}|{gm}|{ga}"


def build_codes(freq: dict[str, int], words: Iterable[str] | None = None) -> dict[str, str]:
    """Codes of `words` (default: every word of the list)."""
    return {w: code_of(w, freq) for w in (freq if words is None else words)}


FAKER_LOCALES = ("ar_AA", "ar_DZ", "ar_PS", "ar_SA")
# name particles (عبد، ابو، ال، بن ...): trigger words already, never name words of their own
NAME_PARTICLES = frozenset(fold_word(w) for w in ("عبد", "أبو", "ابو", "بن", "ابن", "آل", "ال", "بنت", "أم", "الدين"))


def read_person_names() -> dict[str, str]:
    """{normalised word: 'f' | 'l' | 'fl'}: Arabic given names (f) and family names (l) from the person
    providers of the Faker package (MIT licence; a build-time dependency only). Multi-word names give each of
    their words, except the particles (عبد، ابو، ال، بن ...) which are trigger words already."""
    import importlib

    kinds: dict[str, set[str]] = {}
    for loc in FAKER_LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{loc}").Provider
        for attr, kind in (("first_names_male", "f"), ("first_names_female", "f"), ("first_names", "f"),
                           ("last_names", "l")):
            for name in getattr(provider, attr, ()) or ():
                for w in str(name).split():
                    n = fold_word(w)
                    if len(n) >= 2 and n not in NAME_PARTICLES:
                        kinds.setdefault(n, set()).add(kind)
    return {w: "".join(sorted(k)) for w, k in kinds.items()}
