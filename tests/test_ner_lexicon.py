"""The general-Arabic lexicon of the CRF (extractors/entities/crf/lexicon.py): compact table, shipped file, features."""

from __future__ import annotations

import json

import pytest

from extractors.arabic import fold_word
from extractors.entities.crf.features import FeatureConfig, Featurizer, Resources
from extractors.entities.crf.lexicon import GENERAL_FILE, RARE_CODE, GeneralLexicon
from extractors.entities.crf.tagger import MODEL_DIR, RESOURCES_FILE
from extractors.entities.training.lexicon_build import code_of


def test_compact_table_round_trips_and_leaves_out_the_default(tmp_path):
    codes = {"الحكومه": "6|a--|a", "حكومه": "7|apl|A", "ميسي": "9|---|x", "نادره": RARE_CODE}
    lex = GeneralLexicon.from_codes(codes)
    assert len(lex) == 3  # the default code is not stored
    path = tmp_path / "lex.npz"
    lex.save(path)
    back = GeneralLexicon.load(path)
    for word, code in codes.items():
        assert back.get(word) == (None if code == RARE_CODE else code)
    assert back.get("كلمةغيرموجودة") is None and back.default == RARE_CODE


def test_codes_follow_the_frequency_list():
    # bucket = centibels below the most frequent word: 100 buckets per factor 10
    freq = {"حكومه": 700, "الحكومه": 600, "حكومتها": 710, "حكومات": 690, "ميسي": 650}
    gf, gm, ga = code_of("الحكومه", freq).split("|")
    assert gf == "12" and gm == "apl" and ga == "a"  # ال + stem is ten times as frequent as the bare stem
    assert code_of("ميسي", freq).split("|")[1:] == ["---", "x"]  # a name: no article, suffix or plural forms
    assert code_of("غيرموجود", freq).startswith("x|")


def test_shipped_model_uses_the_shipped_lexicon():
    with open(MODEL_DIR / RESOURCES_FILE, encoding="utf-8") as fh:
        features = json.load(fh)["features"]
    if not features.get("general"):
        pytest.skip("the shipped model is trained without the general lexicon")
    lex = GeneralLexicon.load(MODEL_DIR / GENERAL_FILE)
    assert len(lex) > 300_000
    # a common noun has frequent article/suffix forms; an invented word is not in the list
    assert lex.get(fold_word("الحكومة")).split("|")[1].startswith("a")
    assert lex.get(fold_word("زقزقوتيلاني")) is None
    feats = Featurizer(Resources(general=lex), FeatureConfig(general=True)).sentence(["قالت", "الحكومة"])
    assert any(f.startswith("gf=") for f in feats[1]) and any(f.startswith("+1gm=") for f in feats[0])
