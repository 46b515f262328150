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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pycrfsuite  # noqa: E402

from extractors.entities.crf.features import FeatureConfig, Featurizer, Resources, load_external, norm  # noqa: E402
from extractors.entities.iob import format_scores, read_conll, score, split_dev  # noqa: E402
from extractors.entities.training.clusters import learn_clusters  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "ner" / "ANERCorp_CamelLab_train.txt"
MODEL_DIR = ROOT / "extractors" / "models"
EXT_GAZETTEER = MODEL_DIR / "ner_cldr_gazetteer.tsv"  # built by python -m extractors.entities.training.gazetteer_build


def make_resources(sentences, clusters, cfg: FeatureConfig) -> Resources:
    res = Resources.from_sentences(sentences, clusters)
    if cfg.ext_gazetteer:
        res.with_external(load_external(EXT_GAZETTEER))
    if cfg.general:
        res.general = general_codes()
    if cfg.names:
        res.names = faker_names()
    if cfg.people:
        res.people = people_lists()[0]
    if cfg.people_phrases and cfg.ext_gazetteer:
        ext = dict(res.ext)
        for name in people_lists()[1]:
            ext.setdefault(name, "PERS")
        res.with_external(ext)
    return res


@functools.cache
def faker_names():
    """Faker's Arabic name words, read once per training run."""
    from extractors.entities.crf.lexicon import read_person_names

    return read_person_names()


@functools.cache
def people_lists():
    from extractors.entities.training.people_build import load_people

    return load_people()


@functools.cache
def general_codes():
    """The general lexicon, built once per training run (every jackknife fold shares it)."""
    from extractors.entities.crf.lexicon import GeneralLexicon, build_codes, read_wordfreq

    return GeneralLexicon.from_codes(build_codes(read_wordfreq()))

# Run 23 of docs/MODEL_CARD.md: run 20 (general-Arabic lexicon from wordfreq, Arabic name list from Faker, CLDR
# gazetteer, no transitions unseen in training) + people's name words from Wikidata and arabnamer, c1 = 0.25.
# Needs `pip install -e .[train]` (wordfreq, faker) to retrain.
BEST = {"algorithm": "lbfgs", "c1": 0.25, "c2": 0.005, "max_iterations": 300, "folds": 5, "clusters": 256,
        "possible_transitions": False,
        "features": {**FeatureConfig().to_json(), "general": True, "names": True, "ext_gazetteer": True,
                     "people": True}}


def build_training_items(train, cfg: FeatureConfig, folds: int, clusters: dict):
    """Features for every training sentence, with jackknifed lexical resources."""
    items = []
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


def _settings(params: dict, iterations: int | None = None) -> dict:
    settings = {"max_iterations": iterations or params["max_iterations"],
                "feature.possible_transitions": params.get("possible_transitions", True)}
    if params.get("minfreq"):
        settings["feature.minfreq"] = params["minfreq"]
    algorithm = params.get("algorithm", "lbfgs")
    if algorithm == "lbfgs":
        settings.update({"c1": params["c1"], "c2": params["c2"]})
    elif algorithm == "l2sgd":
        settings.update({"c2": params["c2"]})
    return settings


def _train_crf(xseqs, yseqs, path: Path, params: dict, iterations: int | None = None, c=None) -> None:
    trainer = pycrfsuite.Trainer(algorithm=params.get("algorithm", "lbfgs"), verbose=False)
    for xseq, tags in zip(xseqs, yseqs):
        trainer.append(xseq, tags)
    settings = _settings(params, iterations)
    if c:
        settings.update(c)
    trainer.set_params(settings)
    trainer.train(str(path))


def chunks(n: int, size: int) -> list[tuple[int, int]]:
    """Consecutive [start, end) ranges of ``size`` sentences: the "documents" of the second pass."""
    return [(i, min(i + size, n)) for i in range(0, n, size)]


def doc_extra(featurizer_keys, tags1, doc_sizes):
    """Document features for sentences grouped in consecutive "documents"; sizes cycle through doc_sizes."""
    from extractors.entities.crf.doc import doc_features

    sizes = [doc_sizes] if isinstance(doc_sizes, int) else list(doc_sizes)
    out = []
    a, k = 0, 0
    while a < len(tags1):
        b = min(a + sizes[k % len(sizes)], len(tags1))
        out.extend(doc_features(featurizer_keys[a:b], tags1[a:b]))
        a, k = b, k + 1
    return out


def train_model(train, out_dir: Path, params: dict, log=print) -> tuple[Path, float]:
    cfg = FeatureConfig(**params["features"])
    t0 = time.time()
    clusters = learn_clusters([toks for toks, _ in train], n_clusters=params["clusters"]) if (
        cfg.clusters and params.get("clusters")) else {}
    log(f"clusters: {len(clusters)} words, {time.time() - t0:.1f}s")
    items = build_training_items(train, cfg, params["folds"], clusters)
    log(f"features: {time.time() - t0:.1f}s")
    yseqs = [tags for _, tags in train]
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / "ner_crf.crfsuite"
    stage2_path = out_dir / "ner_crf_stage2.crfsuite"
    stage2 = params.get("stage2")
    oof: list[list[str]] = []
    if stage2:
        # out-of-fold first-pass labels for the training sentences (contiguous folds)
        import tempfile

        k = stage2.get("folds", 5)
        size = (len(train) + k - 1) // k
        with tempfile.TemporaryDirectory() as tmp:
            for f in range(k):
                a, b = f * size, min((f + 1) * size, len(train))
                path = Path(tmp) / f"fold{f}.crfsuite"
                _train_crf(items[:a] + items[b:], yseqs[:a] + yseqs[b:], path, params,
                           iterations=stage2.get("fold_iterations", 150))
                tagger = pycrfsuite.Tagger()
                tagger.open(str(path))
                oof.extend(tagger.tag(x) for x in items[a:b])
                tagger.close()
                log(f"stage-1 fold {f}: {time.time() - t0:.1f}s")
    _train_crf(items, yseqs, model_path, params)
    log(f"stage 1: {time.time() - t0:.1f}s")
    resources = make_resources(train, clusters, cfg)
    meta = {**resources.to_json(), "features": cfg.to_json()}
    if stage2:
        feat = Featurizer(resources, cfg)  # only for the grouping keys (no resource dependence)
        keys = [[feat.doc_key(t) for t in toks] for toks, _ in train]
        extra = doc_extra(keys, oof, stage2.get("doc_sizes", stage2.get("doc_size", 20)))
        items2 = [[fx + fe for fx, fe in zip(x, e)] for x, e in zip(items, extra)]
        c2 = {k: stage2[k] for k in ("c1", "c2") if k in stage2}
        _train_crf(items2, yseqs, stage2_path, params, c=c2)
        log(f"stage 2: {time.time() - t0:.1f}s")
        meta["stage2"] = {"file": stage2_path.name, **stage2}
    elif stage2_path.exists():
        stage2_path.unlink()
    seconds = time.time() - t0
    with open(out_dir / "ner_crf_resources.json", "w", encoding="utf-8") as fh:
        json.dump(meta, fh, ensure_ascii=False, separators=(",", ":"))
    write_gazetteer(train, out_dir / "ner_gazetteer.tsv")
    if cfg.general:
        from extractors.entities.crf.lexicon import GENERAL_FILE

        resources.general.save(out_dir / GENERAL_FILE)
    log(f"trained in {seconds:.1f}s -> {model_path} ({model_path.stat().st_size / 1e6:.2f} MB)")
    return model_path, seconds


def write_gazetteer(train, path: Path) -> None:
    """Known entity forms (normalised) with their type counts, for canonical_entity()."""
    from collections import Counter, defaultdict

    from extractors.entities.crf.features import spans

    forms: dict[str, Counter] = defaultdict(Counter)
    for toks, tags in train:
        for etype, s, e in spans(tags):
            forms[" ".join(norm(t) for t in toks[s:e])][etype] += 1
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("# form\ttype counts  (normalised entity forms from ANERcorp, CC BY-SA 4.0)\n")
        for form in sorted(forms):
            counts = ",".join(f"{t}:{c}" for t, c in forms[form].most_common())
            fh.write(f"{form}\t{counts}\n")


def evaluate(model_dir: Path, dev, doc_size: int = 0) -> tuple[dict, float]:
    """Score the dev sentences tagged in one call (doc_size 0) or in calls of doc_size consecutive sentences."""
    from extractors.entities.crf.tagger import CRFTagger

    tagger = CRFTagger(model_dir)
    sents = [toks for toks, _ in dev]
    t0 = time.time()
    pred = []
    for a, b in chunks(len(sents), doc_size or len(sents)):
        pred.extend(tagger.tag(sents[a:b]))
    secs = time.time() - t0
    n_tok = sum(len(s) for s in sents)
    return score([tags for _, tags in dev], pred), n_tok / secs


def main(argv=None) -> int:
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
    ap.add_argument("--stage2", default=None,
                    help='JSON settings of the document-level second pass, e.g. \'{"doc_size": 20, "folds": 5}\'; "none" to disable')
    ap.add_argument("--possible-transitions", type=int, default=int(BEST["possible_transitions"]),
                    help="1: let CRFsuite add label transitions never seen in training")
    ap.add_argument("--minfreq", type=float, default=0)
    ap.add_argument("--log", help="append a JSON line with the settings and scores to this file")
    args = ap.parse_args(argv)

    data = read_conll(args.data)
    features = {**BEST["features"], **json.loads(args.features)}
    params = {"algorithm": args.algorithm, "c1": args.c1, "c2": args.c2, "max_iterations": args.iterations, "folds": args.folds,
              "clusters": args.clusters, "features": features, "possible_transitions": bool(args.possible_transitions),
              "minfreq": args.minfreq}
    stage2 = BEST.get("stage2") if args.stage2 is None else (None if args.stage2 == "none" else json.loads(args.stage2))
    if stage2:
        params["stage2"] = stage2
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
        for label, size in (("all dev in one call", 0), ("calls of 20 consecutive sentences", 20)):
            result, tps = evaluate(out, dev, size)
            print(f"-- {label}")
            print(format_scores(result))
            print(f"tagging speed: {tps:,.0f} tokens/s (features included)")
            record.update({f"dev{size or ''}": {k: {m: round(v[m], 4) for m in ("precision", "recall", "f1")}
                                                for k, v in result.items()}, f"tokens_per_second{size or ''}": round(tps)})
    else:
        with open(out / "ner_crf_meta.json", "w", encoding="utf-8") as fh:
            json.dump({**record, "data": "ANERcorp CAMeL Lab train split (CC BY-SA 4.0)"}, fh, indent=1)
    if args.log:
        with open(args.log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
