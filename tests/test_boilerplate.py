"""Arabic boilerplate lexicon and rules (extractors/extract/boilerplate.py)."""

from __future__ import annotations

import lxml.html
import pytest

from extractors.extract.boilerplate import (
    classify_line,
    clean_author,
    clean_text,
    parse_byline,
    preclean_tree,
    split_credit,
)

BODY = (
    "قال وزير الخارجية إن المحادثات التي جرت اليوم في العاصمة كانت بناءة ومثمرة، وإن الطرفين اتفقا على "
    "مواصلة الحوار خلال الأسابيع المقبلة من أجل الوصول إلى تسوية شاملة للأزمة."
)


@pytest.mark.parametrize(
    "line",
    ["مشاركة :", "شارك", "شارك الخبر", "فيسبوك", "فيسبوك تويتر واتساب", "تيليجرام", "لينكد إن", "شارك: فيسبوك | تويتر"],
)
def test_share_lines(line):
    assert classify_line(line) == "share"


@pytest.mark.parametrize(
    "line",
    ["اقرأ أيضا", "اقرأ أيضاً:", "إقرأ أيضا", "اقرأ المزيد", "ذات صلة", "الأكثر قراءة", "مواضيع ذات صلة", "أخبار ذات صلة"],
)
def test_related_headings(line):
    assert classify_line(line) == "block"


@pytest.mark.parametrize(
    "line",
    [
        "أضف تعليقك",
        "إضافة تعليق جديد",
        "التعليقات المنشورة لا تعبر عن رأي الموقع وإنما تعبر عن رأي أصحابها",
        "اشترك في النشرة البريدية",
        "حمّل تطبيق الموقع الآن",
        "جميع الحقوق محفوظة لدار النشر 2024",
        "© 2024 الجزيرة",
        "نستخدم ملفات تعريف الارتباط لتحسين تجربتك على موقعنا",
    ],
)
def test_comment_newsletter_copyright_cookie_lines(line):
    # comment-form headings are "block" headings: the form under them goes too
    assert classify_line(line) in ("boilerplate", "block")


@pytest.mark.parametrize("line", ["(الصورة: رويترز)", "تصوير: أحمد علي", "أرشيفية", "(أرشيفية)", "(رويترز)"])
def test_photo_credits(line):
    assert classify_line(line) in ("photo", "boilerplate")


@pytest.mark.parametrize(
    "line",
    [
        "شارك الوزير في الاجتماع الذي عقد أمس في الرياض لبحث سبل التعاون بين البلدين.",
        "وقال إن فيسبوك وتويتر وواتساب أصبحت مصدرا رئيسيا للأخبار لدى الشباب في المنطقة.",
        "شارك في المؤتمر أكثر من مئة باحث من عشرين دولة.",
        BODY,
    ],
)
def test_legitimate_sentences_survive(line):
    assert classify_line(line) is None
    assert clean_text(line).text == line


def test_related_block_in_text_removed_with_its_links():
    text = "\n".join([BODY, "اقرأ أيضا:", "الرئيس يستقبل وفدا رفيعا", "ارتفاع أسعار النفط عالميا", BODY + " وأضاف."])
    out = clean_text(text).text
    assert "اقرأ" not in out and "ارتفاع أسعار النفط" not in out
    assert out.count("قال وزير الخارجية") == 2


def test_agency_credit_split():
    assert split_credit(BODY + " (وكالات)") == (BODY, "وكالات")
    assert split_credit(BODY + " (رويترز)") == (BODY, "رويترز")
    assert split_credit(BODY + " (أ ف ب)") == (BODY, "أ ف ب")
    assert split_credit(BODY + " (د ب أ)") == (BODY, "د ب أ")
    assert split_credit(BODY + " - واس") == (BODY, "واس")
    assert split_credit(BODY + "\n(وكالات)") == (BODY, "وكالات")
    assert split_credit(BODY + "\nالمصدر: رويترز") == (BODY, "رويترز")
    # a parenthesis that is not an agency stays
    assert split_credit(BODY + " (الاثنين)")[1] is None


def test_share_tail_then_credit():
    r = clean_text(BODY + " (وكالات)\nمشاركة :")
    assert r.text == BODY
    assert r.credit == "وكالات"


def test_bylines():
    assert parse_byline("كتب: محمد علي") == "محمد علي"
    assert parse_byline("كتبت: سارة أحمد") == "سارة أحمد"
    assert parse_byline("بقلم: خالد يوسف") == "خالد يوسف"
    assert parse_byline("بقلم خالد يوسف") == "خالد يوسف"
    assert parse_byline("حوار: آسيا العتروس") == "آسيا العتروس"
    assert parse_byline("إعداد: منى سالم") == "منى سالم"
    assert parse_byline("كتب الوزير رسالة إلى نظيره") is None  # no «:», a sentence
    assert parse_byline("كتب: رويترز") is None
    assert clean_author("الرياض - واس") is None
    assert clean_author("لندن: «الشرق الأوسط»") is None
    assert clean_author("فهد المطيري (جدة)") == "فهد المطيري"
    assert clean_author("محمد علي - 15 مارس 2024") == "محمد علي"
    assert clean_author("أحمد حسن | رويترز") == "أحمد حسن"


def test_preclean_tree_removes_blocks_and_collects_evidence():
    html = f"""<html><body><article><h1>عنوان الخبر الرئيسي في الصفحة</h1>
    <div class="meta"><span>كتب: محمد علي</span></div><div class="date">الجمعة 15 مارس 2024</div>
    <div class="share"><span>مشاركة :</span> <a href="#">فيسبوك</a> <a href="#">تويتر</a></div>
    <p>{BODY}</p>
    <div class="related"><h3>اقرأ أيضا</h3><ul><li><a href="/1">خبر أول</a></li><li><a href="/2">خبر ثان</a></li></ul></div>
    <p>{BODY}</p><p>شارك الوزير في الاجتماع الذي عقد أمس في الرياض لبحث سبل التعاون بين البلدين.</p>
    </article><p>جميع الحقوق محفوظة © 2024</p></body></html>"""
    root = lxml.html.fromstring(html)
    f = preclean_tree(root)
    out = root.text_content()
    assert "مشاركة" not in out and "اقرأ أيضا" not in out and "خبر أول" not in out and "جميع الحقوق" not in out
    assert out.count("قال وزير الخارجية") == 2
    assert "شارك الوزير في الاجتماع" in out
    assert f.best_byline() == "محمد علي"
    assert f.best_date().match.value.date().isoformat() == "2024-03-15"
