"""The `crf` backend: a python-crfsuite model trained on ANERcorp, shipped in extractors/entities/models/.

Imports neither torch nor transformers nor anything that reads camel-tools' data catalogue. Each sentence is
tagged on its own, so a sentence's tags do not depend on the other sentences of a ``tag`` call.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pycrfsuite

from extractors.entities.base import ModelNotFoundError
from extractors.entities.crf.features import FeatureConfig, Featurizer, Resources
from extractors.entities.crf.lexicon import GENERAL_FILE, GeneralLexicon
from extractors.entities.iob import to_iob2

MODEL_DIR = Path(__file__).resolve().parents[1] / "models"
MODEL_FILE = "ner_crf.crfsuite"
RESOURCES_FILE = "ner_crf_resources.json"
RETRAIN_HINT = "rebuild with: python scripts/train_crf.py"


def load_featurizer(model_dir: Path) -> Featurizer:
    """The featurizer a model folder's resources JSON describes (with the general lexicon when it uses one)."""
    with open(model_dir / RESOURCES_FILE, encoding="utf-8") as fh:
        data = json.load(fh)
    if data.get("stage2"):
        raise ModelNotFoundError(f"{model_dir} holds a two-pass CRF model, no longer supported; {RETRAIN_HINT}")
    resources, config = Resources.from_json(data), FeatureConfig.from_json(data.get("features", {}))
    if config.general:
        path = model_dir / GENERAL_FILE
        if not path.is_file():
            raise ModelNotFoundError(f"CRF general lexicon {path} missing; {RETRAIN_HINT}")
        resources.general = GeneralLexicon.load(path)
    return Featurizer(resources, config)


class CRFTagger:
    """NER backend over a CRFsuite model folder (model file + resources JSON)."""

    name = "crf"

    def __init__(self, model_dir: str | Path | None = None):
        model_dir = Path(model_dir) if model_dir else MODEL_DIR
        model_path = model_dir / MODEL_FILE
        if not model_path.is_file() or not (model_dir / RESOURCES_FILE).is_file():
            raise ModelNotFoundError(f"CRF model files missing in {model_dir} ({MODEL_FILE}, {RESOURCES_FILE}); "
                                     f"{RETRAIN_HINT}")
        self.model_dir = model_dir
        self.featurizer = load_featurizer(model_dir)
        self._tagger = pycrfsuite.Tagger()
        self._tagger.open(str(model_path))

    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        return [to_iob2(self._tagger.tag(self.featurizer.sentence(sent))) if sent else [] for sent in sentences]
