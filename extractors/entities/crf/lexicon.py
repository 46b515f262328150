"""The CRF's general-Arabic word codes at tagging time: a compact table read from the model folder.

Each normalised word of a large general-Arabic frequency list has a short code 'gf|gm|ga': how common the word
is (`gf`), which derived forms of its clitic-stripped stem are common (`gm`: with the article, pronoun suffixes,
plural endings; names of people and places mostly have none) and how the stem compares with its article form
(`ga`). extractors/entities/training/lexicon_build.py computes the codes from wordfreq's list; this module only
stores and looks them up.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

GENERAL_FILE = "ner_general_ar.npz"  # in a CRF model folder
RARE_CODE = "15|---|x"  # the code of the rarest words with no derived forms; also that of words not in the list


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
