"""Training the offline CRF named-entity model (library behind scripts/train_crf.py and `akhbar ner adapt`).

Gazetteer and per-word label statistics are features; to keep the model from trusting them blindly they are
computed by jackknifing during training (the features of fold k come from the other folds), and the shipped
resources come from all training sentences. Word clusters are learned from the training text (and, when
adapting, from the user's own articles). The word lists the features read are, by default, the ones shipped
with the model (``extractors/entities/models/``: general-Arabic lexicon, Faker name words in the resources JSON,
people list, CLDR gazetteer), so training needs no network and no wordfreq/faker; ``rebuild_lists=True``
recomputes the general lexicon and name words from wordfreq and faker (``pip install -e '.[train]'``).
Needs numpy, scipy and scikit-learn (word clusters) and python-crfsuite.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pycrfsuite

from extractors.arabic import fold_word
from extractors.entities.crf.features import FeatureConfig, Featurizer, Resources
from extractors.entities.crf.lexicon import GENERAL_FILE, GeneralLexicon
from extractors.entities.crf.tagger import MODEL_DIR, MODEL_FILE, RESOURCES_FILE, CRFTagger
from extractors.entities.iob import spans
from extractors.entities.training import corpora
from extractors.entities.training.clusters import learn_clusters
from extractors.entities.training.conll import Sentence, score
from extractors.entities.training.crf_resources import load_external, resources_from_sentences

Log = Callable[[str], None]
META_FILE = "ner_crf_meta.json"
EXT_GAZETTEER = MODEL_DIR / "ner_cldr_gazetteer.tsv"  # built by python -m extractors.entities.training.gazetteer_build
# External gazetteers merged (in this order: the first type of a form wins) into the features' `ext` table.
GAZETTEERS = {"cldr": EXT_GAZETTEER,
              "wikicats": MODEL_DIR / "ner_wikicats_gazetteer.tsv"}  # python -m ...training.wikicats_build
PEOPLE_FILE = MODEL_DIR / "ner_people.tsv.gz"  # built by python -m extractors.entities.training.people_build
DEFAULT_CORPORA = ["anercorp", "aqmar", "wojood"]

# The shipped setting (run 29 of docs/MODEL_CARD.md, which keeps every attempt; run 27 + the country_loc rule):
# run 23's features (general-Arabic lexicon, Faker name words, CLDR gazetteer, people's name words, no label
# transitions unseen in training, c1 = 0.25) + the institution head-noun feature + the ArWikiCats gazetteer,
# trained on the three corpora harmonised to docs/ENTITIES.md with the "narrow" profile (ANERcorp's definite
# heads with an adjective stay O: the guideline's full profile costs 0.021 more on ANERcorp's own convention,
# which its test split scores).
BEST: dict[str, Any] = {
    "algorithm": "lbfgs", "c1": 0.25, "c2": 0.005, "max_iterations": 300, "folds": 5, "clusters": 256,
    "possible_transitions": False, "minfreq": 0, "gazetteers": ["cldr", "wikicats"],
    "harmonise": corpora.TRAINING_PROFILE,
    "features": {**FeatureConfig().to_json(), "general": True, "names": True, "ext_gazetteer": True,
                 "people": True, "heads": True},
}


@dataclass
class WordLists:
    """The unlabelled word lists the features read; loaded once per training run."""

    general: GeneralLexicon | None = None
    names: dict[str, str] = field(default_factory=dict)
    people: dict[str, str] = field(default_factory=dict)
    ext: dict[tuple[str, ...], str] = field(default_factory=dict)


def shipped_word_lists(cfg: FeatureConfig, gazetteers: Sequence[str] = ("cldr",),
                       model_dir: Path = MODEL_DIR) -> WordLists:
    """The lists shipped with the model (no network, no wordfreq/faker)."""
    lists = WordLists()
    if cfg.general:
        lists.general = GeneralLexicon.load(model_dir / GENERAL_FILE)
    if cfg.names:
        with open(model_dir / RESOURCES_FILE, encoding="utf-8") as fh:
            lists.names = dict(json.load(fh).get("names", {}))
        if not lists.names:
            raise FileNotFoundError(f"no name words in {model_dir / RESOURCES_FILE}; train with rebuild_lists=True")
    if cfg.people:
        from extractors.entities.training.people_build import load_people

        lists.people = load_people(PEOPLE_FILE)[0]
    if cfg.ext_gazetteer:
        for name in gazetteers:
            for form, typ in load_external(GAZETTEERS[name]).items():
                lists.ext.setdefault(form, typ)
    return lists


def rebuilt_word_lists(cfg: FeatureConfig, gazetteers: Sequence[str] = ("cldr",)) -> WordLists:
    """The general lexicon and name words recomputed from wordfreq and faker (the train extra)."""
    lists = shipped_word_lists(FeatureConfig(**{**cfg.to_json(), "general": False, "names": False}), gazetteers)
    if cfg.general:
        from extractors.entities.training.lexicon_build import build_codes, read_wordfreq

        lists.general = GeneralLexicon.from_codes(build_codes(read_wordfreq()))
    if cfg.names:
        from extractors.entities.training.lexicon_build import read_person_names

        lists.names = read_person_names()
    return lists


def make_resources(sentences: list[Sentence], clusters: dict[str, str], lists: WordLists) -> Resources:
    res = resources_from_sentences(sentences, clusters)
    if lists.ext:
        res.with_external(lists.ext)
    res.general = lists.general
    res.names = lists.names
    res.people = lists.people
    return res


def build_training_items(train: list[Sentence], cfg: FeatureConfig, folds: int, clusters: dict[str, str],
                         lists: WordLists) -> list[list[list[str]]]:
    """Features for every training sentence, with jackknifed lexical resources."""
    if folds <= 1:
        feat = Featurizer(make_resources(train, clusters, lists), cfg)
        return [feat.sentence(toks) for toks, _ in train]
    items: list[list[list[str]]] = []
    size = (len(train) + folds - 1) // folds
    for k in range(folds):
        held = train[k * size : (k + 1) * size]
        rest = train[: k * size] + train[(k + 1) * size :]
        feat = Featurizer(make_resources(rest, clusters, lists), cfg)
        items.extend(feat.sentence(toks) for toks, _ in held)
    return items


def crf_settings(params: dict[str, Any]) -> dict[str, Any]:
    settings: dict[str, Any] = {"max_iterations": params["max_iterations"],
                                "feature.possible_transitions": params.get("possible_transitions", True)}
    if params.get("minfreq"):
        settings["feature.minfreq"] = params["minfreq"]
    algorithm = params.get("algorithm", "lbfgs")
    if algorithm == "lbfgs":
        settings.update({"c1": params["c1"], "c2": params["c2"]})
    elif algorithm == "l2sgd":
        settings.update({"c2": params["c2"]})
    return settings


def train_crf(xseqs: list[list[list[str]]], yseqs: list[list[str]], path: Path, params: dict[str, Any]) -> None:
    trainer = pycrfsuite.Trainer(algorithm=params.get("algorithm", "lbfgs"), verbose=False)
    for xseq, tags in zip(xseqs, yseqs):
        trainer.append(xseq, tags)
    trainer.set_params(crf_settings(params))
    trainer.train(str(path))


def train_model(train: list[Sentence], out_dir: Path, params: dict[str, Any], *, lists: WordLists | None = None,
                cluster_text: Iterable[Sequence[str]] = (), data: str = "", log: Log = print) -> tuple[Path, float]:
    """Train on `train` and write a complete model folder to `out_dir`; returns (model file, seconds).

    Word clusters are learned from the training tokens plus `cluster_text` (unlabelled tokenised sentences)."""
    cfg = FeatureConfig.from_json(params["features"])
    if lists is None:
        lists = shipped_word_lists(cfg, params.get("gazetteers", ("cldr",)))
    t0 = time.time()
    clusters: dict[str, str] = {}
    if cfg.clusters and params.get("clusters"):
        text = [toks for toks, _ in train]
        text.extend(list(s) for s in cluster_text)
        clusters = learn_clusters(text, n_clusters=params["clusters"])
        log(f"clusters: {len(clusters)} words from {len(text)} sentences, {time.time() - t0:.1f}s")
    items = build_training_items(train, cfg, params["folds"], clusters, lists)
    log(f"features: {time.time() - t0:.1f}s")
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / MODEL_FILE
    train_crf(items, [tags for _, tags in train], model_path, params)
    resources = make_resources(train, clusters, lists)
    with open(out_dir / RESOURCES_FILE, "w", encoding="utf-8") as fh:
        json.dump({**resources.to_json(), "features": cfg.to_json()}, fh, ensure_ascii=False, separators=(",", ":"))
    write_gazetteer(train, out_dir / "ner_gazetteer.tsv", data)
    if cfg.general and resources.general is not None:
        resources.general.save(out_dir / GENERAL_FILE)
    seconds = time.time() - t0
    meta = {"params": params, "train_seconds": round(seconds, 1), "train_sentences": len(train),
            "model_bytes": model_path.stat().st_size, "data": data}
    with open(out_dir / META_FILE, "w", encoding="utf-8") as fh:
        json.dump(meta, fh, indent=1, ensure_ascii=False)
    log(f"trained in {seconds:.1f}s -> {model_path} ({model_path.stat().st_size / 1e6:.2f} MB)")
    return model_path, seconds


def write_gazetteer(train: list[Sentence], path: Path, data: str = "") -> None:
    """Known entity forms (normalised) with their type counts, for canonical_entity()."""
    forms: dict[str, Counter[str]] = defaultdict(Counter)
    for toks, tags in train:
        for etype, s, e in spans(tags):
            forms[" ".join(fold_word(t) for t in toks[s:e])][etype] += 1
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"# form\ttype counts  (normalised entity forms from the training data: {data or 'see meta'})\n")
        for form in sorted(forms):
            counts = ",".join(f"{t}:{c}" for t, c in forms[form].most_common())
            fh.write(f"{form}\t{counts}\n")


def evaluate(model_dir: Path, dev: list[Sentence]) -> tuple[dict[str, dict[str, float]], float]:
    """Scores of the model on the dev sentences, and its tagging speed in tokens per second."""
    tagger = CRFTagger(model_dir)
    sents = [toks for toks, _ in dev]
    t0 = time.time()
    pred = tagger.tag(sents)
    secs = time.time() - t0
    n_tok = sum(len(s) for s in sents)
    return score([tags for _, tags in dev], pred), n_tok / max(secs, 1e-9)


def data_label(names: Iterable[str]) -> str:
    return "; ".join(f"{corpora.CORPORA[n].description} ({corpora.CORPORA[n].licence})" for n in names)


def shipped_corpora() -> list[str]:
    """The corpora training can read here, in DEFAULT_CORPORA order (the package copies need no shared folder)."""
    return [name for name in DEFAULT_CORPORA if corpora.available(name)]


def train_for_adaptation(out_dir: Path, unlabelled: Iterable[Sequence[str]], *, params: dict | None = None,
                         max_sentences: int | None = None, log: Callable[[str], None] = print) -> None:
    """Train the offline model from the training data shipped in the package, with word clusters learned from
    the shipped training text plus `unlabelled` (tokenised sentences of the user's own articles); write a
    complete model folder (what CRFTagger(model_dir) loads) to out_dir. `params` overrides CRFsuite settings
    (e.g. {"max_iterations": 5} for tests); `max_sentences` trains on the first N training sentences (tests)."""
    names = shipped_corpora()
    if not names:
        raise FileNotFoundError(f"no NER training corpus found in {corpora.PACKAGE_DATA} or {corpora.shared_dir()}")
    merged = {**BEST, **(params or {})}
    train = corpora.training_sentences(names, whole=True, profile=merged["harmonise"])
    if max_sentences is not None:
        train = train[:max_sentences]
    log(f"training on {len(train)} sentences of {', '.join(names)}")
    train_model(train, Path(out_dir), merged, cluster_text=unlabelled,
                data=data_label(names) + " + word clusters from the user's articles", log=log)
