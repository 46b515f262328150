#!/usr/bin/env python
"""Entity-level P/R/F1 (exact match, per type and micro) and tagging speed of a NER backend.

    python benchmarks/ner_eval.py --dev                       # shipped crf model, last 10% of ANERcorp train
    python benchmarks/ner_eval.py --conll test.txt --backend camel
    python scripts/train_crf.py --dev --out /tmp/crf90 && python benchmarks/ner_eval.py --dev --model /tmp/crf90

The shipped model was trained on the whole train file, dev part included, so ``--dev`` with it is
optimistic; for an honest dev figure evaluate a model trained with ``scripts/train_crf.py --dev``
(``--model PATH``). Tokens per second include feature extraction (the whole ``backend.tag`` call).

Sentences are tagged in ONE ``backend.tag`` call (as ``akhbar ner`` / ``tag_conll`` does with its whole
input). ``--doc-size N`` tags N consecutive sentences per call instead (article-sized calls, as
``find_mentions`` makes one call per article): the crf backend tags each sentence on its own, so only the speed
can differ.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from extractors.entities.base import NERBackend  # noqa: E402
from extractors.entities.iob import to_iob2  # noqa: E402
from extractors.entities.training.conll import format_scores, read_conll, score, split_dev  # noqa: E402

DEFAULT_TRAIN = ROOT.parent / "shared" / "data" / "ner" / "ANERCorp_CamelLab_train.txt"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", default="crf", choices=["auto", "crf", "camel"])
    ap.add_argument("--conll", help="gold CoNLL file (token TAG per line, blank line between sentences)")
    ap.add_argument("--dev", action="store_true", help="use the last 10%% of the ANERcorp train sentences")
    ap.add_argument("--train-file", default=str(DEFAULT_TRAIN), help="ANERcorp train file for --dev")
    ap.add_argument("--model", help="crf model folder to evaluate instead of the shipped one (crf backend only)")
    ap.add_argument("--doc-size", type=int, default=0,
                    help="tag N consecutive sentences per call (default 0: all sentences in one call)")
    ap.add_argument("--json", action="store_true", help="print the scores as JSON too")
    args = ap.parse_args(argv)

    if args.conll:
        sentences = read_conll(args.conll)
        label = args.conll
    else:
        if not Path(args.train_file).is_file():
            ap.error(f"{args.train_file} not found; give --conll FILE")
        _, sentences = split_dev(read_conll(args.train_file))
        label = "ANERcorp dev (last 10% of train)"
    backend: NERBackend
    if args.model:
        if args.backend not in ("crf", "auto"):
            ap.error("--model is for the crf backend")
        from extractors.entities.crf.tagger import CRFTagger

        backend = CRFTagger(args.model)
    else:
        from extractors.entities.mentions import get_backend

        backend = get_backend(args.backend)
    toks = [t for t, _ in sentences]
    gold = [to_iob2(g) for _, g in sentences]
    backend.tag(toks[:2])  # warm-up (lazy loading)
    size = args.doc_size or len(toks)
    t0 = time.perf_counter()
    pred = []
    for a in range(0, len(toks), size):
        pred.extend(backend.tag(toks[a : a + size]))
    secs = time.perf_counter() - t0
    n_tok = sum(len(t) for t in toks)
    result = score(gold, pred)
    print(f"data: {label}: {len(toks)} sentences, {n_tok} tokens")
    print(f"backend: {backend.name}" + (f" (model {args.model})" if args.model else "")
          + (f"; {args.doc_size} sentences per tag() call" if args.doc_size else "; all sentences in one tag() call"))
    if not args.conll and not args.model and backend.name == "crf":
        print("note: the shipped crf model was trained on these sentences too; this figure is optimistic. "
              "Use scripts/train_crf.py --dev --out DIR and --model DIR for an honest dev score.")
    print(format_scores(result))
    print(f"speed: {n_tok / secs:,.0f} tokens/s ({secs:.2f} s)")
    if args.json:
        print(json.dumps({"scores": result, "tokens_per_second": n_tok / secs}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
