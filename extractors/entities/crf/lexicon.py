"""General-Arabic word statistics for the CRF's features, from a large frequency list (no torch, no camel data).

ANERcorp's 125k tokens say little about a word never seen there. A frequency list of general Arabic (wordfreq's
`large_ar` list: about 620,000 words with their frequency in Wikipedia, subtitles, news, web text; CC BY-SA 4.0)
says two useful things about any word:

- how common it is (`gf`), and
- how "productive" its clitic-stripped stem is: common nouns and adjectives also occur with the article
  (ال+s), with pronoun suffixes (s+ه، s+ها، s+هم) and plural endings (s+ات، s+ون، s+ين); names of people and
  places mostly do not. `gm` packs which of those forms exist, `ga` compares the frequency of ال+s with that
  of s.

`build_codes` turns the list into one short code per normalised word (the file shipped in extractors/entities/models);
`GeneralLexicon` looks codes up at tagging time.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from extractors.entities.crf.features import AL, norm, split_clitics

PRONOUN_SUFFIXES = ("\u0647", "\u0647\u0627", "\u0647\u0645", "\u0647\u0645\u0627", "\u0643\u0645")  # ه ها هم هما كم
PLURAL_SUFFIXES = ("\u0627\u062a", "\u0648\u0646", "\u064a\u0646")  # ات ون ين
RELATIVE_LIMIT = 150  # centibels
GENERAL_FILE = "ner_general_ar.npz"  # in a CRF model folder
RARE_CODE = "15|---|x"  # the code of the rarest words with no derived forms; also that of words not in the list


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
            n = norm(w)
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
NAME_PARTICLES = frozenset(norm(w) for w in ("عبد", "أبو", "ابو", "بن", "ابن", "آل", "ال", "بنت", "أم", "الدين"))


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
                    n = norm(w)
                    if len(n) >= 2 and n not in NAME_PARTICLES:
                        kinds.setdefault(n, set()).add(kind)
    return {w: "".join(sorted(k)) for w, k in kinds.items()}


def word_hash(word: str) -> int:
    """Stable 64-bit key of a normalised word (the shipped table stores keys, not the words)."""
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")


class GeneralLexicon:
    """word -> code lookups over a compact table: sorted 64-bit word keys and one small code id per key.

    The 540,000-word table takes about 5 MB in memory (a dict of the same would take 60-80 MB in every
    process that tags). Words whose code is `default` are left out (the caller treats a missing word as
    `default`, after trying its stem).
    """

    def __init__(self, keys: np.ndarray, ids: np.ndarray, codes: list[str], default: str) -> None:
        self.keys, self.ids, self.codes, self.default = keys, ids, codes, default

    @classmethod
    def from_codes(cls, codes: dict[str, str], default: str = RARE_CODE) -> GeneralLexicon:
        table = sorted({c for c in codes.values() if c != default})
        index = {c: i for i, c in enumerate(table)}
        pairs = sorted((word_hash(w), index[c]) for w, c in codes.items() if c != default)
        keys = np.array([k for k, _ in pairs], dtype=np.uint64)
        ids = np.array([i for _, i in pairs], dtype=np.uint8 if len(table) < 256 else np.uint16)
        return cls(keys, ids, table, default)

    def get(self, word: str) -> str | None:
        """The word's code, or None when the table leaves it out (not in the list, or its code is `default`)."""
        k = np.uint64(word_hash(word))
        i = int(np.searchsorted(self.keys, k))
        if i < len(self.keys) and self.keys[i] == k:
            return self.codes[int(self.ids[i])]
        return None

    def __len__(self) -> int:
        return len(self.keys)

    def save(self, path: str | Path) -> None:
        with open(path, "wb") as fh:
            np.savez_compressed(fh, keys=self.keys, ids=self.ids, codes=np.array(self.codes + [self.default]))

    @classmethod
    def load(cls, path: str | Path) -> GeneralLexicon:
        with np.load(path, allow_pickle=False) as data:
            codes = [str(c) for c in data["codes"]]
            return cls(data["keys"], data["ids"], codes[:-1], codes[-1])
