"""extract_article: body, metadata, evidence order, decoding and non-article pages."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from extractors.extract.article import ExtractionError, NotAnArticle, article_to_json, extract_article

SHARED = Path(__file__).resolve().parents[2] / "shared"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared test data not found at {SHARED} (../shared)")

PARAS = [
    "قال وزير الخارجية إن المحادثات التي جرت اليوم في العاصمة كانت بناءة ومثمرة، وإن الطرفين اتفقا على "
    "مواصلة الحوار خلال الأسابيع المقبلة من أجل الوصول إلى تسوية شاملة للأزمة التي تشهدها المنطقة منذ أشهر.",
    "وأضاف الوزير في مؤتمر صحافي مشترك مع نظيره أن بلاده مستعدة لتقديم كل الدعم اللازم لإنجاح المبادرة، "
    "مشيرا إلى أن الاجتماعات الفنية ستبدأ الأسبوع المقبل بمشاركة خبراء من البلدين.",
    "شارك في الاجتماع عدد من المسؤولين من الجانبين، وناقشوا سبل تعزيز التعاون الاقتصادي والتجاري وزيادة "
    "حجم الاستثمارات المشتركة في قطاعات الطاقة والنقل والبنية التحتية.",
]
TITLE = "وزير الخارجية: المحادثات كانت بناءة ومثمرة"


def page(*, head="", header="", body_paras=None, tail="", lang="ar"):
    paras = "".join(f"<p>{p}</p>" for p in (body_paras or PARAS))
    return f"""<!DOCTYPE html><html lang="{lang}" dir="rtl"><head><meta charset="utf-8"><title>{TITLE} - الموقع</title>
<meta property="og:site_name" content="الموقع">{head}</head><body>
<header><nav><ul><li><a href="/">الرئيسية</a></li><li><a href="/p">سياسة</a></li><li><a href="/e">اقتصاد</a></li></ul></nav></header>
<main><article><h1>{TITLE}</h1>{header}<div class="article-body">{paras}</div>{tail}</article></main>
<footer><p>جميع الحقوق محفوظة © 2024</p></footer></body></html>"""


URL = "https://example.com/news/1"
FETCHED = datetime(2024, 3, 16, 9, 0, tzinfo=UTC)


def test_basic_fields_and_json():
    html = page(
        head='<meta name="description" content="وصف الخبر"><meta property="og:image" content="https://example.com/a.jpg">'
        '<meta property="article:section" content="سياسة"><meta property="article:tag" content="دبلوماسية">',
        header='<div class="byline">كتب: محمد علي</div>',
    )
    a = extract_article(html.encode("utf-8"), URL, fetched_at=FETCHED)
    assert a.title == TITLE
    assert a.author == "محمد علي"
    assert a.language == "ar"
    assert a.text.startswith("قال وزير الخارجية") and "شارك في الاجتماع" in a.text
    assert "كتب:" not in a.text and "الرئيسية" not in a.text and "جميع الحقوق" not in a.text
    j = article_to_json(a)
    for key in ("url", "title", "author", "published_at", "language", "text", "credit", "description", "categories",
                "tags", "image", "modified_at"):
        assert key in j
    assert j["published_at"] is None and j["credit"] is None
    assert j["description"] == "وصف الخبر" and j["image"] == "https://example.com/a.jpg"
    assert j["categories"] == ["سياسة"] and j["tags"] == ["دبلوماسية"]
    json.dumps(j, ensure_ascii=False)


def _jsonld(date="2024-03-10T08:00:00+03:00", author="سارة أحمد"):
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": TITLE, "datePublished": date,
          "dateModified": "2024-03-11T09:00:00+03:00", "author": {"@type": "Person", "name": author}}
    return f'<script type="application/ld+json">{json.dumps(ld, ensure_ascii=False)}</script>'


META = '<meta property="article:published_time" content="2024-03-11T10:00:00+00:00">'
VISIBLE = '<div class="date">الثلاثاء 12 مارس 2024</div>'
HINT = datetime(2024, 3, 13, 6, 0, tzinfo=UTC)


def test_evidence_order_jsonld_meta_feed_text():
    a = extract_article(page(head=_jsonld() + META, header=VISIBLE), URL, hint_published_at=HINT, fetched_at=FETCHED)
    assert (a.published_at.isoformat(), a.published_evidence) == ("2024-03-10T08:00:00+03:00", "jsonld")
    assert a.modified_at.isoformat() == "2024-03-11T09:00:00+03:00"
    assert a.author == "سارة أحمد"
    a = extract_article(page(head=META, header=VISIBLE), URL, hint_published_at=HINT)
    assert (a.published_at.isoformat(), a.published_evidence) == ("2024-03-11T10:00:00+00:00", "meta")
    a = extract_article(page(header=VISIBLE), URL, hint_published_at=HINT)
    assert (a.published_at, a.published_evidence) == (HINT, "feed")
    a = extract_article(page(header=VISIBLE), URL, timezone="Asia/Riyadh")
    assert (a.published_at.isoformat(), a.published_evidence) == ("2024-03-12T00:00:00+03:00", "text")
    a = extract_article(page(), URL)
    assert a.published_at is None and a.published_evidence is None  # never invented


def test_visible_relative_and_hijri_dates():
    a = extract_article(page(header='<span class="time">منذ 3 ساعات</span>'), URL, fetched_at=FETCHED)
    assert a.published_at == datetime(2024, 3, 16, 6, 0, tzinfo=UTC)
    a = extract_article(page(header='<span class="time">منذ 3 ساعات</span>'), URL)
    assert a.published_at is None  # relative date without fetched_at
    a = extract_article(page(header="<div>الجمعة 5 رمضان 1445 هـ</div>"), URL, timezone="Asia/Riyadh")
    assert a.published_evidence == "text"
    try:
        import hijridate  # noqa: F401  (exact Umm al-Qura; without it the tabular calendar may be a day off)

        assert a.published_at.isoformat() == "2024-03-15T00:00:00+03:00"
    except ImportError:
        pass
    a = extract_article(page(header="<div>الخميس 5 رمضان 1445هـ الموافق 14 مارس 2024م</div>"), URL, timezone="Asia/Riyadh")
    assert a.published_at.isoformat() == "2024-03-14T00:00:00+03:00"


def test_time_element_and_agency_not_author():
    a = extract_article(page(header='<time datetime="2024-03-09T12:00:00Z">9 مارس 2024</time><div class="author">الرياض - واس</div>'), URL)
    assert a.published_at == datetime(2024, 3, 9, 12, tzinfo=UTC) and a.published_evidence == "meta"
    assert a.author is None


@needs_shared
def test_seed_article_share_tail_and_credit():
    seed = (SHARED / "samples" / "seed-article.txt").read_text(encoding="utf-8")
    body_line, share_line = [ln for ln in seed.split("\n") if ln.strip()]
    assert share_line.strip().startswith("مشاركة")
    html = page(
        body_paras=[body_line],
        tail=f'<div class="share">{share_line} <a href="#">فيسبوك</a> <a href="#">تويتر</a></div>'
        '<div class="related"><h3>اقرأ أيضا</h3><ul><li><a href="/a">خبر ذو صلة بالأحداث</a></li></ul></div>',
    )
    for variant in (html, html.replace(f"<p>{body_line}</p>", f"<p>{body_line}</p><p>{share_line}</p>")):
        a = extract_article(variant.encode("utf-8"), URL)
        assert a.credit == "وكالات"
        assert "مشاركة" not in a.text and "(وكالات)" not in a.text and "اقرأ أيضا" not in a.text
        assert a.text.startswith("واصل تنظيم «داعش»") and a.text.endswith("بريف حلب الشمالي.")


@needs_shared
def test_assabah_fixture_snippets():
    fx = SHARED / "fixtures" / "assabah"
    if not (fx / "page.html").exists():
        pytest.skip(f"Assabah fixture not found at {fx}")
    exp = next(iter(json.loads((fx / "expected.json").read_text(encoding="utf-8")).values()))
    a = extract_article((fx / "page.html").read_bytes(), "http://www.assabah.com.tn/article/164913", timezone="Africa/Tunis")
    for snippet in exp["with"]:
        assert snippet in a.text
    for snippet in exp["without"]:
        assert snippet not in a.text
    assert " ".join(a.title.split()) == " ".join(exp["title"].split())
    assert a.author == "آسيا العتروس"  # the «حوار:» byline names the interviewer
    assert a.published_at.date().isoformat() == "2019-02-08"


def test_windows_1256_decoding():
    html = page().replace('<meta charset="utf-8">', "")
    raw = html.encode("cp1256")
    for enc in (None, "iso-8859-1", "utf-8", "windows-1256"):
        a = extract_article(raw, URL, encoding=enc)
        assert a.title == TITLE and a.text.startswith("قال وزير الخارجية"), enc
    labelled = page().replace('<meta charset="utf-8">', '<meta http-equiv="Content-Type" content="text/html; charset=windows-1256">')
    assert extract_article(labelled.encode("cp1256"), URL).title == TITLE


def test_english_page_language():
    text = "The foreign minister said the talks held today in the capital were constructive and fruitful. " * 4
    html = f"<html lang='en-GB'><head><title>Talks</title></head><body><article><h1>Talks</h1><p>{text}</p><p>{text}</p></article></body></html>"
    assert extract_article(html, URL).language == "en"


@pytest.mark.parametrize(
    "html,reason",
    [
        (b"", "empty-page"),
        ("   ", "empty-page"),
        ("<html><head><title>x</title></head><body></body></html>", "empty-page"),
        ("<html><head><script src='/app.js'></script></head><body><div id='root'></div>"
         "<noscript>You need to enable JavaScript to run this app.</noscript><script>window.a=1</script></body></html>", "javascript-shell"),
        ("<html><head><title>Just a moment...</title></head><body><h1>Checking your browser before accessing example.com</h1>"
         "<p>This process is automatic. Your browser will redirect to your requested content shortly.</p>"
         "<script src='/cdn-cgi/challenge-platform/h/b/orchestrate/jsch/v1'></script></body></html>", "bot-wall"),
        ("<html><body><div class='g-recaptcha' data-sitekey='x'></div><p>يرجى التحقق من أنك لست روبوت</p></body></html>", "bot-wall"),
        ("<html><body><h1>عنوان</h1><p>نص قصير جدا.</p></body></html>", "no-article-body"),
    ],
)
def test_not_an_article(html, reason):
    with pytest.raises(NotAnArticle) as exc:
        extract_article(html, URL)
    assert exc.value.reason == reason
    assert isinstance(exc.value, ExtractionError)
