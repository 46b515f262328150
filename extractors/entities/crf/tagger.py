"""The `crf` backend: a python-crfsuite model trained on ANERcorp, shipped in extractors/entities/models/.

Imports neither torch nor transformers nor anything that reads camel-tools' data catalogue.

Two passes when the model folder has a second-stage model (``ner_crf_stage2.crfsuite``, named in the
resources JSON): the first CRF tags every sentence; the second re-tags them with the first pass's
features plus document-level features (how the same word was tagged elsewhere in the same ``tag`` call,
see ``extractors/entities/crf/doc.py``). So a sentence's tags can depend on the other sentences of the call.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pycrfsuite

from extractors.entities.crf.doc import doc_features
from extractors.entities.crf.features import FeatureConfig, Featurizer, Resources
from extractors.entities.iob import to_iob2

MODEL_DIR = Path(__file__).resolve().parents[1] / "models"
MODEL_FILE = "ner_crf.crfsuite"
RESOURCES_FILE = "ner_crf_resources.json"
STAGE2_FILE = "ner_crf_stage2.crfsuite"


class CRFTagger:
    """NER backend over a CRFsuite model folder (model file + resources JSON)."""

    name = "crf"

    def __init__(self, model_dir: str | Path | None = None):
        model_dir = Path(model_dir) if model_dir else MODEL_DIR
        model_path = model_dir / MODEL_FILE
        res_path = model_dir / RESOURCES_FILE
        if not model_path.is_file() or not res_path.is_file():
            from extractors.entities.mentions import ModelNotFoundError

            raise ModelNotFoundError(
                f"CRF model files missing in {model_dir} ({MODEL_FILE}, {RESOURCES_FILE}); "
                "rebuild them with: python scripts/train_crf.py"
            )
        with open(res_path, encoding="utf-8") as fh:
            data = json.load(fh)
        self.model_dir = model_dir
        resources, config = Resources.from_json(data), FeatureConfig(**data.get("features", {}))
        if config.general:
            from extractors.entities.crf.lexicon import GENERAL_FILE, GeneralLexicon

            path = model_dir / GENERAL_FILE
            if not path.is_file():
                from extractors.entities.mentions import ModelNotFoundError

                raise ModelNotFoundError(f"CRF general lexicon {path} missing; rebuild with: python scripts/train_crf.py")
            resources.general = GeneralLexicon.load(path)
        self.featurizer = Featurizer(resources, config)
        self._tagger = pycrfsuite.Tagger()
        self._tagger.open(str(model_path))
        self._stage2 = None
        stage2 = data.get("stage2")
        if stage2:
            path2 = model_dir / stage2.get("file", STAGE2_FILE)
            if not path2.is_file():
                from extractors.entities.mentions import ModelNotFoundError

                raise ModelNotFoundError(f"CRF second-stage model {path2} missing; rebuild with: python scripts/train_crf.py")
            self._stage2 = pycrfsuite.Tagger()
            self._stage2.open(str(path2))

    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        feat, tagger = self.featurizer, self._tagger
        xs = [feat.sentence(sent) if sent else [] for sent in sentences]
        first = [tagger.tag(x) if x else [] for x in xs]
        if self._stage2 is None:
            return [to_iob2(t) for t in first]
        keys = [[feat.doc_key(tok) for tok in sent] for sent in sentences]
        extra = doc_features(keys, first)
        tagger2 = self._stage2
        out = []
        for x, e in zip(xs, extra):
            if not x:
                out.append([])
                continue
            for fx, fe in zip(x, e):
                fx.extend(fe)
            out.append(to_iob2(tagger2.tag(x)))
        return out
