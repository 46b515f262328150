"""The CRF's lexical resources built from labelled sentences, and the external gazetteer file reader.

The training script builds resources from part of the data for each jackknife fold, and from all training
sentences for the shipped resources JSON (read back at tagging time by ``Resources.from_json``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from extractors.arabic import fold_word
from extractors.entities.base import ENTITY_TYPES
from extractors.entities.crf.features import Resources, article_form
from extractors.entities.iob import spans

Labelled = Iterable[tuple[Sequence[str], Sequence[str]]]  # (tokens, IOB2 tags) per sentence


def _count(sentences: Labelled) -> tuple[dict[tuple[str, ...], Counter[str]], dict[str, Counter[str]]]:
    """Entity types per phrase (also under its first word's article form) and labels per word."""
    phrase_types: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    word_counts: dict[str, Counter[str]] = defaultdict(Counter)
    for tokens, tags in sentences:
        ns = [fold_word(t) for t in tokens]
        for n, tag in zip(ns, tags):
            word_counts[n][tag[2:] if tag != "O" else "O"] += 1
        for etype, s, e in spans(tags):
            key = tuple(ns[s:e])
            if e - s <= 6:
                phrase_types[key][etype] += 1
                first = article_form(key[0])
                if first != key[0]:
                    phrase_types[(first, *key[1:])][etype] += 1
    return phrase_types, word_counts


def _phrases(phrase_types: dict[tuple[str, ...], Counter[str]]) -> dict[tuple[str, ...], str]:
    """Phrase -> the types it has in at least a quarter of its occurrences ("LOC" or "LOC|PERS")."""
    phrases = {}
    for key, cnt in phrase_types.items():
        if len(key) == 1 and len(key[0]) < 2:
            continue
        total = sum(cnt.values())
        phrases[key] = "|".join(sorted(t for t, c in cnt.items() if c / total >= 0.25))
    return phrases


def _word_stat(cnt: Counter[str]) -> str:
    """'LOC:hi|PERS:lo' style shares of a word's labels ('1' appended when seen fewer than 3 times)."""
    total = sum(cnt.values())
    feats = []
    for t in ENTITY_TYPES:
        share = cnt.get(t, 0) / total
        if share >= 0.5:
            feats.append(f"{t}:hi")
        elif share >= 0.1:
            feats.append(f"{t}:lo")
    if feats and total < 3:
        feats = [f + "1" for f in feats]
    return "|".join(feats)


def resources_from_sentences(sentences: Labelled, clusters: dict[str, str] | None = None) -> Resources:
    """Gazetteer, word label statistics and frequencies of labelled sentences, plus the given word clusters."""
    phrase_types, word_counts = _count(sentences)
    phrases = _phrases(phrase_types)
    stats = {w: stat for w, cnt in word_counts.items() if (stat := _word_stat(cnt))}
    freq = {w: sum(c.values()) for w, c in word_counts.items()}
    return Resources(phrases=phrases, word_stats=stats, clusters=dict(clusters or {}), freq=freq,
                     max_phrase=max((len(k) for k in phrases), default=1))


def load_external(path: str | Path) -> dict[tuple[str, ...], str]:
    """The external gazetteer file (``form<TAB>type`` lines, '#' comments) as {word tuple: type}."""
    out: dict[tuple[str, ...], str] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#") or "\t" not in line:
                continue
            form, typ = line.rstrip("\n").split("\t")[:2]
            out[tuple(form.split(" "))] = typ
    return out
