"""IOB2 helpers and an entity-level (exact match, seqeval-style) scorer. No third-party dependencies."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from extractors.entities.crf.features import TYPES, spans

LABELS = frozenset({"O"} | {f"{b}-{t}" for b in "BI" for t in TYPES})


def to_iob2(tags: Sequence[str]) -> list[str]:
    """Strict IOB2: an I-X after O or after another type becomes B-X; unknown labels become O.

    Labels such as "B-PER"/"I-PERSON" are mapped to PERS; "B-GPE"/"B-FAC" to LOC; other types to MISC.
    """
    out: list[str] = []
    prev = "O"
    for tag in tags:
        tag = map_label(tag)
        if tag.startswith("I-") and (prev == "O" or prev[2:] != tag[2:]):
            tag = "B-" + tag[2:]
        out.append(tag)
        prev = tag
    return out


_TYPE_ALIASES = {"PER": "PERS", "PERSON": "PERS", "PERS": "PERS", "LOC": "LOC", "LOCATION": "LOC", "GPE": "LOC",
                 "FAC": "LOC", "ORG": "ORG", "ORGANIZATION": "ORG", "ORGANISATION": "ORG", "MISC": "MISC"}


def map_label(tag: str) -> str:
    if not tag or tag == "O":
        return "O"
    if tag in LABELS:
        return tag
    if len(tag) > 2 and tag[1] in "-_" and tag[0] in "BIESbies":
        bio = "B" if tag[0] in "BSbs" else "I"
        t = _TYPE_ALIASES.get(tag[2:].upper(), "MISC")
        return f"{bio}-{t}"
    return "O"


def read_conll(path: str | Path) -> list[tuple[list[str], list[str]]]:
    """Read "token TAG" lines (blank line between sentences) into (tokens, tags) pairs."""
    sentences: list[tuple[list[str], list[str]]] = []
    toks: list[str] = []
    tags: list[str] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\r\n")
            if not line.strip():
                if toks:
                    sentences.append((toks, tags))
                    toks, tags = [], []
                continue
            parts = line.split()
            toks.append(parts[0])
            tags.append(parts[-1] if len(parts) > 1 else "O")
    if toks:
        sentences.append((toks, tags))
    return sentences


def split_dev(sentences: list, dev_fraction: float = 0.1) -> tuple[list, list]:
    """First 90% / last 10% of the sentences (the project's dev protocol)."""
    cut = len(sentences) - int(round(len(sentences) * dev_fraction))
    return sentences[:cut], sentences[cut:]


def score(gold: Iterable[Sequence[str]], pred: Iterable[Sequence[str]]) -> dict:
    """Entity-level exact-match precision/recall/F1 per type and micro-averaged."""
    tp, n_pred, n_gold = Counter(), Counter(), Counter()
    for g, p in zip(gold, pred):
        gs = set(spans(g))
        ps = set(spans(p))
        for e in gs:
            n_gold[e[0]] += 1
        for e in ps:
            n_pred[e[0]] += 1
            if e in gs:
                tp[e[0]] += 1

    def prf(t, np_, ng):
        p = t / np_ if np_ else 0.0
        r = t / ng if ng else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return {"precision": p, "recall": r, "f1": f, "support": ng, "predicted": np_, "correct": t}

    result = {t: prf(tp[t], n_pred[t], n_gold[t]) for t in sorted(set(n_gold) | set(n_pred))}
    result["micro"] = prf(sum(tp.values()), sum(n_pred.values()), sum(n_gold.values()))
    return result


def format_scores(result: dict) -> str:
    lines = [f"{'type':<6} {'P':>6} {'R':>6} {'F1':>6} {'gold':>6} {'pred':>6}"]
    for t in [*sorted(k for k in result if k != "micro"), "micro"]:
        r = result[t]
        lines.append(f"{t:<6} {r['precision']:6.3f} {r['recall']:6.3f} {r['f1']:6.3f} {r['support']:6d} {r['predicted']:6d}")
    return "\n".join(lines)
