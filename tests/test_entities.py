"""Entity stage: IOB2, tokenisation offsets, canonical forms, mentions, CoNLL round trip."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from extractors.entities.mentions import (
    EntityError,
    ModelNotFoundError,
    canonical_entity,
    find_mentions,
    get_backend,
    is_arabic,
    link_short_names,
    split_sentences,
    tag_conll,
    to_iob2,
    tokenize,
)
from extractors.entities.training.conll import score
from extractors.records import Mention

SHARED = Path(__file__).resolve().parents[2] / "shared"


class FakeBackend:
    """Tags every token found in `names` (by text) and checks the batch shape."""

    name = "fake"

    def __init__(self, names: dict[str, str]):
        self.names = names
        self.calls = 0

    def tag(self, sentences):
        self.calls += 1
        out = []
        for sent in sentences:
            tags = []
            for tok in sent:
                t = self.names.get(tok)
                tags.append(t or "O")
            out.append(tags)
        return out


# -- IOB2 ---------------------------------------------------------------------------------------------

def test_to_iob2_repairs_and_maps():
    assert to_iob2(["I-LOC", "I-LOC", "O", "I-PERS", "I-ORG", "B-ORG", "I-ORG"]) == [
        "B-LOC", "I-LOC", "O", "B-PERS", "B-ORG", "B-ORG", "I-ORG"]
    assert to_iob2(["B-PER", "I-PER", "B-GPE", "weird"]) == ["B-PERS", "I-PERS", "B-LOC", "O"]


def test_score_exact_match():
    gold = [["B-PERS", "I-PERS", "O", "B-LOC"]]
    pred = [["B-PERS", "O", "O", "B-LOC"]]
    r = score(gold, pred)
    assert r["LOC"]["f1"] == 1.0
    assert r["PERS"]["f1"] == 0.0
    assert r["micro"]["precision"] == 0.5 and r["micro"]["recall"] == 0.5


# -- tokenisation and sentences -----------------------------------------------------------------------

TEXT = "قالَ الرئيسُ «محمد» في بيروت: إنّ «الأمم المتحدة»، (د.ب.أ) تدعم لبنان.وأضاف أن 3.5% فقط…\nسطر جديد"


def test_offsets_exact_with_diacritics_quotes_punctuation():
    toks = tokenize(TEXT)
    assert all(TEXT[t.start : t.end] == t.text for t in toks)
    texts = [t.text for t in toks]
    for piece in ("«", "»", "،", ":", "(", ")", "محمد", "الرئيسُ", "إنّ", "3.5%", "…"):
        assert piece in texts
    # no token contains both a letter and a quote
    assert not any(("«" in t or "»" in t) and len(t) > 1 for t in texts)


def test_sentences_split_and_capped():
    sents = split_sentences(TEXT)
    assert [s[-1].text for s in sents[:1]] == ["."]
    assert sents[1][0].text == "وأضاف"  # «لبنان.وأضاف» is split after the period
    assert sents[-1][0].text == "سطر"  # a line break ends a sentence
    assert any(t.text == "د" for t in sents[0])  # «د.ب.أ» does not end the sentence
    long = " ".join(["كلمة"] * 500)
    capped = split_sentences(long, max_tokens=80)
    assert max(len(s) for s in capped) <= 80 and sum(len(s) for s in capped) == 500


def test_is_arabic():
    assert is_arabic("هذا نص عربي عن الأخبار")
    assert not is_arabic("This is an English article about news.")
    assert not is_arabic("")


# -- canonical forms ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "surface, expected",
    [
        ("لسوريا", "سوريا"),
        ("سوريا", "سوريا"),
        ("وسوريا", "سوريا"),
        ("«سوريا»", "سوريا"),
        ("سُورِيَا", "سوريا"),
        ("للأمم المتحدة", "الامم المتحده"),
        ("الأمم المتحدة", "الامم المتحده"),
        ("والأمم  المتحدة", "الامم المتحده"),
        ("بغداد", "بغداد"),
        ("فرنسا", "فرنسا"),
        ("لبنان", "لبنان"),
        ("بيروت", "بيروت"),
        ("وبيروت", "بيروت"),
        ("والعراق", "العراق"),
        ("بالعراق", "العراق"),
        ("وبالعراق", "العراق"),
        ("مصـــر", "مصر"),
        ("إسرائيل", "اسرائيل"),
        ("مستشفى", "مستشفي"),
    ],
)
def test_canonical_entity(surface, expected):
    assert canonical_entity(surface) == expected


def test_clitic_grouping():
    groups = {canonical_entity(s) for s in ("لسوريا", "سوريا", "وسوريا", "بسوريا")}
    assert groups == {"سوريا"}
    assert canonical_entity("لبنان") != canonical_entity("بنان")


# -- mentions -----------------------------------------------------------------------------------------

def test_find_mentions_offsets_and_batching():
    text = "وقال   «محمدٌ» إنّ الأمم المتحدة\u200f تعمل في لسوريا.\nثم زار بيروت."
    backend = FakeBackend({"محمدٌ": "B-PERS", "الأمم": "B-ORG", "المتحدة": "I-ORG", "لسوريا": "I-LOC",
                           "بيروت": "B-LOC", "«": "I-PERS"})
    mentions = find_mentions(text, backend)
    assert backend.calls == 1  # one batched call for the whole text
    assert all(isinstance(m, Mention) for m in mentions)
    for m in mentions:
        assert m.text == text[m.start : m.end]
    got = [(m.entity_type, m.text, m.canonical) for m in mentions]
    assert got == [
        ("PERS", "محمدٌ", "محمد"),  # the quote tagged before it is trimmed off
        ("ORG", "الأمم المتحدة", "الامم المتحده"),
        ("LOC", "لسوريا", "سوريا"),
        ("LOC", "بيروت", "بيروت"),
    ]


def test_find_mentions_empty():
    assert find_mentions("", FakeBackend({})) == []
    assert find_mentions("   \n ", FakeBackend({})) == []


# -- CoNLL round trip ---------------------------------------------------------------------------------

def test_tag_conll_round_trip_same_breaks():
    backend = FakeBackend({"بيروت": "B-LOC", "الأمم": "I-ORG", "المتحدة": "I-ORG"})
    lines = ["قال O\n", "بيروت\tB-LOC\n", "\n", "\n", "الأمم anything else\n", "المتحدة\n", "تعمل\n", "\n"]
    out = list(tag_conll(lines, backend, batch_sentences=1))
    assert out == ["قال\tO", "بيروت\tB-LOC", "", "الأمم\tB-ORG", "المتحدة\tI-ORG", "تعمل\tO", ""]
    # output is valid input again and reproduces itself
    again = list(tag_conll([line + "\n" for line in out], backend))
    assert again == out


def test_tag_conll_matches_backend_tag():
    backend = get_backend("crf")
    sentences = [["ذهب", "الرئيس", "إلى", "باريس"], ["قال", "المرصد", "السوري"], ["."]]
    expected = backend.tag(sentences)
    text = "\n\n".join("\n".join(s) for s in sentences)
    out = list(tag_conll(io.StringIO(text), backend))
    got, cur = [], []
    for line in out:
        if line == "":
            got.append(cur)
            cur = []
        else:
            cur.append(line.split("\t")[1])
    got.append(cur)
    assert got == expected


# -- backends -----------------------------------------------------------------------------------------

def test_bad_backend_name():
    with pytest.raises(EntityError):
        get_backend("spacy")
    assert issubclass(ModelNotFoundError, EntityError)


def test_crf_backend_cached_and_strict_iob2():
    a = get_backend("crf")
    assert a is get_backend("crf")
    assert a.name == "crf"
    sents = [["وقال", "الرئيس", "السوري", "بشار", "الأسد", "في", "دمشق", "إن", "الأمم", "المتحدة"], [], ["x"]]
    tags = a.tag(sents)
    assert [len(t) for t in tags] == [len(s) for s in sents]
    for seq in tags:
        assert to_iob2(seq) == seq


def test_seed_article_mentions():
    path = SHARED / "samples" / "seed-article.txt"
    if not path.is_file():
        pytest.skip(f"shared sample data not found at {path} (../shared is absent on this machine)")
    text = path.read_text(encoding="utf-8")
    mentions = find_mentions(text, get_backend("crf"))
    assert all(m.text == text[m.start : m.end] for m in mentions)
    found = {(m.entity_type, m.canonical) for m in mentions}
    # a reasonable subset, not all of them: the CRF knows only ANERcorp's (2000s) names
    targets = {("ORG", "المرصد السوري"), ("LOC", "الباغوز"), ("LOC", "منبج")}
    assert len(targets & found) >= 2, found
    assert {("LOC", "سوريا"), ("LOC", "واشنطن"), ("LOC", "تركيا")} & found
    assert len(mentions) >= 5


def test_tag_conll_one_call_by_default():
    backend = FakeBackend({"بيروت": "B-LOC"})
    lines = []
    for _ in range(600):
        lines += ["قال\n", "بيروت\n", "\n"]
    out = list(tag_conll(lines, backend))
    assert backend.calls == 1
    assert out.count("") == 600


# -- one entity, several names in one article ---------------------------------------------------------------

def pers(text: str, written: str, after: int = 0) -> Mention:
    start = text.index(written, after)
    return Mention("PERS", written, canonical_entity(written), start, start + len(written))


def test_later_surname_takes_the_full_names_key():
    text = "زار توني بلير لندن. وقال بلير إن لبلير رأياً. ثم تحدث محمد بن سلمان آل سعود، وقال بن سلمان ..."
    ms = [pers(text, "توني بلير"), pers(text, "بلير", 15), pers(text, "لبلير"), pers(text, "محمد بن سلمان آل سعود"),
          pers(text, "بن سلمان", text.index("وقال بن"))]
    linked = link_short_names(ms)
    assert [m.canonical for m in linked] == ["توني بلير", "توني بلير", "توني بلير", "محمد بن سلمان ال سعود",
                                             "محمد بن سلمان ال سعود"]
    assert [m.text for m in linked] == [m.text for m in ms]  # as written, offsets unchanged
    assert [(m.start, m.end) for m in linked] == [(m.start, m.end) for m in ms]


def test_short_names_that_stay_their_own_entity():
    text = "جورج بوش وجيب بوش ثم بوش. بلير قبل توني بلير. بن بعد خالد بن علي. عمر بعد عمر البشير ثم سعيد"
    ms = [pers(text, "جورج بوش"), pers(text, "جيب بوش"), pers(text, "بوش", text.index("ثم")), pers(text, "بلير"),
          pers(text, "توني بلير"), pers(text, "خالد بن علي"), pers(text, "بن", text.index("خالد")),
          pers(text, "عمر البشير")]
    ms.append(Mention("LOC", "البشير", "البشير", 0, 6))  # another type never links
    by_text = {(m.text, m.start): m.canonical for m in link_short_names(ms)}
    assert by_text[("بوش", text.index("بوش", text.index("ثم")))] == "بوش"       # two earlier Bushes: ambiguous
    assert by_text[("بلير", text.index("بلير"))] == "بلير"                       # before the full name
    assert by_text[("بن", text.index("بن", text.index("خالد")))] == "بن"          # a particle alone
    assert by_text[("البشير", 0)] == "البشير"
    # «عمر» is the first name, not a surname (nor a run of two words): no link
    other = "قال عمر البشير ثم قال عمر"
    assert link_short_names([pers(other, "عمر البشير"), pers(other, "عمر", 10)])[1].canonical == "عمر"


def test_find_mentions_links_within_the_text():
    text = "قال توني بلير في لندن إن بلير سيعود."
    backend = FakeBackend({"توني": "B-PERS", "بلير": "I-PERS", "لندن": "B-LOC"})
    got = [(m.text, m.canonical) for m in find_mentions(text, backend)]
    # the tagger gives the second «بلير» I-PERS after O: strict IOB2 makes it B-PERS, a mention on its own
    assert got == [("توني بلير", "توني بلير"), ("لندن", "لندن"), ("بلير", "توني بلير")]


def test_a_surname_shared_by_many_earlier_names_is_left_alone():
    from extractors.entities.mentions import MAX_NAME_CANDIDATES

    many = [Mention("PERS", f"اسم{i} الخطيب", f"اسم{i} الخطيب", 20 * i, 20 * i + 10)
            for i in range(MAX_NAME_CANDIDATES + 1)]
    short = Mention("PERS", "الخطيب", "الخطيب", 10_000, 10_006)
    assert link_short_names([*many, short])[-1].canonical == "الخطيب"
    assert link_short_names([many[0], short])[-1].canonical == "اسم0 الخطيب"
