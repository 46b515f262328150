#!/usr/bin/env python
"""Entity-level P/R/F1 (exact match, per type, micro, PERS/LOC/ORG micro), unseen-name recall and tagging speed.

    python benchmarks/ner_eval.py --dev                       # shipped crf model on the three dev sets
    python benchmarks/ner_eval.py --dev --model /tmp/crf-dev  # a model of scripts/train_crf.py --dev --out
    python benchmarks/ner_eval.py --dev --gold published      # gold as the corpora publish it (own conventions)
    python benchmarks/ner_eval.py --conll test.txt --backend camel

The dev sets (extractors/entities/training/corpora.py): ANERcorp dev (the last 10% of its train file), AQMAR dev
and Wojood val, with gold harmonised to docs/ENTITIES.md (``--gold published`` scores against each corpus's own
convention, e.g. ANERcorp leaving institutions untagged). "unseen" recall counts the PERS/LOC/ORG gold entities
whose normalised form is no entity of the training splits of the three corpora.

The shipped model was trained on the whole ANERcorp file, its dev part included, so its ANERcorp dev figure is
optimistic; for an honest figure evaluate a model trained with ``scripts/train_crf.py --dev``. Tokens per
second include feature extraction (the whole ``backend.tag`` call). Sentences are tagged in ONE ``backend.tag``
call per set (as ``akhbar ner`` does); ``--doc-size N`` tags N consecutive sentences per call instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from extractors.entities.base import NERBackend  # noqa: E402
from extractors.entities.iob import to_iob2  # noqa: E402
from extractors.entities.training import corpora  # noqa: E402
from extractors.entities.training.conll import Sentence, format_scores, read_conll, score  # noqa: E402
from extractors.entities.training.scoring import core_micro, entity_forms, unseen_recall  # noqa: E402

DEV_SETS = {"anercorp": "ANERcorp dev (last 10% of train)", "aqmar": "AQMAR dev", "wojood": "Wojood val"}


def load_backend(name: str, model: str | None) -> NERBackend:
    if model:
        from extractors.entities.crf.tagger import CRFTagger

        return CRFTagger(model)
    from extractors.entities.mentions import get_backend

    return get_backend(name)


def dev_sets(gold: str) -> dict[str, list[Sentence]]:
    out = {}
    for name in DEV_SETS:
        if corpora.available(name):
            out[name] = corpora.read_raw(name, "dev") if gold == "published" else corpora.read_split(name, "dev")
    return out


def seen_forms(gold: str) -> set[str]:
    names = [n for n in DEV_SETS if corpora.available(n)]
    if gold == "published":
        return entity_forms(s for n in names for s in corpora.read_raw(n, "train"))
    return entity_forms(corpora.training_sentences(names, whole=False, profile="guideline"))


def evaluate(backend: NERBackend, sentences: list[Sentence], doc_size: int, seen: set[str]) -> dict[str, Any]:
    toks = [t for t, _ in sentences]
    gold = [to_iob2(g) for _, g in sentences]
    size = doc_size or len(toks)
    t0 = time.perf_counter()
    pred: list[list[str]] = []
    for a in range(0, len(toks), size):
        pred.extend(backend.tag(toks[a : a + size]))
    secs = time.perf_counter() - t0
    n_tok = sum(len(t) for t in toks)
    result = score(gold, pred)
    return {"scores": result, "core_micro": core_micro(result), "tokens": n_tok, "seconds": secs,
            "tokens_per_second": n_tok / secs,
            "unseen": unseen_recall([(t, g) for t, g in zip(toks, gold)], pred, seen)}


def report(label: str, r: dict[str, Any]) -> None:
    print(f"== {label}: {r['tokens']} tokens")
    print(format_scores(r["scores"]))
    c = r["core_micro"]
    print(f"PERS/LOC/ORG micro: P {c['precision']:.3f} R {c['recall']:.3f} F1 {c['f1']:.3f}")
    u = r["unseen"]
    print(f"recall of PERS/LOC/ORG names seen in training {u['seen']['recall']:.3f} ({u['seen']['support']}), "
          f"unseen {u['unseen']['recall']:.3f} ({u['unseen']['support']})")
    print(f"speed: {r['tokens_per_second']:,.0f} tokens/s ({r['seconds']:.2f} s)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", default="crf", choices=["auto", "crf", "camel"])
    ap.add_argument("--conll", help="gold CoNLL file (token TAG per line, blank line between sentences)")
    ap.add_argument("--dev", action="store_true", help="ANERcorp dev, AQMAR dev and Wojood val")
    ap.add_argument("--gold", default="guideline", choices=["guideline", "published"],
                    help="dev gold harmonised to docs/ENTITIES.md (default) or as published")
    ap.add_argument("--model", help="crf model folder to evaluate instead of the shipped one (crf backend only)")
    ap.add_argument("--doc-size", type=int, default=0,
                    help="tag N consecutive sentences per call (default 0: all sentences of a set in one call)")
    ap.add_argument("--json", action="store_true", help="print the scores as JSON too")
    args = ap.parse_args(argv)
    if args.model and args.backend not in ("crf", "auto"):
        ap.error("--model is for the crf backend")
    if args.conll:
        sets = {args.conll: read_conll(args.conll)}
    elif args.dev:
        sets = {DEV_SETS[k]: v for k, v in dev_sets(args.gold).items()}
        if not sets:
            ap.error("no dev set found (package copies or $AKHBAR_NER_DATA); give --conll FILE")
    else:
        ap.error("give --dev or --conll FILE")
    backend = load_backend(args.backend, args.model)
    backend.tag([["قال", "الرئيس"]])  # warm-up (lazy loading)
    seen = seen_forms(args.gold) if args.dev else set()
    print(f"backend: {backend.name}" + (f" (model {args.model})" if args.model else " (shipped)")
          + (f"; {args.doc_size} sentences per tag() call" if args.doc_size else "; one tag() call per set")
          + (f"; gold {args.gold}" if args.dev else ""))
    results = {}
    for label, sentences in sets.items():
        results[label] = evaluate(backend, sentences, args.doc_size, seen)
        report(label, results[label])
    if len(results) > 1:
        mean = sum(r["core_micro"]["f1"] for r in results.values()) / len(results)
        tokens = sum(r["tokens"] for r in results.values())
        seconds = sum(r["seconds"] for r in results.values())
        print(f"== mean PERS/LOC/ORG micro F1 over {len(results)} sets: {mean:.4f}; "
              f"speed over all: {tokens / seconds:,.0f} tokens/s")
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
