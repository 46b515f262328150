"""CoNLL corpora for training and evaluating NER models: reading, the project's dev split, entity-level scores.

Exact-match, seqeval-style scoring over IOB2 spans; no third-party dependencies.
"""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from extractors.entities.iob import spans

Sentence = tuple[list[str], list[str]]  # (tokens, tags)


def read_conll(path: str | Path) -> list[Sentence]:
    """Read "token TAG" lines (blank line between sentences) into (tokens, tags) pairs; a .gz file is unzipped."""
    sentences: list[Sentence] = []
    toks: list[str] = []
    tags: list[str] = []
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
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


def split_dev(sentences: list[Any], dev_fraction: float = 0.1) -> tuple[list[Any], list[Any]]:
    """First 90% / last 10% of the sentences (the project's dev protocol)."""
    cut = len(sentences) - int(round(len(sentences) * dev_fraction))
    return sentences[:cut], sentences[cut:]


def _prf(correct: int, predicted: int, gold: int) -> dict[str, float]:
    p = correct / predicted if predicted else 0.0
    r = correct / gold if gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "support": gold, "predicted": predicted, "correct": correct}


def score(gold: Iterable[Sequence[str]], pred: Iterable[Sequence[str]]) -> dict[str, dict[str, float]]:
    """Entity-level exact-match precision/recall/F1 per type and micro-averaged."""
    tp: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    n_gold: Counter[str] = Counter()
    for g, p in zip(gold, pred):
        gs = set(spans(g))
        ps = set(spans(p))
        n_gold.update(e[0] for e in gs)
        n_pred.update(e[0] for e in ps)
        tp.update(e[0] for e in ps if e in gs)
    result = {t: _prf(tp[t], n_pred[t], n_gold[t]) for t in sorted(set(n_gold) | set(n_pred))}
    result["micro"] = _prf(sum(tp.values()), sum(n_pred.values()), sum(n_gold.values()))
    return result


def format_scores(result: dict[str, dict[str, float]]) -> str:
    """A table of P, R, F1, gold and predicted counts per type and micro-averaged."""
    lines = [f"{'type':<6} {'P':>6} {'R':>6} {'F1':>6} {'gold':>6} {'pred':>6}"]
    for t in [*sorted(k for k in result if k != "micro"), "micro"]:
        r = result[t]
        lines.append(f"{t:<6} {r['precision']:6.3f} {r['recall']:6.3f} {r['f1']:6.3f} "
                     f"{r['support']:6d} {r['predicted']:6d}")
    return "\n".join(lines)
