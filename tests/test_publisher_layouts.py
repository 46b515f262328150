"""Realistic publisher page layouts (tests/pages, written for akhbar): bylines, leads, captions, promo boxes and
local times, each checked exactly; and the rules behind them on small pieces of HTML."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import lxml.html
import pytest
import trafilatura

from extractors.extract.article import extract_article
from extractors.extract.boilerplate import byline_list_line, classify_line, clean_author, clean_text, preclean_tree

PAGES = Path(__file__).resolve().parent / "pages"
EXPECTED = json.loads((PAGES / "expected.json").read_text(encoding="utf-8"))
AKHBAR = str(Path(sys.executable).parent / "akhbar")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_page_extracts_exactly(name):
    gold = EXPECTED[name]
    article = extract_article((PAGES / name).read_bytes(), gold["url"], timezone=gold["timezone"])
    lines = article.text.split("\n")
    assert article.author == gold["author"]
    assert article.published_at == datetime.fromisoformat(gold["published_at"])
    assert article.published_at.utcoffset() == datetime.fromisoformat(gold["published_at"]).utcoffset()
    assert lines[0].startswith(gold["first"]), lines[0]
    assert lines[-1].endswith(gold["last"]), lines[-1]
    for snippet in gold["absent"]:
        assert snippet not in article.text, snippet


def test_pages_exercise_what_bare_trafilatura_gets_wrong():
    """The layouts carry the failure classes: bare trafilatura drops the lead, keeps the caption, the promo's end
    label and the repeated headline (so the checks above are not vacuous)."""
    def bare(name):
        return trafilatura.extract((PAGES / name).read_text(encoding="utf-8"), include_comments=False)

    assert "أطلقت بلدية دبي" not in bare("gulf_lead.html")
    assert "جانب من الألواح الشمسية" in bare("cairo_comments.html")
    assert "البودكاست نهاية" in bare("broadcaster_byline_promo.html")
    assert bare("cairo_repeated_headline.html").startswith("وزير التعليم العالي: 12 جامعة")


def test_evening_time_lands_on_the_sources_day_and_cli_says_the_zone():
    page = PAGES / "beirut_handles.html"
    env = {**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING"}
    runs = {}
    for zone in ("Asia/Beirut", None):
        args = [AKHBAR, "extract", str(page)] + (["--timezone", zone] if zone else [])
        r = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
        assert r.returncode == 0, r.stderr
        runs[zone] = json.loads(r.stdout)
    beirut, default = runs["Asia/Beirut"], runs[None]
    assert beirut["timezone"] == "Asia/Beirut" and default["timezone"] == "UTC"
    for key in ("url", "title", "author", "published_at", "language", "text", "credit"):
        assert key in beirut
    # «الجمعة 7 آذار 2025 | 11:20 مساءً»: 21:20 UTC on the 7th; read as UTC it would be the 8th in Beirut
    assert beirut["published_at"] == "2025-03-07T23:20:00+02:00"
    assert default["published_at"] == "2025-03-07T23:20:00+00:00"
    bad = subprocess.run([AKHBAR, "extract", str(page), "--timezone", "Asia/Beirutt"], capture_output=True,
                         text=True, timeout=120, env=env)
    assert bad.returncode == 2 and "IANA" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("Author, نادر الشامي", "نادر الشامي"),
        ("Role, مراسل الشؤون العلمية", None),
        ("Article information", None),
        ("@almarsad_lb", None),
        ("كتب", None),
        ("رد", None),
        ("الرد على سامية", None),
        ("إلغاء الرد", None),
        ("admin", None),
        ("منى عبد الرحمن، أحمد سعيد", "منى عبد الرحمن; أحمد سعيد"),
        ("فهد المطيري، جدة", "فهد المطيري"),
        ("دبي - خالد المنصوري", "خالد المنصوري"),
    ],
)
def test_clean_author_labels_handles_and_several_names(raw, expected):
    assert clean_author(raw, loose_prefix=True) == expected


def test_byline_list_lines_leave_the_text():
    assert byline_list_line("- Author, نادر الشامي") == ("name", "نادر الشامي")
    assert byline_list_line("- Role, الأثير نيوز عربي") == ("role", None)
    assert byline_list_line("Author, نادر الشامي Role, مراسل") is None  # the whole list on one line
    body = "باتت الأقمار الصناعية الصغيرة أداة رئيسية في يد الباحثين الذين يتابعون تطور الجفاف في المنطقة."
    cleaned = clean_text("\n".join(["- Author, نادر الشامي", "- Role, الأثير نيوز عربي", body]))
    assert cleaned.text == body and cleaned.lead_bylines == ["نادر الشامي"]


def test_repeated_headline_and_promo_labels():
    body = "أعلن وزير التعليم العالي أن اثنتي عشرة جامعة أهلية جديدة ستبدأ استقبال الطلاب العام المقبل."
    headline = "وزير التعليم العالي: 12 جامعة أهلية جديدة تستقبل الطلاب العام المقبل"
    assert clean_text(f"{headline}\n{body}", title="12 جامعة جديدة", headlines=(headline,)).text == body
    assert clean_text(f"{body}\n{headline}", headlines=(headline,)).text == f"{body}\n{headline}"  # only first
    for label in ("الحلقات", "البودكاست نهاية", "تخطى البودكاست وواصل القراءة"):
        assert classify_line(label) == "promo"


P = ("وقال المسؤول إن الخطة تشمل إنشاء مدارس جديدة في المناطق الريفية وتوفير حافلات للطلاب في القرى البعيدة "
     "خلال العام الدراسي المقبل.")


def _walked(inner: str):
    root = lxml.html.fromstring(f"<html><body><article><h1>عنوان الخبر في الصفحة الرئيسية</h1>{inner}</article>"
                                "</body></html>")
    findings = preclean_tree(root)
    return root.text_content(), findings


def test_captions_go_but_pictures_in_running_text_keep_their_paragraph():
    text, _ = _walked(f'<div class="body"><p>{P}</p><div class="photo"><img src="a.jpg"><em>صورة الوزير</em></div>'
                      f'<figure><img src="b.jpg"><p>الوزير في المؤتمر</p></figure>'
                      f'<p><img src="icon.png">{P}</p></div>')
    assert "صورة الوزير" not in text and "الوزير في المؤتمر" not in text
    assert text.count("وقال المسؤول") == 2


def test_promo_boxes_and_skip_regions_go():
    text, _ = _walked(f'<div class="body"><p>{P}</p>'
                      '<aside class="newsletter-promo"><h3>النشرة الصباحية</h3><p>أهم الأخبار في بريدك</p></aside>'
                      '<div><a href="#after">تخطى الفيديو وواصل القراءة</a><h2>سلسلة وثائقية</h2><p>حكايات المدن</p>'
                      f'<span id="after"></span></div><p>{P}</p></div>')
    assert "النشرة الصباحية" not in text and "حكايات المدن" not in text and "تخطى" not in text
    assert text.count("وقال المسؤول") == 2


def test_comment_widget_names_are_not_bylines():
    _, findings = _walked(f'<div class="body"><p>{P}</p></div><div id="comments"><div class="comment">'
                          '<span class="comment-author">أبو يوسف المصري</span><p>تعليق جميل</p></div></div>')
    assert findings.best_byline() is None


def test_lead_is_added_only_when_it_is_prose_before_the_body():
    lead = "أطلقت البلدية برنامجا لزراعة مليون شجرة من الأنواع المحلية في الحدائق والطرق الخارجية بحلول 2030."
    paras = "".join(f"<p>{P}</p>" for _ in range(3))
    page = ('<html><body><article><h1>البلدية تطلق برنامجا لزراعة الأشجار</h1><div class="{cls}">{lead}</div>'
            '<div class="article__body">{paras}</div></article></body></html>')
    a = extract_article(page.format(cls="article__lead", lead=f"<p>{lead}</p>", paras=paras), "https://e.com/a")
    assert a.text.startswith(lead + "\n" + P)
    links = "".join(f'<a href="/n/{i}">خبر متعلق رقم {i} عن الأشجار والحدائق</a> ' for i in range(3))
    for cls, inner in (("article__lead", links), ("lead-image", f"<p>{lead}</p>")):
        a = extract_article(page.format(cls=cls, lead=inner, paras=paras), "https://e.com/a")
        assert a.text.startswith(P), cls
