"""Sentence splitting and tokenisation with exact character offsets, for NER.

Tokens follow ANERcorp's conventions: punctuation (Arabic and Latin, quotes «» “” "", brackets) is split
from words, clitics stay attached to their words (the tagger handles «والعراق» as one token), numbers
with decimal marks stay whole. Every token carries (start, end) Python string indices into the input
text, so ``text[start:end] == token`` always holds.

Pure Python, no camel-tools data, no torch.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from extractors.arabic import JOINERS, REMOVED, arabic_ratio, regex_class

# Word characters besides \w: the marks and tatweel the normalisation table removes, and the zero-width
# (non-)joiners, so a word keeps its diacritics and joiners inside one token.
_MARKS = regex_class(REMOVED | set(JOINERS))
_TOKEN_RE = re.compile(
    r"\d+(?:[.,\u066b\u066c]\d+)+%?"  # 3.5  1,200  ٣٫٥
    rf"|[\w{_MARKS}]+"  # words (letters, digits, marks; clitics stay attached)
    r"|\.{2,}"  # ellipsis written as dots
    r"|\S",  # any other single non-space character (punctuation, quotes, symbols)
)
_SENT_END = frozenset({".", "!", "?", "\u061f", "\u2026", "..."} | {"." * n for n in range(3, 8)})
_CLOSERS = frozenset({"»", "\u201d", '"', "'", ")", "]", "\u2019", "}"})
_SOFT_BREAKS = frozenset({"\u060c", ",", "\u061b", ";", ":", "-", "\u2013", "\u2014"})

MAX_SENTENCE_TOKENS = 80
"""Longer sentences are cut (at a comma or semicolon when one is near, else hard) so tagging stays fast."""


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens with exact offsets."""
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]


def _cap(sentence: list[Token], limit: int) -> Iterator[list[Token]]:
    while len(sentence) > limit:
        cut = limit
        for i in range(limit - 1, limit // 2, -1):
            if sentence[i].text in _SOFT_BREAKS:
                cut = i + 1
                break
        yield sentence[:cut]
        sentence = sentence[cut:]
    if sentence:
        yield sentence


def _is_abbreviation_dot(tokens: list[Token], i: int, text: str) -> bool:
    """A '.' right after a one-letter word, as in «د.ب.أ» or «أ. محمد», does not end a sentence."""
    if tokens[i].text != "." or i == 0:
        return False
    prev = tokens[i - 1]
    return len(prev.text) == 1 and prev.text.isalpha() and prev.end == tokens[i].start


def split_sentences(text: str, max_tokens: int = MAX_SENTENCE_TOKENS) -> list[list[Token]]:
    """Tokenise ``text`` and group the tokens into sentences.

    A sentence ends after . ! ? ؟ … (and any closing quotes or brackets right after them) and at every
    line break; sentences longer than ``max_tokens`` are cut into pieces of at most ``max_tokens``.
    """
    tokens = tokenize(text)
    sentences: list[list[Token]] = []
    current: list[Token] = []
    i, n = 0, len(tokens)
    while i < n:
        tok = tokens[i]
        if current and "\n" in text[current[-1].end : tok.start]:
            sentences.extend(_cap(current, max_tokens))
            current = []
        current.append(tok)
        i += 1
        if tok.text in _SENT_END and not _is_abbreviation_dot(tokens, i - 1, text):
            while i < n and tokens[i].text in _CLOSERS and "\n" not in text[tokens[i - 1].end : tokens[i].start]:
                current.append(tokens[i])
                i += 1
            sentences.extend(_cap(current, max_tokens))
            current = []
    if current:
        sentences.extend(_cap(current, max_tokens))
    return sentences


def is_arabic(text: str, threshold: float = 0.5, sample: int = 5000) -> bool:
    """True when most letters of ``text`` (its first ``sample`` characters) are Arabic letters."""
    return arabic_ratio(text[:sample]) >= threshold
