"""The `crf` backend: a python-crfsuite model trained on ANERcorp, shipped in extractors/models/.

Imports neither torch nor transformers nor anything that reads camel-tools' data catalogue.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import pycrfsuite

from extractors.ner_features import FeatureConfig, Featurizer, Resources
from extractors.ner_metrics import to_iob2

MODEL_DIR = Path(__file__).resolve().parent / "models"
MODEL_FILE = "ner_crf.crfsuite"
RESOURCES_FILE = "ner_crf_resources.json"


class CRFTagger:
    """NER backend over a CRFsuite model folder (model file + resources JSON)."""

    name = "crf"

    def __init__(self, model_dir: str | Path | None = None):
        model_dir = Path(model_dir) if model_dir else MODEL_DIR
        model_path = model_dir / MODEL_FILE
        res_path = model_dir / RESOURCES_FILE
        if not model_path.is_file() or not res_path.is_file():
            from extractors.entities import ModelNotFoundError

            raise ModelNotFoundError(
                f"CRF model files missing in {model_dir} ({MODEL_FILE}, {RESOURCES_FILE}); "
                "rebuild them with: python scripts/train_crf.py"
            )
        with open(res_path, encoding="utf-8") as fh:
            data = json.load(fh)
        self.model_dir = model_dir
        self.featurizer = Featurizer(Resources.from_json(data), FeatureConfig(**data.get("features", {})))
        self._tagger = pycrfsuite.Tagger()
        self._tagger.open(str(model_path))

    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        out = []
        feat, tagger = self.featurizer, self._tagger
        for sent in sentences:
            if not sent:
                out.append([])
                continue
            out.append(to_iob2(tagger.tag(feat.sentence(sent))))
        return out
