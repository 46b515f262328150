#!/usr/bin/env python
"""Train the shipped CRF named-entity model on ANERcorp (CAMeL Lab train split).

    python scripts/train_crf.py                 # the shipped model: whole train file -> extractors/entities/models/
    python scripts/train_crf.py --dev           # train on the first 90%, report P/R/F1 on the last 10%
    python scripts/train_crf.py --dev --out /tmp/devmodel   # keep the 90% model for benchmarks/ner_eval.py --model

Gazetteer and per-word label statistics are features; to keep the model from trusting them blindly they
are computed by jackknifing during training (the features of fold k come from the other folds), and the
shipped resources come from all training sentences. Word clusters are learned from the training text only
(ANERcorp; with --dev from the 90% part only). Besides ANERcorp the model reads three word lists, none of them
labelled data: wordfreq's general-Arabic frequency list (CC BY-SA 4.0; extractors/entities/crf/lexicon.py), the Arabic
given and family names of Faker's person providers (MIT), the CLDR gazetteer (extractors/entities/models/
ner_cldr_gazetteer.tsv, Unicode licence) and people's name words from Wikidata (CC0) and arabnamer (CC BY 4.0)
(extractors/entities/models/ner_people.tsv.gz, built by python -m extractors.entities.training.people_build). wordfreq and faker are
needed only here: pip install -e '.[train]'.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pycrfsuite  # noqa: E402

from extractors.arabic import fold_word  # noqa: E402
from extractors.entities.crf.features import FeatureConfig, Featurizer, Resources  # noqa: E402
from extractors.entities.crf.tagger import MODEL_DIR, MODEL_FILE, RESOURCES_FILE  # noqa: E402
from extractors.entities.iob import spans  # noqa: E402
from extractors.entities.training.clusters import learn_clusters  # noqa: E402
from extractors.entities.training.conll import format_scores, read_conll, score, split_dev  # noqa: E402
from extractors.entities.training.crf_resources import load_external, resources_from_sentences  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "ner" / "ANERCorp_CamelLab_train.txt"
EXT_GAZETTEER = MODEL_DIR / "ner_cldr_gazetteer.tsv"  # built by python -m extractors.entities.training.gazetteer_build


def make_resources(sentences, clusters, cfg: FeatureConfig) -> Resources:
    res = resources_from_sentences(sentences, clusters)
    if cfg.ext_gazetteer:
        res.with_external(load_external(EXT_GAZETTEER))
    if cfg.general:
        res.general = general_codes()
    if cfg.names:
        res.names = faker_names()
    if cfg.people:
        res.people = people_lists()[0]
    return res


@functools.cache
def faker_names():
    """Faker's Arabic name words, read once per training run."""
    from extractors.entities.training.lexicon_build import read_person_names

    return read_person_names()


@functools.cache
def people_lists():
    from extractors.entities.training.people_build import load_people

    return load_people()


@functools.cache
def general_codes():
    """The general lexicon, built once per training run (every jackknife fold shares it)."""
    from extractors.entities.crf.lexicon import GeneralLexicon
    from extractors.entities.training.lexicon_build import build_codes, read_wordfreq

    return GeneralLexicon.from_codes(build_codes(read_wordfreq()))

# Run 23 of docs/MODEL_CARD.md: run 20 (general-Arabic lexicon from wordfreq, Arabic name list from Faker, CLDR
# gazetteer, no transitions unseen in training) + people's name words from Wikidata and arabnamer, c1 = 0.25.
# Needs `pip install -e .[train]` (wordfreq, faker) to retrain.
BEST: dict[str, Any] = {"algorithm": "lbfgs", "c1": 0.25, "c2": 0.005, "max_iterations": 300, "folds": 5, "clusters": 256,
        "possible_transitions": False,
        "features": {**FeatureConfig().to_json(), "general": True, "names": True, "ext_gazetteer": True,
                     "people": True}}


def build_training_items(train, cfg: FeatureConfig, folds: int, clusters: dict):
    """Features for every training sentence, with jackknifed lexical resources."""
    items: list[list[list[str]]] = []
    if folds <= 1:
        feat = Featurizer(make_resources(train, clusters, cfg), cfg)
        return [feat.sentence(toks) for toks, _ in train]
    size = (len(train) + folds - 1) // folds
    for k in range(folds):
        held = train[k * size : (k + 1) * size]
        rest = train[: k * size] + train[(k + 1) * size :]
        feat = Featurizer(make_resources(rest, clusters, cfg), cfg)
        items.extend(feat.sentence(toks) for toks, _ in held)
    return items


def _settings(params: dict) -> dict:
    settings = {"max_iterations": params["max_iterations"],
                "feature.possible_transitions": params.get("possible_transitions", True)}
    if params.get("minfreq"):
        settings["feature.minfreq"] = params["minfreq"]
    algorithm = params.get("algorithm", "lbfgs")
    if algorithm == "lbfgs":
        settings.update({"c1": params["c1"], "c2": params["c2"]})
    elif algorithm == "l2sgd":
        settings.update({"c2": params["c2"]})
    return settings


def _train_crf(xseqs, yseqs, path: Path, params: dict) -> None:
    trainer = pycrfsuite.Trainer(algorithm=params.get("algorithm", "lbfgs"), verbose=False)
    for xseq, tags in zip(xseqs, yseqs):
        trainer.append(xseq, tags)
    trainer.set_params(_settings(params))
    trainer.train(str(path))


def train_model(train, out_dir: Path, params: dict, log=print) -> tuple[Path, float]:
    cfg = FeatureConfig.from_json(params["features"])
    t0 = time.time()
    clusters = learn_clusters([toks for toks, _ in train], n_clusters=params["clusters"]) if (
        cfg.clusters and params.get("clusters")) else {}
    log(f"clusters: {len(clusters)} words, {time.time() - t0:.1f}s")
    items = build_training_items(train, cfg, params["folds"], clusters)
    log(f"features: {time.time() - t0:.1f}s")
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / MODEL_FILE
    _train_crf(items, [tags for _, tags in train], model_path, params)
    resources = make_resources(train, clusters, cfg)
    seconds = time.time() - t0
    with open(out_dir / RESOURCES_FILE, "w", encoding="utf-8") as fh:
        json.dump({**resources.to_json(), "features": cfg.to_json()}, fh, ensure_ascii=False, separators=(",", ":"))
    write_gazetteer(train, out_dir / "ner_gazetteer.tsv")
    if cfg.general and resources.general is not None:
        from extractors.entities.crf.lexicon import GENERAL_FILE

        resources.general.save(out_dir / GENERAL_FILE)
    log(f"trained in {seconds:.1f}s -> {model_path} ({model_path.stat().st_size / 1e6:.2f} MB)")
    return model_path, seconds


def write_gazetteer(train, path: Path) -> None:
    """Known entity forms (normalised) with their type counts, for canonical_entity()."""
    from collections import Counter, defaultdict

    forms: dict[str, Counter] = defaultdict(Counter)
    for toks, tags in train:
        for etype, s, e in spans(tags):
            forms[" ".join(fold_word(t) for t in toks[s:e])][etype] += 1
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("# form\ttype counts  (normalised entity forms from ANERcorp, CC BY-SA 4.0)\n")
        for form in sorted(forms):
            counts = ",".join(f"{t}:{c}" for t, c in forms[form].most_common())
            fh.write(f"{form}\t{counts}\n")


def evaluate(model_dir: Path, dev) -> tuple[dict, float]:
    """Scores of the model on the dev sentences, and its tagging speed in tokens per second."""
    from extractors.entities.crf.tagger import CRFTagger

    tagger = CRFTagger(model_dir)
    sents = [toks for toks, _ in dev]
    t0 = time.time()
    pred = tagger.tag(sents)
    secs = time.time() - t0
    n_tok = sum(len(s) for s in sents)
    return score([tags for _, tags in dev], pred), n_tok / secs


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="ANERcorp train file (token TAG per line)")
    ap.add_argument("--dev", action="store_true", help="train on the first 90%% and score the last 10%%")
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
    ap.add_argument("--log", help="append a JSON line with the settings and scores to this file")
    return ap.parse_args(argv)


def dev_scores(out: Path, dev) -> dict:
    """Print and return the dev scores of the model in `out` and its tagging speed."""
    result, tps = evaluate(out, dev)
    print(format_scores(result))
    print(f"tagging speed: {tps:,.0f} tokens/s (features included)")
    return {"dev": {k: {m: round(v[m], 4) for m in ("precision", "recall", "f1")} for k, v in result.items()},
            "tokens_per_second": round(tps)}


def main(argv=None) -> int:
    args = parse_args(argv)
    data = read_conll(args.data)
    features = {**BEST["features"], **json.loads(args.features)}
    params = {"algorithm": args.algorithm, "c1": args.c1, "c2": args.c2, "max_iterations": args.iterations, "folds": args.folds,
              "clusters": args.clusters, "features": features, "possible_transitions": bool(args.possible_transitions),
              "minfreq": args.minfreq}
    if args.dev:
        train, dev = split_dev(data)
        out = Path(args.out) if args.out else Path("/tmp/akhbar-crf-dev")
    else:
        train, dev = data, []
        out = Path(args.out) if args.out else MODEL_DIR
    print(f"train {len(train)} sentences, dev {len(dev)}; params {json.dumps(params)}")
    model_path, seconds = train_model(train, out, params)
    record = {"params": params, "train_seconds": round(seconds, 1), "train_sentences": len(train),
              "model_bytes": model_path.stat().st_size}
    if dev:
        record.update(dev_scores(out, dev))
    else:
        with open(out / "ner_crf_meta.json", "w", encoding="utf-8") as fh:
            json.dump({**record, "data": "ANERcorp CAMeL Lab train split (CC BY-SA 4.0)"}, fh, indent=1)
    if args.log:
        with open(args.log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
