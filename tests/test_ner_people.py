"""People's name words (extractors/entities/training/people_build.py): building from the two wheels, the shipped file, features."""

from __future__ import annotations

import json
import sqlite3
import zipfile

import pytest

from extractors.arabic import fold_word
from extractors.entities.crf.features import FeatureConfig, Featurizer, Resources
from extractors.entities.crf.tagger import MODEL_DIR, RESOURCES_FILE, CRFTagger
from extractors.entities.training.people_build import DICT_MEMBER, OUT, SQLITE_MEMBER, collect, load_people, write


def _wheels(tmp_path):
    """Two wheels shaped like arabic-name-romanizer 0.2.0 and arabnamer 0.1.3, with a few names."""
    db = tmp_path / "names.sqlite3"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE units (arabic_key TEXT, latin TEXT, latin_lang TEXT, country TEXT, role TEXT,"
                " count INTEGER, source TEXT)")
    con.execute("CREATE TABLE full_names (arabic_key TEXT, latin TEXT, latin_lang TEXT, country TEXT,"
                " count INTEGER, source TEXT)")
    con.executemany("INSERT INTO units VALUES (?, ?, '', 'EG', ?, ?, 'wikidata')", [
        ("مصطفى", "Mustafa", "given", 8), ("مصطفى", "Moustafa", "given", 4),  # 12 people in all
        ("الحصري", "Elhossary", "surname", 1),
        ("عبد الرحيم", "Abdelrahim", "given", 2),  # the particle عبد is not a name word of its own
        ("بوعلام", "Boualem", "unknown", 3),
    ])
    con.executemany("INSERT INTO full_names VALUES (?, ?, 'en', 'EG', 1, 'wikidata')", [
        ("مصطفى الحصري", "Mustafa Elhossary"), ("مصطفى", "Mustafa"),
        ("أ ب ت ث ج ح", "too long"),
    ])
    con.commit()
    con.close()
    with zipfile.ZipFile(tmp_path / "arabic_name_romanizer-0.2.0-py3-none-any.whl", "w") as zf:
        zf.write(db, SQLITE_MEMBER)
    with zipfile.ZipFile(tmp_path / "arabnamer-0.1.3-py3-none-any.whl", "w") as zf:
        zf.writestr(DICT_MEMBER, json.dumps({"steven": "ستيفن", "mustafa": "مصطفى", "abu bakr": "أبو بكر"},
                                            ensure_ascii=False))
    return tmp_path


def test_build_reads_both_wheels_and_round_trips(tmp_path):
    codes, full = collect(_wheels(tmp_path))
    assert codes[fold_word("مصطفى")] == "eg:3"  # given name of 12 Wikidata people, also an arabnamer spelling
    assert codes[fold_word("الحصري")] == "s:1"
    assert codes[fold_word("الرحيم")] == "g:2" and fold_word("عبد") not in codes
    assert codes[fold_word("بوعلام")] == "u:2"
    assert codes[fold_word("ستيفن")] == "e:0" and codes[fold_word("بكر")] == "e:0" and fold_word("أبو") not in codes
    assert full == {f"{fold_word('مصطفى')} {fold_word('الحصري')}"}  # one-word and over-long names are left out
    path = tmp_path / "people.tsv.gz"
    write(codes, full, path)
    back_codes, back_full = load_people(path)
    assert back_codes == codes and back_full == {tuple(f.split(" ")) for f in full}


def test_missing_wheel_names_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="without --wheels"):
        collect(tmp_path)


def test_people_features():
    res = Resources(people={fold_word("ستيفن"): "e:0", fold_word("حصري"): "s:1"})
    feat = Featurizer(res, FeatureConfig(people=True))
    out = feat.sentence(["قال", "ستيفن", "والحصري", "اليوم"])
    assert "PNe" in out[1] and "PNb=0" in out[1] and any(f.startswith("PNr=0|") for f in out[1])
    assert "PNs" in out[2]  # found through the clitic-stripped stem
    assert "+1PN=e" in out[0] and "-1PN=s" in out[3]
    assert not any(f.startswith("PN") for f in out[0] + out[3])
    off = Featurizer(res, FeatureConfig(people=False)).sentence(["قال", "ستيفن"])
    assert not any("PN" in f for f in off[1])


def test_shipped_people_file():
    codes, full = load_people(OUT)
    assert len(codes) > 30_000 and len(full) > 50_000
    assert all(":" in c for c in list(codes.values())[:1000])


def test_shipped_model_uses_the_people_list():
    with open(MODEL_DIR / RESOURCES_FILE, encoding="utf-8") as fh:
        data = json.load(fh)
    if not data["features"].get("people"):
        pytest.skip("the shipped model is trained without the people list")
    assert len(data["people"]) > 30_000


def test_people_list_finds_names_the_corpus_never_saw():
    """Two names absent from ANERcorp: the shipped model finds them, and loses them without the people list."""
    tagger = CRFTagger(MODEL_DIR)
    if not tagger.featurizer.cfg.people:
        pytest.skip("the shipped model is trained without the people list")
    sentences = [["أعلن", "بوعلام", "صنصال", "أنه", "سيترشح", "للانتخابات", "المقبلة", "."],
                 ["أعلن", "مصطفى", "الحصري", "أنه", "سيترشح", "للانتخابات", "المقبلة", "."]]
    assert [tags[1:3] for tags in tagger.tag(sentences)] == [["B-PERS", "I-PERS"]] * 2
    tagger.featurizer.res.people = {}
    tagger.featurizer._word_cache.clear()
    assert all(tags[1:3] != ["B-PERS", "I-PERS"] for tags in tagger.tag(sentences))


def test_build_cli_with_wheels_writes_the_file(tmp_path, capsys):
    from extractors.entities.training.people_build import main

    out = tmp_path / "people.tsv.gz"
    assert main(["--wheels", str(_wheels(tmp_path)), "--out", str(out)]) == 0
    codes, full = load_people(out)
    assert codes[fold_word("الحصري")] == "s:1" and len(full) == 1
    assert "name words" in capsys.readouterr().out
