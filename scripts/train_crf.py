#!/usr/bin/env python
"""Train the offline CRF named-entity model (the code is extractors/entities/training/crf_train.py).

    python scripts/train_crf.py                 # the shipped model: all corpora -> extractors/entities/models/
    python scripts/train_crf.py --dev           # train on the train splits, score ANERcorp dev, AQMAR dev, Wojood val
    python scripts/train_crf.py --dev --out /tmp/devmodel   # keep the dev model for benchmarks/ner_eval.py --model
    python scripts/train_crf.py --data FILE --dev           # one CoNLL file only: first 90% / last 10%

Corpora (extractors/entities/training/corpora.py): ANERcorp (CC BY-SA 4.0), AQMAR (CC BY-SA 3.0), the Wojood
sample (MIT), harmonised to docs/ENTITIES.md when read (training/harmonise.py); read from the package copies in
extractors/entities/training/labelled/ or from the shared folder ($AKHBAR_NER_DATA or ../shared/data/ner). The word
lists (general-Arabic lexicon, name words, people list, CLDR gazetteer) are the ones shipped in
extractors/entities/models/; --rebuild-lists recomputes the first two from wordfreq and faker (pip install -e
'.[train]'). Training needs numpy, scipy, scikit-learn (word clusters).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from extractors.entities.crf.features import FeatureConfig  # noqa: E402
from extractors.entities.crf.tagger import MODEL_DIR  # noqa: E402
from extractors.entities.training import corpora  # noqa: E402
from extractors.entities.training.conll import format_scores, read_conll, split_dev  # noqa: E402
from extractors.entities.training.crf_train import (  # noqa: E402
    BEST,
    META_FILE,
    data_label,
    evaluate,
    rebuilt_word_lists,
    shipped_corpora,
    shipped_word_lists,
    train_model,
)
from extractors.entities.training.scoring import core_micro  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="train on this one CoNLL file only (token TAG per line), as published")
    ap.add_argument("--corpora", default=",".join(shipped_corpora()),
                    help=f"comma-separated corpora to train on (default: those found: {','.join(shipped_corpora())})")
    ap.add_argument("--dev", action="store_true", help="train on the train splits and score the dev splits")
    ap.add_argument("--out", help="output folder (default: extractors/entities/models, or a temp folder with --dev)")
    ap.add_argument("--c1", type=float, default=BEST["c1"])
    ap.add_argument("--c2", type=float, default=BEST["c2"])
    ap.add_argument("--algorithm", default=BEST.get("algorithm", "lbfgs"), choices=["lbfgs", "l2sgd", "ap", "pa", "arow"])
    ap.add_argument("--iterations", type=int, default=BEST["max_iterations"])
    ap.add_argument("--folds", type=int, default=BEST["folds"], help="jackknife folds for lexical features (1 = none)")
    ap.add_argument("--clusters", type=int, default=BEST["clusters"], help="number of word clusters (0 = none)")
    ap.add_argument("--features", default="{}", help="JSON overrides of FeatureConfig, e.g. '{\"window\": 3}'")
    ap.add_argument("--possible-transitions", type=int, default=int(BEST["possible_transitions"]),
                    help="1: let CRFsuite add label transitions never seen in training")
    ap.add_argument("--minfreq", type=float, default=0)
    ap.add_argument("--gazetteers", default=",".join(BEST["gazetteers"]),
                    help="external gazetteers merged into the ext features, in order (cldr, wikicats)")
    ap.add_argument("--harmonise", default=BEST["harmonise"], choices=["guideline", "narrow", "none"],
                    help="how the corpora are brought to docs/ENTITIES.md (training/harmonise.py PROFILES); "
                    "dev gold is always the guideline's")
    ap.add_argument("--rebuild-lists", action="store_true",
                    help="recompute the general lexicon and name words from wordfreq and faker (train extra)")
    ap.add_argument("--log", help="append a JSON line with the settings and scores to this file")
    return ap.parse_args(argv)


def rounded(result: dict) -> dict:
    return {k: {m: round(v[m], 4) for m in ("precision", "recall", "f1")} for k, v in result.items()}


def dev_scores(out: Path, devs: dict[str, list]) -> dict[str, Any]:
    """Print and return the scores of the model in `out` on each dev set, and its tagging speed."""
    record: dict[str, Any] = {}
    for name, dev in devs.items():
        result, tps = evaluate(out, dev)
        print(f"== {name}: {len(dev)} sentences; PERS/LOC/ORG micro F1 {core_micro(result)['f1']:.4f}")
        print(format_scores(result))
        print(f"tagging speed: {tps:,.0f} tokens/s (features included)")
        record[name] = {**rounded(result), "core_micro": round(core_micro(result)["f1"], 4), "tokens_per_second": round(tps)}
    return record


def main(argv=None) -> int:
    args = parse_args(argv)
    features = {**BEST["features"], **json.loads(args.features)}
    params = {"algorithm": args.algorithm, "c1": args.c1, "c2": args.c2, "max_iterations": args.iterations, "folds": args.folds,
              "clusters": args.clusters, "features": features, "possible_transitions": bool(args.possible_transitions),
              "minfreq": args.minfreq, "gazetteers": [g for g in args.gazetteers.split(",") if g],
              "harmonise": args.harmonise}
    counts: Counter[str] = Counter()
    if args.data:
        train, dev = split_dev(read_conll(args.data)) if args.dev else (read_conll(args.data), [])
        devs = {"dev": dev} if dev else {}
        data = f"{args.data} (as published)"
    else:
        names = [n for n in args.corpora.split(",") if n]
        train = corpora.training_sentences(names, whole=not args.dev, counts=counts, profile=args.harmonise)
        devs = {n: corpora.read_split(n, "dev") for n in names} if args.dev else {}
        data = data_label(names)
    out = Path(args.out) if args.out else (Path("/tmp/akhbar-crf-dev") if args.dev else MODEL_DIR)
    print(f"train {len(train)} sentences, dev {sum(len(d) for d in devs.values())}; params {json.dumps(params)}")
    if counts:
        print("harmonisation (spans changed per rule): " + json.dumps(dict(sorted(counts.items())), ensure_ascii=False))
    cfg = FeatureConfig.from_json(features)
    gazetteers = params["gazetteers"]
    lists = rebuilt_word_lists(cfg, gazetteers) if args.rebuild_lists else shipped_word_lists(cfg, gazetteers)
    model_path, seconds = train_model(train, out, params, lists=lists, data=data)
    record: dict[str, Any] = {"params": params, "train_seconds": round(seconds, 1), "train_sentences": len(train),
                              "model_bytes": model_path.stat().st_size, "data": data, "harmonised": dict(counts)}
    if devs:
        scores = dev_scores(out, devs)
        record["dev"] = scores["dev"] if args.data else scores
    else:
        with open(out / META_FILE, "w", encoding="utf-8") as fh:
            json.dump(record, fh, indent=1, ensure_ascii=False)
    if args.log:
        with open(args.log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
