"""The labelled NER corpora the CRF is trained and evaluated on, and where their files are found.

Each corpus has a train split and a dev split (ANERcorp's dev is the last 10% of its train file, the project's
protocol since session 1). A split is read from the package's own copy first
(``extractors/entities/training/labelled/<corpus>_<split>.txt.gz``, written by ``python -m
extractors.entities.training.corpora``), so that training (``akhbar ner adapt``) works on a machine without the
project's shared data folder; otherwise from the shared folder (``AKHBAR_NER_DATA`` or ``../shared/data/ner``).
Sentences are harmonised to the entity guideline (docs/ENTITIES.md, ``training/harmonise.py``) when read.
"""

from __future__ import annotations

import argparse
import gzip
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from extractors.entities.training.conll import Sentence, read_conll, split_dev
from extractors.entities.training.harmonise import TRAINING_PROFILE, harmonise

PACKAGE_DATA = Path(__file__).resolve().parent / "labelled"
REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Corpus:
    name: str
    train_file: str  # path under the shared NER folder
    dev_file: str | None  # None: the last 10% of the train file (split_dev)
    licence: str
    description: str


CORPORA: dict[str, Corpus] = {
    "anercorp": Corpus("anercorp", "ANERCorp_CamelLab_train.txt", None, "CC BY-SA 4.0",
                       "ANERcorp, CAMeL Lab train split (2000s news); dev = its last 10%"),
    "aqmar": Corpus("aqmar", "aqmar/aqmar_train.conll", "aqmar/aqmar_dev.conll", "CC BY-SA 3.0",
                    "AQMAR Arabic Wikipedia NER corpus (Mohit et al. 2012)"),
    "wojood": Corpus("wojood", "wojood/wojood_train.conll", "wojood/wojood_val.conll", "MIT",
                     "Wojood public sample, nested tags flattened (Jarrar et al. 2022)"),
}
SPLITS = ("train", "dev")


def shared_dir() -> Path:
    """The shared NER data folder: $AKHBAR_NER_DATA, else ../shared/data/ner next to the repository."""
    env = os.environ.get("AKHBAR_NER_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data" / "ner"


def package_file(name: str, split: str) -> Path:
    return PACKAGE_DATA / f"{name}_{split}.txt.gz"


def available(name: str) -> bool:
    """Whether the corpus can be read here (packaged copy or shared file)."""
    return package_file(name, "train").is_file() or (shared_dir() / CORPORA[name].train_file).is_file()


def read_raw(name: str, split: str) -> list[Sentence]:
    """One split of a corpus as published (its own convention), from the package copy or the shared folder."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    corpus = CORPORA[name]
    packaged = package_file(name, split)
    if packaged.is_file():
        return read_conll(packaged)
    if corpus.dev_file is None:  # ANERcorp: train = first 90%, dev = last 10% of the one file
        whole = read_conll(_shared_path(corpus.train_file))
        train, dev = split_dev(whole)
        return train if split == "train" else dev
    return read_conll(_shared_path(corpus.train_file if split == "train" else corpus.dev_file))


def _shared_path(relative: str) -> Path:
    path = shared_dir() / relative
    if not path.is_file():
        raise FileNotFoundError(f"NER corpus file {path} not found (no packaged copy in {PACKAGE_DATA}); set "
                                "AKHBAR_NER_DATA to the folder holding the corpora")
    return path


def read_split(name: str, split: str, counts: Counter[str] | None = None, profile: str = "guideline"
               ) -> list[Sentence]:
    """One split harmonised to the entity guideline; `counts` receives how many spans each rule changed."""
    sentences, changed = harmonise(name, read_raw(name, split), profile)
    if counts is not None:
        counts.update(changed)
    return sentences


def training_sentences(names: list[str], whole: bool, counts: Counter[str] | None = None,
                       profile: str = TRAINING_PROFILE) -> list[Sentence]:
    """The train splits of `names`; with `whole`, their dev splits too (the shipped model sees all of them)."""
    out: list[Sentence] = []
    for name in names:
        out.extend(read_split(name, "train", counts, profile))
        if whole:
            out.extend(read_split(name, "dev", counts, profile))
    return out


def write_package_copy(name: str) -> list[Path]:
    """Gzip a corpus's published splits into the package data folder (as published: harmonised when read)."""
    PACKAGE_DATA.mkdir(parents=True, exist_ok=True)
    written = []
    for split in SPLITS:
        target = package_file(name, split)
        sentences = _read_shared_split(name, split)
        text = "".join("".join(f"{t}\t{g}\n" for t, g in zip(toks, tags)) + "\n" for toks, tags in sentences)
        with open(target, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as fh:
            fh.write(text.encode("utf-8"))  # mtime 0: the same corpus gives the same bytes
        written.append(target)
    return written


def _read_shared_split(name: str, split: str) -> list[Sentence]:
    corpus = CORPORA[name]
    if corpus.dev_file is None:
        train, dev = split_dev(read_conll(_shared_path(corpus.train_file)))
        return train if split == "train" else dev
    return read_conll(_shared_path(corpus.train_file if split == "train" else corpus.dev_file))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Copy NER corpora from the shared folder into the package "
                                 f"({PACKAGE_DATA}), gzipped, so training works without the shared folder.")
    ap.add_argument("names", nargs="*", default=["anercorp"], choices=sorted(CORPORA),
                    help="corpora to copy (default: anercorp)")
    args = ap.parse_args(argv)
    for name in args.names:
        for path in write_package_copy(name):
            print(f"{path}: {path.stat().st_size / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
