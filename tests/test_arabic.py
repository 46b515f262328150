"""The one Arabic normalisation (extractors/arabic.py): camel-tools agreement, its variants, and its SQL twin."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import duckdb
import pytest
from camel_tools.tokenizers.word import simple_word_tokenize
from camel_tools.utils.dediac import dediac_ar
from camel_tools.utils.normalize import normalize_alef_ar, normalize_alef_maksura_ar, normalize_teh_marbuta_ar

from extractors.arabic import (
    DIGIT_FOLDS,
    EXTRA_MARKS,
    INVISIBLE,
    REMOVED,
    TATWEEL,
    UNIFIED,
    fold_arabic,
    fold_word,
    normalize_arabic,
    remove_invisible,
)
from extractors.entities.tokens import tokenize
from warehouse.arabic_sql import MACRO_NAME, macro_sql, normalize_expr
from warehouse.search import normalise_sql

ROOT = Path(__file__).resolve().parents[1]
ANERCORP = ROOT.parent / "shared" / "data" / "ner" / "ANERCorp_CamelLab_train.txt"
MACRO_FILE = ROOT / "warehouse" / "schema" / "009_arabic_macro.sql"

BLOCKS = [(0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)]
EVERY_ARABIC_CHAR = [chr(cp) for first, last in BLOCKS for cp in range(first, last + 1)]
TRICKY = [
    "", " ", "  وَالعِرَاقُ  ", "«للأمم المتحدة»", "فالحكومة", "والعراق", "الحكومـــة", "مُحَمَّدٌ", "إِلَى", "آمنة",
    "ٱلرَّحْمَٰنِ", "مدرسة٣٫٥", "۱۲ و ١٢ و 12", "ABC def", "ﻷ", "ﷲ", "ﷺ", "ا\u0653", "و\u0654", "ي\u0655",
    "ق\u06d6\u06e2ل", "\u200bكلمة\u200c\u200d\u200e\u200f\u202a\u2066\ufeff", "it's", "'; DROP TABLE x; --",
    "\u0610\u061a\u065f\u06dd\u06de\u06e9", "ـ", "٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹",
]


def _words(text: str) -> set[str]:
    return set(re.findall(r"[\u0600-\u06ff]+", text))


def shipped_words() -> set[str]:
    """Arabic words of the sample site, the boilerplate lexicon and (when present) ANERcorp."""
    texts = [p.read_text(encoding="utf-8") for p in (ROOT / "samples" / "site").rglob("*.html")]
    texts.append((ROOT / "extractors" / "extract" / "lexicon" / "boilerplate.toml").read_text(encoding="utf-8"))
    if ANERCORP.is_file():
        texts.append(ANERCORP.read_text(encoding="utf-8"))
    return set().union(*(_words(t) for t in texts))


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    con.execute(MACRO_FILE.read_text(encoding="utf-8"))
    yield con
    con.close()


def _sql_map(con, expression: str, texts: list[str]) -> list[str]:
    rows = con.execute(f"SELECT {expression} FROM (SELECT unnest($t) AS s, generate_subscripts($t, 1) AS i) "
                       "ORDER BY i", {"t": texts}).fetchall()
    return [r[0] for r in rows]


# -- camel-tools agreement -----------------------------------------------------------------------------------------
def test_letter_folds_are_camel_tools_own_on_the_shipped_data():
    words = shipped_words()
    assert len(words) > 1000
    letters = str.maketrans({c: out for c, out in UNIFIED.items() if c not in DIGIT_FOLDS})
    for w in words:
        assert w.translate(letters) == normalize_teh_marbuta_ar(normalize_alef_maksura_ar(normalize_alef_ar(w)))


def test_diacritics_are_dediac_ar_and_more():
    """Ours removes what dediac_ar removes, plus the marks and tatweel it keeps (EXTRA_MARKS, TATWEEL)."""
    for w in shipped_words():
        assert fold_arabic(dediac_ar(w)) == fold_arabic(w)
    assert dediac_ar("الحكومـــة") == "الحكومـــة" and fold_arabic("الحكومـــة") == "الحكومه"
    assert dediac_ar("ق\u06d6ل") == "ق\u06d6ل" and fold_arabic("ق\u06d6ل") == "قل"
    assert {c for c in EVERY_ARABIC_CHAR if dediac_ar(c) == ""} | EXTRA_MARKS | {TATWEEL} == REMOVED


def test_camel_simple_word_tokenize_is_not_ours():
    """It has no offsets and splits decimal numbers and ellipses, which NER tokens keep whole."""
    assert simple_word_tokenize("نما 3.5 بالمئة...") != [t.text for t in tokenize("نما 3.5 بالمئة...")]
    assert [t.text for t in tokenize("نما 3.5 بالمئة...")] == ["نما", "3.5", "بالمئة", "..."]


# -- the forms built on the table ----------------------------------------------------------------------------------
def test_normalize_arabic_is_nfkc_then_the_table():
    for s in TRICKY + EVERY_ARABIC_CHAR:
        assert normalize_arabic(s) == fold_arabic(unicodedata.normalize("NFKC", s))
    assert normalize_arabic("«لِلأُمَمِ المُتَّحِدَةِ» ٢٠٢٤") == "«للامم المتحده» 2024"


def test_fold_word_is_the_documented_variant():
    """fold_word drops joiners and direction marks, removes marks before NFKC composes, and lower-cases."""
    assert fold_word("و\u0654") == "و" and normalize_arabic("و\u0654") == "ؤ"
    for s in TRICKY + EVERY_ARABIC_CHAR:
        if "\u0654" in s or "\u0655" in s or "\u0653" in s:
            continue  # composition order: the one documented difference
        expected = normalize_arabic(s.translate(str.maketrans(dict.fromkeys("\u200c\u200d\u200e\u200f")))).lower()
        assert fold_word(s) == expected, s


def test_remove_invisible():
    assert remove_invisible("\u200bكلمة\u200c\u200d\u200e\u200f\u202a\u2066\ufeff") == "كلمة"
    assert len(INVISIBLE) == 5 + 5 + 4 + 1


# -- the SQL twin --------------------------------------------------------------------------------------------------
def test_migration_file_is_generated_from_the_table():
    assert MACRO_FILE.read_text(encoding="utf-8") == macro_sql(), "run: python -m warehouse.arabic_sql > " + str(
        MACRO_FILE.relative_to(ROOT))


def test_macro_equals_python_on_every_arabic_character_and_tricky_strings(con):
    texts = TRICKY + EVERY_ARABIC_CHAR + sorted(INVISIBLE) + ["ب" + c + "ت" for c in EVERY_ARABIC_CHAR]
    assert _sql_map(con, f"{MACRO_NAME}(s)", texts) == [fold_arabic(s) for s in texts]
    assert _sql_map(con, normalize_expr("s"), texts) == [fold_arabic(s) for s in texts]


def test_macro_equals_normalize_arabic_on_nfkc_text(con):
    texts = [unicodedata.normalize("NFKC", s) for s in TRICKY + EVERY_ARABIC_CHAR]
    assert _sql_map(con, f"{MACRO_NAME}(s)", texts) == [normalize_arabic(s) for s in texts]


def test_macro_on_the_shipped_data(con):
    words = sorted(shipped_words())
    assert _sql_map(con, f"{MACRO_NAME}(s)", words) == [fold_arabic(w) for w in words]


def test_search_normalisation_is_the_table_plus_the_conjunction_split(con):
    texts = ["والعراق", "فالحكومة", "قال: والعِراقُ ٣", "وال"]
    assert _sql_map(con, normalise_sql("s"), texts) == ["العراق", "الحكومه", "قال: العراق 3", "وال"]


def test_macro_is_in_a_migrated_file_and_usable_read_only(tmp_path):
    from warehouse.connection import migrate

    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:
        migrate(con)
    with duckdb.connect(str(path), read_only=True) as con:
        assert _sql_map(con, f"{MACRO_NAME}(s)", ["العِراقُ ۲۰۲۴"]) == ["العراق 2024"]


def test_written_out_diacritics_are_exactly_what_dediac_ar_removes():
    from extractors.arabic import CAMEL_DIACRITICS

    assert {c for c in map(chr, range(0x0600, 0x0700)) if dediac_ar(c) == ""} == CAMEL_DIACRITICS
    assert {c for c in map(chr, range(0x20, 0x3000)) if dediac_ar(c) == ""} == CAMEL_DIACRITICS


def test_normalising_does_not_load_camel_tools_emoji_tables():
    """camel_tools.utils.charsets costs 40 MB and 0.3 s per worker process: the pipeline does without it."""
    import subprocess
    import sys

    code = ("import sys, extractors.batch; from extractors.entities.mentions import get_backend; get_backend('crf'); "
            "print('camel_tools.utils.charsets' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
