"""Summary figures over entity scores: PERS/LOC/ORG micro-average (the acceptance sets' measure) and the recall
of names unseen in training."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from extractors.arabic import fold_word
from extractors.entities.iob import spans
from extractors.entities.training.conll import Sentence

CORE_TYPES = ("PERS", "LOC", "ORG")


def _prf(correct: float, predicted: float, gold: float) -> dict[str, float]:
    p = correct / predicted if predicted else 0.0
    r = correct / gold if gold else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "support": gold, "predicted": predicted, "correct": correct}


def core_micro(result: dict[str, dict[str, float]]) -> dict[str, float]:
    """Micro P/R/F1 over PERS, LOC and ORG only (MISC left out), from a ``conll.score`` result."""
    rows = [result[t] for t in CORE_TYPES if t in result]
    return _prf(sum(r["correct"] for r in rows), sum(r["predicted"] for r in rows), sum(r["support"] for r in rows))


def entity_forms(sentences: Iterable[Sentence]) -> set[str]:
    """Normalised surface forms of the entities of labelled sentences."""
    out = set()
    for toks, tags in sentences:
        for _, s, e in spans(tags):
            out.add(" ".join(fold_word(t) for t in toks[s:e]))
    return out


def unseen_recall(gold: Sequence[Sentence], pred: Sequence[Sequence[str]], seen: set[str],
                  types: Sequence[str] = CORE_TYPES) -> dict[str, dict[str, float]]:
    """Recall of gold entities of `types` split by whether their normalised form is in `seen` (span-exact)."""
    found = {"seen": [0, 0], "unseen": [0, 0]}
    for (toks, tags), ptags in zip(gold, pred):
        predicted = set(spans(ptags))
        for span in spans(tags):
            if span[0] not in types:
                continue
            key = "seen" if " ".join(fold_word(t) for t in toks[span[1] : span[2]]) in seen else "unseen"
            found[key][1] += 1
            found[key][0] += span in predicted
    return {k: {"recall": c / n if n else 0.0, "support": n} for k, (c, n) in found.items()}
