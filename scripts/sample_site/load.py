"""ANERcorp sentences → detokenised paragraphs for the sample site's article bodies."""

from __future__ import annotations

import re

DEFAULT_ANERCORP = "/work/shared/data/ner/ANERCorp_CamelLab_train.txt"
NOSPACE_BEFORE = set("،,.:؛؟!)]}»”%")
NOSPACE_AFTER = set("([{«“")

Sentence = list[tuple[str, str]]  # (token, tag)


def load(path: str = DEFAULT_ANERCORP) -> list[Sentence]:
    """The sentences of a CoNLL-style `token tag` file (blank lines between sentences)."""
    sents: list[Sentence] = []
    cur: Sentence = []
    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            line = raw.rstrip("\n")
            if not line.strip():
                if cur:
                    sents.append(cur)
                    cur = []
                continue
            parts = line.rsplit(" ", 1)
            tok, tag = (parts[0], "O") if len(parts) == 1 else parts
            cur.append((tok, tag))
    if cur:
        sents.append(cur)
    return sents


def _merge_quote_pairs(tokens: list[str]) -> list[str]:
    """Two single quotes in a row are one double quote."""
    merged: list[str] = []
    i = 0
    while i < len(tokens):
        if tokens[i] == "'" and i + 1 < len(tokens) and tokens[i + 1] == "'":
            merged.append('"')
            i += 2
            continue
        merged.append(tokens[i])
        i += 1
    return merged


class Detok:
    """Joins tokens into text, reattaching punctuation; remembers an open quote across sentences."""

    def __init__(self) -> None:
        self.quote_open = False

    def __call__(self, tokens: list[str]) -> str:
        parts: list[tuple[str, str]] = []
        glue_next = False
        for t in _merge_quote_pairs(tokens):
            if t == "''":
                t = '"'
            if t in ('"', "'"):
                if not self.quote_open:
                    parts.append((" ", t))
                    self.quote_open = True
                    glue_next = True
                else:
                    parts.append(("", t))
                    self.quote_open = False
                    glue_next = False
                continue
            if not parts or glue_next or t in NOSPACE_BEFORE or t[0] in ")»”":
                sep = ""
            else:
                sep = " "
            parts.append((sep, t))
            glue_next = t in NOSPACE_AFTER
        out = "".join(s + t for s, t in parts).strip()
        out = re.sub(r"\s+([،.:؛؟!,])", r"\1", out)
        return out


def paragraphs(sents: list[Sentence], a: int, b: int, sizes: tuple[int, ...] = (2, 1, 3, 2, 1, 2, 3)) -> list[str]:
    """Sentences a..b (inclusive) detokenised and grouped into paragraphs of `sizes` sentences in turn."""
    d = Detok()
    paras: list[str] = []
    cur: list[str] = []
    k = 0
    for s in sents[a : b + 1]:
        cur.append(d([t for t, _tag in s]))
        if len(cur) >= sizes[k % len(sizes)] and not d.quote_open and not cur[-1].endswith("..."):
            paras.append(" ".join(cur))
            cur = []
            k += 1
    if cur:
        paras.append(" ".join(cur))
    return paras
