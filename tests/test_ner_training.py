"""CRF training as a library: train_for_adaptation works from the corpora shipped in the package alone."""

from __future__ import annotations

import json
from pathlib import Path

from extractors.entities.crf.tagger import RESOURCES_FILE, CRFTagger
from extractors.entities.iob import spans
from extractors.entities.training import corpora
from extractors.entities.training.crf_train import train_for_adaptation


def test_adaptation_trains_from_packaged_corpora_without_shared_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("AKHBAR_NER_DATA", str(tmp_path / "no-shared-folder"))
    assert corpora.available("anercorp"), "the package must ship ANERcorp (extractors/entities/training/labelled/)"
    invented = "زفلقستان"  # a word in no corpus: it can only get a cluster from the user's own sentences
    unlabelled = [["وصل", "الوفد", "إلى", invented, "أمس", "."], ["قال", "مسؤول", "في", invented, "إن", "."]] * 3
    lines: list[str] = []
    out = tmp_path / "model"
    train_for_adaptation(out, unlabelled, params={"max_iterations": 5}, max_sentences=200, log=lines.append)

    resources = json.loads((out / RESOURCES_FILE).read_text(encoding="utf-8"))
    assert invented in resources["clusters"]
    assert any("200 sentences" in line for line in lines)
    tagger = CRFTagger(out)
    tags = tagger.tag([["قال", "الرئيس", "اللبناني", "في", "بيروت", "."], []])
    assert tags[1] == [] and len(tags[0]) == 6
    assert all(t == "O" or t[:2] in ("B-", "I-") for t in tags[0])
    for etype, s, _ in spans(tags[0]):
        assert tags[0][s] == f"B-{etype}"


def test_packaged_corpus_reads_like_the_published_file(tmp_path, monkeypatch):
    """The gzipped package copy holds the same sentences as the published split it was made from."""
    shared = corpora.shared_dir()
    if not (shared / corpora.CORPORA["anercorp"].train_file).is_file():
        import pytest

        pytest.skip("shared NER folder absent")
    packaged = corpora.read_raw("anercorp", "dev")
    monkeypatch.setattr(corpora, "PACKAGE_DATA", Path(tmp_path))
    assert corpora.read_raw("anercorp", "dev") == packaged


def _harmonised(corpus: str, text: str, tags: str) -> list[str]:
    from extractors.entities.training.harmonise import harmonise

    toks, tag_list = text.split(), tags.split()
    assert len(toks) == len(tag_list)
    (_, new), = harmonise(corpus, [(toks, tag_list)])[0]
    return new


def test_harmonise_institutions_become_org_with_their_head():
    # construct head + definite genitive + nisba adjective
    assert _harmonised("anercorp", "قالت وزارة الخارجية الأميركية إن", "O O O O O") == [
        "O", "B-ORG", "I-ORG", "I-ORG", "O"]
    # a place name inside an institution's name becomes part of the ORG
    assert _harmonised("anercorp", "في جامعة القاهرة أمس", "O O B-LOC O") == ["O", "B-ORG", "I-ORG", "O"]
    # an ORG name gains its head noun
    assert _harmonised("anercorp", "وقالت حركة حماس إن", "O O B-ORG O") == ["O", "B-ORG", "I-ORG", "O"]
    # definite government-type head + adjective
    assert _harmonised("anercorp", "أعلنت النيابة العامة أن", "O O O O") == ["O", "B-ORG", "I-ORG", "O"]
    # a bare head, a description and a genitive after a preposition stay O
    assert _harmonised("anercorp", "وقالت الحكومة إن", "O O O") == ["O", "O", "O"]
    assert _harmonised("anercorp", "نشرت الصحيفة الإسرائيلية تقريرا", "O O O O") == ["O", "O", "O", "O"]
    assert _harmonised("anercorp", "مستشفى بالأردن", "O B-LOC") == ["O", "B-LOC"]
    # «حركة» is also a common noun: without a modifier or a name after the genitive it stays O
    assert _harmonised("aqmar", "حركة البناء في", "O O O") == ["O", "O", "O"]


def test_harmonise_titles_groups_terms_and_place_heads():
    assert _harmonised("anercorp", "الرئيس حسني مبارك", "B-PERS I-PERS I-PERS") == ["O", "B-PERS", "I-PERS"]
    assert _harmonised("aqmar", "هزم الصليبيين", "O B-PERS") == ["O", "O"]
    assert _harmonised("aqmar", "ذرات اليورانيوم و لينكس", "O B-MISC O B-MISC") == ["O", "O", "O", "B-MISC"]
    assert _harmonised("wojood", "في مدينة القدس", "O B-LOC I-LOC") == ["O", "O", "B-LOC"]
    assert _harmonised("wojood", "البلدة القديمة", "B-LOC I-LOC") == ["B-LOC", "I-LOC"]
    # ANERcorp's own LOC spans are left alone
    assert _harmonised("anercorp", "في مدينة القدس", "O O B-LOC") == ["O", "O", "B-LOC"]


def test_harmonise_countries_tagged_org_or_misc_become_loc():
    # the guideline: countries are LOC even when they act (ANERcorp and Wojood tag some ORG, ANERcorp some MISC)
    assert _harmonised("anercorp", "وعارضت روسيا القرار", "O B-ORG O") == ["O", "B-LOC", "O"]
    assert _harmonised("wojood", "وقالت الولايات المتحدة إن", "O B-ORG I-ORG O") == ["O", "B-LOC", "I-LOC", "O"]
    assert _harmonised("anercorp", "وفازت مصر", "O B-MISC") == ["O", "B-LOC"]
    assert _harmonised("anercorp", "منتخب مصر", "O B-MISC") == ["B-ORG", "I-ORG"]  # a team: org_construct
    # the first word may carry proclitics; the whole span must be the country's name
    assert _harmonised("anercorp", "بين قطر وإيران", "O B-LOC B-ORG") == ["O", "B-LOC", "B-LOC"]
    assert _harmonised("aqmar", "للمملكة العربية السعودية", "B-ORG I-ORG I-ORG") == ["B-LOC", "I-LOC", "I-LOC"]
    assert _harmonised("anercorp", "بنك قطر الوطني", "B-ORG I-ORG I-ORG") == ["B-ORG", "I-ORG", "I-ORG"]
    # international bodies and cities are not countries: the UN and the EU stay ORG, a city tagged ORG too
    assert _harmonised("anercorp", "الأمم المتحدة", "B-ORG I-ORG") == ["B-ORG", "I-ORG"]
    assert _harmonised("anercorp", "الاتحاد الأوروبي", "B-ORG I-ORG") == ["B-ORG", "I-ORG"]
    assert _harmonised("wojood", "موسكو", "B-ORG") == ["B-ORG"]
    # a construct head before the country still makes an ORG with it (country_loc runs first)
    assert _harmonised("anercorp", "حكومة روسيا", "O B-ORG") == ["B-ORG", "I-ORG"]
    # the narrow training profile applies it to ANERcorp as well
    from extractors.entities.training.harmonise import harmonise

    out, counts = harmonise("anercorp", [(["روسيا", "تعطل"], ["B-ORG", "O"])], "narrow")
    assert out[0][1] == ["B-LOC", "O"] and counts == {"anercorp:country_loc": 1}


def test_country_file_is_cldrs_country_names():
    """The shipped country list is what the builder writes from babel's CLDR data (countries only)."""
    from extractors.entities.training.harmonise import cldr_country_forms, country_forms

    forms = cldr_country_forms()
    assert frozenset(forms) == country_forms()
    assert forms["روسيا"] == "RU" and forms["المملكه العربيه السعوديه"] == "SA"
    assert "الامم المتحده" not in forms and "الاتحاد الاوروبي" not in forms and "موسكو" not in forms


def test_harmonise_counts_changes_per_rule():
    from extractors.entities.training.harmonise import harmonise

    sentences = [(["وزارة", "العدل", "و", "الرئيس", "بوش"], ["O", "O", "O", "B-PERS", "I-PERS"])]
    out, counts = harmonise("anercorp", sentences)
    assert out[0][1] == ["B-ORG", "I-ORG", "O", "O", "B-PERS"]
    assert counts == {"anercorp:org_construct": 1, "anercorp:title_out": 1}
    assert sentences[0][1] == ["O", "O", "O", "B-PERS", "I-PERS"]  # the input is not modified


def test_core_micro_and_unseen_recall():
    from extractors.entities.training.conll import score
    from extractors.entities.training.scoring import core_micro, entity_forms, unseen_recall

    gold = [(["زار", "بلير", "بغداد", "و", "ويندوز"], ["O", "B-PERS", "B-LOC", "O", "B-MISC"])]
    pred = [["O", "B-PERS", "O", "O", "B-MISC"]]
    core = core_micro(score([g for _, g in gold], pred))
    assert (core["precision"], core["recall"]) == (1.0, 0.5)  # MISC left out
    seen = entity_forms([(["بلير"], ["B-PERS"])])
    rec = unseen_recall(gold, pred, seen)
    assert rec["seen"] == {"recall": 1.0, "support": 1} and rec["unseen"] == {"recall": 0.0, "support": 1}
