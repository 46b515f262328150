"""Build the bundled sample news site (samples/site/) and its gold (samples/expected.json).

    python scripts/sample_site/build.py [--out DIR] [--anercorp FILE] [--paras FILE]

Article text comes from runs of ANERcorp sentences (articles.json: `run` is an inclusive range of 0-based
sentence numbers in the CAMeL Lab train split); the pages put it inside eight publisher-like layouts with
their boilerplate (boiler.py). The output is deterministic: running this again rebuilds the same files.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from boiler import COOKIE_TEXT, CSS, FOOTER_LINKS, LATEST, MEGA, MOST_READ, SECTIONS, SISTER, SUBSECTIONS
from load import DEFAULT_ANERCORP, load, paragraphs

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE.parents[1] / "samples"
A: list[dict[str, Any]] = json.loads((HERE / "articles.json").read_text(encoding="utf-8"))
esc = html.escape
public = [a for a in A if not a.get("private")]


def page_end(a, cp):
    """What closes every full layout: the latest-news grid, the footer, the scripts."""
    return f"""{latest_grid(a)}
{footer(a, cp)}
{scripts()}
</body>
</html>
"""

def layout_end(a, cp):
    """What closes an article layout: its layout and main elements, then the page end."""
    return "</div>\n</main>\n" + page_end(a, cp)


def related_for(a, n=3):
    others = [b for b in public if b["key"] != a["key"]]
    i = public.index(a) if a in public else 0
    return [others[(i + k * 3) % len(others)] for k in range(n)]

def most_read(a, n=8, start=None):
    start = (public.index(a) * 5 if a in public else 0) if start is None else start
    return [MOST_READ[(start + k) % len(MOST_READ)] for k in range(n)]

def nav(cls="main-nav"):
    items = ""
    for h, t in SECTIONS:
        sub = MEGA.get(t)
        drop = ("<ul class=\"dropdown\">" + "".join(f'<li><a href="{h[:-10]}{i}/index.html">{esc(x)}</a></li>' for i, x in enumerate(sub)) + "</ul>") if sub else ""
        items += f'<li><a href="{h}">{esc(t)}</a>{drop}</li>'

    return f'<nav class="{cls}" aria-label="القائمة الرئيسية"><ul>{items}</ul></nav>'

def subnav():
    return '<div class="sub-nav container">' + "".join(
        f'<a href="/topics/{i}.html">{esc(t)}</a>' for i, t in enumerate(SUBSECTIONS)) + "</div>"

def head(a, extra=""):
    t = esc(a["title"])
    return f"""<!DOCTYPE html>
<html lang="ar" dir="rtl">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t} | {esc(a['site'])}</title>
<meta name="description" content="{esc(a['paras'][0][:150])}">
<link rel="canonical" href="{{{{BASE}}}}{a['path']}">
<meta property="og:type" content="article">
<meta property="og:title" content="{t}">
<meta property="og:url" content="{{{{BASE}}}}{a['path']}">
<meta property="og:site_name" content="{esc(a['site'])}">
<meta property="og:locale" content="ar_AR">
<meta name="twitter:card" content="summary_large_image">
<link rel="alternate" type="application/rss+xml" title="RSS" href="/rss.xml">
{extra}<style>{CSS}</style>
</head>
"""

def jsonld(a, author=True, graph=False):
    d = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": a["title"],
         "datePublished": a["jsonld_date"], "dateModified": a["jsonld_date"],
         "mainEntityOfPage": {"@type": "WebPage", "@id": "{{BASE}}" + a["path"]},
         "image": ["{{BASE}}/static/img/photo.svg"], "inLanguage": "ar",
         "articleSection": a["section"][1],
         "publisher": {"@type": "Organization", "name": a["site"],
                       "logo": {"@type": "ImageObject", "url": "{{BASE}}/static/img/logo.svg"}}}
    if a["author"] and author:
        d["author"] = {"@type": "Person", "name": a["author"]}
    if graph:
        d = {"@context": "https://schema.org", "@graph": [
            {"@type": "WebSite", "name": a["site"], "url": "{{BASE}}/"},
            {"@type": "BreadcrumbList", "itemListElement": [
                {"@type": "ListItem", "position": 1, "name": "الرئيسية", "item": "{{BASE}}/"},
                {"@type": "ListItem", "position": 2, "name": a["section"][1], "item": "{{BASE}}/" + a["section"][0] + "/index.html"}]},
            {k: v for k, v in d.items() if k != "@context"}]}
    return '<script type="application/ld+json">' + json.dumps(d, ensure_ascii=False, indent=1) + "</script>\n"

def meta_time(a):
    return (f'<meta property="article:published_time" content="{a["meta_date"]}">\n'
            f'<meta property="article:section" content="{esc(a["section"][1])}">\n')

def cookie():
    return (f'<div class="cookie-banner" id="cookie-consent"><p>{esc(COOKIE_TEXT)}</p>'
            '<button type="button">موافق</button> <button type="button">إعدادات الكوكيز</button></div>')

def figure(a):
    if not a.get("caption"):
        return ""
    return (f'<figure class="lead-image"><img src="/static/img/photo.svg" alt="{esc(a["caption"])}" width="800" height="450">'
            f'<figcaption>{esc(a["caption"])}</figcaption></figure>')

def body_ps(a, insert_at=None, insert_html="", cls=None):
    out = []
    paras = list(a["paras"])
    if a["credit"] and a.get("credit_style") == "inline":
        paras[-1] = paras[-1] + f" ({a['credit']})"
    for i, p in enumerate(paras):
        m = re.match(r"^(خطة أنان) (و في .*)$", p)
        if m:
            out.append(f"<h2>{esc(m.group(1))}</h2>")
            p = m.group(2)
        out.append(f"<p>{esc(p, quote=False)}</p>")
        if insert_at is not None and i == insert_at:
            out.append(insert_html)
    if a["credit"] and a.get("credit_style") == "para":
        out.append(f"<p>({esc(a['credit'])})</p>")
    return "\n".join(out)

def rel_list(items, cls="read-also", label="اقرأ أيضا", tag="div"):
    lis = "".join(f'<li><a href="{b["path"]}">{esc(b["title"])}</a></li>' for b in items)
    return f'<{tag} class="{cls}"><strong>{esc(label)}</strong><ul>{lis}</ul></{tag}>'

def mr_sidebar(a, label="الأكثر قراءة", n=8):
    lis = "".join(f'<li><a href="/news/most-read-{k}.html">{esc(h)}</a></li>' for k, h in enumerate(most_read(a, n)))
    return f'<section class="most-read"><h3>{esc(label)}</h3><ol>{lis}</ol></section>'

def newsletter(prompt="اشترك في النشرة البريدية لتصلك أهم الأخبار يوميا"):
    return (f'<div class="newsletter"><p>{esc(prompt)}</p><form action="/newsletter" method="post">'
            '<input type="email" name="email" placeholder="بريدك الإلكتروني"> <button type="submit">اشترك</button></form></div>')

def comments(title="أضف تعليقك"):
    return (f'<section class="comments" id="comments"><h3>{esc(title)}</h3><form action="/comments" method="post">'
            '<label for="c-name">الاسم</label><input id="c-name" name="name" type="text">'
            '<label for="c-mail">البريد الإلكتروني (لن يتم نشره)</label><input id="c-mail" name="email" type="email">'
            '<label for="c-text">التعليق</label><textarea id="c-text" name="comment"></textarea>'
            '<button type="submit">إرسال التعليق</button></form>'
            '<p class="note">التعليقات المنشورة تعبر عن آراء أصحابها ولا تعبر بالضرورة عن رأي الموقع</p></section>')

def share(label="مشاركة :", names=("فيسبوك", "تويتر", "واتساب", "تيليجرام", "لينكدإن", "نسخ الرابط")):
    links = "".join(f'<a href="#share-{i}" class="share-{i}">{esc(n)}</a>' for i, n in enumerate(names))
    return f'<div class="share"><span>{esc(label)}</span>{links}</div>'

def tags(a, label="الوسوم:"):
    return '<div class="tags"><span>' + esc(label) + "</span>" + "".join(
        f'<a href="/tags/{i}.html">{esc(t)}</a>' for i, t in enumerate(a["tags"])) + "</div>"

def latest_grid(a, label="آخر الأخبار"):
    items = "".join(f'<div class="card"><a href="/news/latest-{k}.html"><img src="/static/img/photo.svg" alt="" width="240" height="135" loading="lazy">'
                    f'<span class="card-title">{esc(h)}</span></a><span class="card-section">{esc(SECTIONS[1 + k % 5][1])}</span></div>'
                    for k, h in enumerate(LATEST))
    return f'<section class="latest-grid container"><h3>{esc(label)}</h3><div class="grid">{items}</div></section>'

def footer(a, copyright_line):
    cols = []
    for i in range(0, len(FOOTER_LINKS), 4):
        cols.append("<ul>" + "".join(f'<li><a href="/pages/{j}.html">{esc(t)}</a></li>'
                                      for j, t in enumerate(FOOTER_LINKS[i:i + 4], start=i)) + "</ul>")
    secs = "".join(f'<a href="{h}">{esc(t)}</a>' for h, t in SECTIONS)
    return (f'<footer class="site-footer"><div class="container"><div class="footer-sections">{secs}</div>'
            f'<div class="footer-cols">{"".join(cols)}</div>'
            '<div class="apps">حمّل تطبيقنا: <a href="/apps/ios.html">آب ستور</a> <a href="/apps/android.html">جوجل بلاي</a></div>'
            '<div class="social">تابعنا على: <a href="/go/fb">فيسبوك</a> <a href="/go/x">إكس</a> <a href="/go/yt">يوتيوب</a> <a href="/go/ig">إنستغرام</a></div>'
            '<div class="sister">مواقعنا: ' + "".join(f'<a href="/sister/{i}.html">{esc(x)}</a>' for i, x in enumerate(SISTER)) + '</div>'
            + "".join(f'<div class="footer-mega"><strong>{esc(k)}</strong> ' + " ".join(f'<a href="/topics/m{j}.html">{esc(x)}</a>' for j, x in enumerate(v)) + '</div>' for k, v in MEGA.items())
            + '<p class="address">العنوان: ص. ب 0000 - البريد الإلكتروني للتحرير: newsroom@example.org</p>'
            f'<p class="copyright">{esc(copyright_line)}</p></div></footer>')

def scripts():
    return ('<script>document.querySelectorAll(".cookie-banner button").forEach(function(b){b.addEventListener("click",function(){'
            'document.getElementById("cookie-consent").style.display="none";});});</script>\n'
            '<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}gtag("js",new Date());</script>')

def topbar(extra=""):
    return ('<div class="topbar"><div class="container"><a href="/pages/about.html">من نحن</a><a href="/pages/contact.html">اتصل بنا</a>'
            '<a href="/rss.xml">RSS</a><a href="/en/index.html">English</a>' + extra + '</div></div>')

def breadcrumb(a, sep=" / "):
    return (f'<nav class="breadcrumb" aria-label="مسار التصفح"><a href="/index.html">الرئيسية</a>{esc(sep)}'
            f'<a href="/{a["section"][0]}/index.html">{esc(a["section"][1])}</a></nav>')

def site_header(a, tagline=""):
    return (f'<header class="site-header"><div class="container"><a class="logo" href="/index.html">{esc(a["site"])}</a>'
            f'<span class="tagline">{esc(tagline)}</span>'
            '<form class="search" action="/search" method="get"><input name="q" placeholder="ابحث في الموقع"><button>بحث</button></form>'
            f'{nav()}</div></header>')

def masthead(a, tagline):
    """Cookie banner, top bar, site header and section bar: the top of the fullest layouts."""
    return f"{cookie()}\n{topbar()}\n{site_header(a, tagline)}\n{subnav()}"

# ---------------------------------------------------------------- templates
def t_jazeera(a):
    rel = related_for(a, 3)
    cp = f"جميع الحقوق محفوظة © 2024 {a['site']}"
    extra = jsonld(a)
    body = body_ps(a, insert_at=1, insert_html=rel_list(rel[:2], label="اقرأ أيضا"))
    html_ = head(a, extra) + f"""<body class="article-page">
{masthead(a, "أخبار على مدار الساعة")}
<main class="container">
{breadcrumb(a)}
<div class="layout">
<article class="article">
<header class="article-header"><h1>{esc(a['title'])}</h1>
<div class="meta"><span class="date">{esc(a['visible'])}</span></div></header>
{share("شارك", ("فيسبوك", "تويتر", "واتساب", "البريد"))}
{figure(a)}
<div class="wysiwyg article-body">
{body}
</div>
{tags(a, "المصدر والوسوم:")}
{share("مشاركة :")}
{rel_list(related_for(a, 4)[1:], cls="related", label="ذات صلة", tag="section")}
</article>
<aside class="sidebar">
{mr_sidebar(a, "الأكثر قراءة", 10)}
{newsletter()}
</aside>
""" + layout_end(a, cp)
    return html_, ["مشاركة :", rel[0]["title"], cp, "اشترك في النشرة البريدية لتصلك أهم الأخبار يوميا"]

def t_bbc(a):
    rel = related_for(a, 4)
    cp = f"© 2024 {a['site']}. {a['site']} غير مسؤول عن محتوى المواقع الخارجية."
    extra = meta_time(a) if a["evidence"] == "meta" else ""
    timeel = (f'<time datetime="{a["meta_date"]}">{esc(a["visible"])}</time>' if a["evidence"] == "meta" else "")
    lis = "".join(f'<li><span class="rank">{k + 1}</span><a href="/news/most-read-{k}.html">{esc(h)}</a></li>'
                  for k, h in enumerate(most_read(a, 10)))
    html_ = head(a, extra) + f"""<body>
<a class="skip" href="#main-content">انتقل إلى المحتوى</a>
{cookie()}
<header class="site-header" role="banner"><div class="container"><a class="logo" href="/index.html">{esc(a['site'])}</a>
{nav("main-nav bbc-nav")}</div></header>
<main id="main-content" class="container" role="main">
<div class="layout">
<div>
<article>
<header><h1 id="content">{esc(a['title'])}</h1>
<div class="meta">{timeel}</div></header>
{figure(a)}
<div class="article-body" data-component="text-block">
{body_ps(a)}
</div>
<section class="related" aria-labelledby="related-heading"><h3 id="related-heading">مواضيع ذات صلة</h3>
<ul>{"".join(f'<li><a href="/tags/{i}.html">{esc(t)}</a></li>' for i, t in enumerate(a["tags"]))}</ul></section>
<section class="related"><h3>قصص ذات صلة</h3><ul>{"".join(f'<li><a href="{b["path"]}">{esc(b["title"])}</a></li>' for b in rel)}</ul></section>
{share("شارك هذه القصة عبر", ("فيسبوك", "تويتر", "واتساب", "البريد الإلكتروني", "نسخ الرابط"))}
</article>
</div>
<aside class="sidebar"><section class="most-read"><h3>الأكثر قراءة</h3><ol>{lis}</ol></section></aside>
""" + layout_end(a, cp)
    return html_, ["قصص ذات صلة", rel[0]["title"], cp, "شارك هذه القصة عبر"]

def t_arabiya(a):
    rel = related_for(a, 3)
    cp = f"{a['site']} © 2024 - جميع الحقوق محفوظة"
    extra = jsonld(a) if a["evidence"] == "json-ld" else meta_time(a)
    byl = f'<div class="byline">{esc(a["byline"])}</div>' if a.get("byline") else f'<div class="byline">{esc(a["site"])}</div>'
    readmore = rel_list(rel[:1], cls="read-also inline-related", label="اقرأ المزيد")
    html_ = head(a, extra) + f"""<body class="arabiya-like">
{topbar('<span class="edition">الطبعة العربية</span>')}
{site_header(a)}
{subnav()}
<main class="container">
{breadcrumb(a, " > ")}
<div class="layout">
<article>
<h1 class="headline">{esc(a['title'])}</h1>
{byl}
<div class="meta"><span class="date">{esc(a['visible'])}</span> <span class="reading">دقائق القراءة: 3</span></div>
{share("شارك", ("فيسبوك", "تويتر", "واتساب", "تيليجرام"))}
{figure(a)}
<div class="article-body body-text">
{body_ps(a, insert_at=2, insert_html=readmore)}
</div>
{tags(a, "مواضيع:")}
{rel_list(rel[1:], cls="related", label="ذات صلة", tag="section")}
{newsletter("سجّل بريدك الإلكتروني لتصلك النشرة الإخبارية الصباحية")}
</article>
<aside class="sidebar">{mr_sidebar(a, "الأكثر قراءة", 8)}
<section class="latest"><h3>آخر الأخبار</h3><ul>{"".join(f'<li><a href="/news/latest-{k}.html">{esc(h)}</a></li>' for k, h in enumerate(most_read(a, 6, 13)))}</ul></section></aside>
""" + layout_end(a, cp)
    return html_, ["اقرأ المزيد", rel[0]["title"], cp, "سجّل بريدك الإلكتروني لتصلك النشرة الإخبارية الصباحية"]

def t_awsat(a):
    rel = related_for(a, 3)
    cp = f"حقوق النشر © 2024 {a['site']} - جميع الحقوق محفوظة"
    extra = meta_time(a) if a["evidence"] == "meta" else ""
    html_ = head(a, extra) + f"""<body class="awsat-like">
{cookie()}
{site_header(a, "صحيفة العرب الدولية")}
{subnav()}
<main class="container">
{breadcrumb(a)}
<div class="layout">
<div class="main-col">
<article class="node-article">
<h1>{esc(a['title'])}</h1>
<div class="meta"><span class="byline">{esc(a['byline'])}</span><br><span class="pub">{esc(a['visible'])}</span></div>
{figure(a)}
<div class="article-body node-content">
{body_ps(a)}
</div>
<div class="print-links"><a href="#print">طباعة</a> <a href="#font">تكبير الخط</a></div>
{share("شارك هذا المقال", ("فيسبوك", "تويتر", "واتساب", "لينكدإن"))}
{tags(a, "مواضيع")}
</article>
{rel_list(rel, cls="related", label="مقالات ذات صلة", tag="section")}
{comments("أضف تعليقك")}
</div>
<aside class="sidebar">{mr_sidebar(a, "الأكثر قراءة", 8)}
<section class="opinion"><h3>كتّاب الرأي</h3><ul><li><a href="/opinion/1.html">مقالات الرأي اليومية</a></li><li><a href="/opinion/2.html">أرشيف الكتّاب</a></li></ul></section>
{newsletter("اشترك في نشرتنا الإخبارية")}</aside>
""" + layout_end(a, cp)
    return html_, ["شارك هذا المقال", rel[0]["title"], cp, "البريد الإلكتروني (لن يتم نشره)", "اشترك في نشرتنا الإخبارية"]

def t_youm7(a):
    rel = related_for(a, 4)
    cp = f"جميع الحقوق محفوظة لـ {a['site']} © 2024"
    html_ = head(a) + f"""<body class="youm7-like">
{topbar()}
{site_header(a, "بوابة إخبارية مصرية عربية")}
<div class="breaking container"><strong>عاجل</strong> <a href="/news/breaking.html">{esc(MOST_READ[3])}</a></div>
<main class="container">
{breadcrumb(a, " » ")}
<div class="layout">
<div>
<article class="newsStory">
<h1>{esc(a['title'])}</h1>
<div class="writeBy"><span class="byline">{esc(a['byline'])}</span></div>
<span class="newsStoryDate">{esc(a['visible'])}</span>
{figure(a)}
<div id="articleBody" class="article-body">
{body_ps(a)}
</div>
{share("مشاركة :")}
{rel_list(rel[:3], cls="read-also", label="اقرأ أيضا")}
</article>
{comments("التعليقات")}
</div>
<aside class="sidebar">{mr_sidebar(a, "الأكثر قراءة", 10)}
<section class="mostcomments"><h3>الأكثر تعليقا</h3><ul>{"".join(f'<li><a href="/news/c-{k}.html">{esc(h)}</a></li>' for k, h in enumerate(most_read(a, 5, 18)))}</ul></section></aside>
""" + layout_end(a, cp)
    return html_, ["مشاركة :", rel[0]["title"], cp, "إرسال التعليق", "الأكثر تعليقا"]

def t_hespress(a):
    rel = related_for(a, 3)
    cp = f"{a['site']} © 2024. جميع الحقوق محفوظة"
    extra = jsonld(a, graph=True)
    author_box = (f'<div class="author"><img src="/static/img/logo.svg" alt="" width="32" height="32"> '
                  f'<a class="author-name" href="/authors/1.html">{esc(a["byline"])}</a></div>' if a.get("byline") else
                  f'<div class="author"><span>{esc(a["site"])}</span></div>')
    html_ = head(a, extra) + f"""<body class="hespress-like">
{cookie()}
{site_header(a)}
{subnav()}
<main class="container">
<div class="layout">
<article>
{breadcrumb(a)}
<h1 class="post-title">{esc(a['title'])}</h1>
{author_box}
<div class="meta"><span class="date-post">{esc(a['visible'])}</span></div>
{share("شارك", ("فيسبوك", "تويتر", "واتساب"))}
{figure(a)}
<div class="article-content article-body">
{body_ps(a, insert_at=3, insert_html=rel_list(rel[:1], cls="read-also", label="اقرأ أيضا"))}
</div>
{tags(a, "كلمات مفتاحية:")}
{comments("أضف تعليقك")}
<section class="related"><h3>مقالات ذات صلة</h3><ul>{"".join(f'<li><a href="{b["path"]}">{esc(b["title"])}</a></li>' for b in rel[1:])}</ul></section>
</article>
<aside class="sidebar">{mr_sidebar(a, "الأكثر قراءة", 8)}{newsletter("توصل بآخر الأخبار عبر بريدك الإلكتروني")}</aside>
""" + layout_end(a, cp)
    return html_, ["التعليقات المنشورة تعبر عن آراء أصحابها", rel[0]["title"], cp, "أضف تعليقك", "توصل بآخر الأخبار عبر بريدك الإلكتروني"]

def t_ahram(a):
    rel = related_for(a, 3)
    cp = f"جميع حقوق النشر محفوظة لـ {a['site']} © 2024"
    html_ = head(a) + f"""<body class="ahram-like">
{topbar()}
{site_header(a, "أقدم بوابة إخبارية رقمية")}
<main class="container">
{breadcrumb(a)}
<div class="layout">
<article>
<div class="article-title"><h1>{esc(a['title'])}</h1></div>
<div class="meta"><span class="byline">{esc(a['byline'])}</span> - <span class="date">{esc(a['visible'])}</span></div>
{share("شارك الخبر", ("فيسبوك", "تويتر", "واتساب", "طباعة"))}
{figure(a)}
<div class="article-body" id="bodyDiv">
{body_ps(a)}
</div>
{rel_list(rel, cls="related", label="أخبار ذات صلة", tag="section")}
{newsletter("اشترك الآن في نشرتنا اليومية")}
{comments("أضف تعليقك")}
</article>
<aside class="sidebar">{mr_sidebar(a, "الأكثر قراءة", 10)}</aside>
""" + layout_end(a, cp)
    return html_, ["شارك الخبر", rel[0]["title"], cp, "اشترك الآن في نشرتنا اليومية", "إرسال التعليق"]

def t_khaleej(a):
    rel = related_for(a, 3)
    cp = f"جميع الحقوق محفوظة لـ {a['site']} © 2024"
    extra = jsonld(a) if a["evidence"] == "json-ld" else meta_time(a)
    html_ = head(a, extra) + f"""<body class="khaleej-like">
{masthead(a, "صحيفة يومية")}
<main class="container">
{breadcrumb(a)}
<div class="layout">
<article>
<h1>{esc(a['title'])}</h1>
<div class="meta"><span class="byline">{esc(a['byline'])}</span> <span class="date">{esc(a['visible'])}</span></div>
{figure(a)}
<div class="article-body field-body">
{body_ps(a, insert_at=0, insert_html=rel_list(rel[:2], cls="read-also", label="اقرأ أيضاً"))}
</div>
{share("مشاركة :", ("فيسبوك", "تويتر", "واتساب", "لينكدإن", "نسخ الرابط"))}
{tags(a, "الكلمات الدالة:")}
{newsletter("اشترك في النشرة الاقتصادية الأسبوعية")}
</article>
<aside class="sidebar">{mr_sidebar(a, "الأكثر قراءة", 8)}
<section class="markets"><h3>الأسواق</h3><ul><li>مؤشر سوق دبي المالي</li><li>مؤشر سوق أبوظبي</li><li>أسعار العملات</li><li>أسعار الذهب</li></ul></section></aside>
""" + layout_end(a, cp)
    return html_, ["مشاركة :", rel[0]["title"], cp, "اشترك في النشرة الاقتصادية الأسبوعية"]

def t_plain(a):
    cp = f"جميع الحقوق محفوظة © 2024 {a['site']}"
    html_ = head(a, meta_time(a)) + f"""<body>
{site_header(a)}
<main class="container"><article><h1>{esc(a['title'])}</h1>
<div class="article-body">
{body_ps(a)}
</div>{share("مشاركة :")}</article></main>
{footer(a, cp)}
</body>
</html>
"""
    return html_, ["مشاركة :", cp]

TPL = dict(jazeera=t_jazeera, bbc=t_bbc, arabiya=t_arabiya, awsat=t_awsat, youm7=t_youm7,
           hespress=t_hespress, ahram=t_ahram, khaleej=t_khaleej, plain=t_plain)

CLEAN = re.compile(r"^[\u0621-\u064A\u0660-\u0669\u0671-\u06D30-9]+$")
def pick_with(a):
    paras = a["paras"]
    n = len(paras)
    order = [(0, 8, 4, False), (1, 3, 3, False), (n // 2, 2, 5, False), (n - 1, 0, 4, True),
             (n - 2, 1, 4, False), (0, 14, 3, False), (n // 2 + 1, 0, 4, False)]
    picks: list[str] = []
    for (pi, start, k, from_end) in order:
        if len(picks) >= 4:
            break
        if not (0 <= pi < n):
            continue
        w = paras[pi].split()
        idx = range(len(w) - k, -1, -1) if from_end else range(min(start, max(len(w) - k, 0)), len(w) - k + 1)
        for i in idx:
            seg = w[i:i + k]
            if all(CLEAN.match(x) for x in seg):
                c = " ".join(seg)
                if c not in picks and not any(c in p or p in c for p in picks):
                    picks.append(c)
                break
    assert len(picks) >= 3, a["key"]
    return picks

def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def fill_paragraphs(anercorp):
    sentences = load(anercorp)
    for a in A:
        a["paras"] = paragraphs(sentences, *a["run"])
        a["words"] = sum(len(p.split()) for p in a["paras"])


def gold_date(a):
    if a["evidence"] in ("visible", "none"):
        # the feed or sitemap date is the best evidence on these pages
        pub = a["sitemap"] or parsedate_to_datetime(a["feed"]).isoformat()
    else:
        pub = a.get("jsonld_date") or a.get("meta_date") or a["sitemap"]
    return datetime.fromisoformat(pub.replace("Z", "+00:00")).isoformat()


def write_articles(site):
    """Write every article page; returns the gold of the public ones, keyed by path."""
    expected = {}
    for a in A:
        page, without = TPL[a["tpl"]](a)
        write(site + a["path"], page)
        if a.get("private"):
            continue
        body = "\n".join(a["paras"])
        without = [w for w in without if w not in body]
        for w in without:
            assert w in html.unescape(page), (a["key"], w)
        e = dict(title=a["title"], author=a["author"], published_at=gold_date(a), credit=a["credit"],
                 **{"with": pick_with(a)}, without=without[:5],
                 in_feed=bool(a["feed"]), in_sitemap=bool(a["sitemap"]),
                 date_evidence=a["evidence"], words=a["words"])
        if a.get("visible_iso"):
            e["published_at_visible_only"] = a["visible_iso"]
        expected[a["path"]] = e
    return expected


def write_home(site):
    cards = "".join(f'<article class="card"><a href="{a["path"]}"><img src="/static/img/photo.svg" alt="" width="320" height="180">'
                    f'<h2>{esc(a["title"])}</h2></a><span class="card-section">{esc(a["section"][1])}</span></article>' for a in public)
    home: dict[str, Any] = dict(title="شبكة الأفق - الصفحة الرئيسية", site="شبكة الأفق", path="/index.html", paras=["أحدث الأخبار العربية والعالمية على مدار الساعة"])
    write(site + "/index.html", head(home).replace(f"<title>{esc(home['title'])} | شبكة الأفق</title>", "<title>شبكة الأفق - أخبار على مدار الساعة</title>").replace('content="article"', 'content="website"')
          + f"""<body class="home">
{masthead(home, "أخبار على مدار الساعة")}
<main class="container"><h1 class="visually-hidden">شبكة الأفق</h1>
<div class="layout"><section class="top-stories"><h2>أهم الأخبار</h2><div class="grid">{cards}</div></section>
<aside class="sidebar">{mr_sidebar(public[0], "الأكثر قراءة", 10)}{newsletter()}</aside></div>
<p class="archive"><a href="/rss.xml">خدمة RSS</a> - <a href="/sitemap-news.xml">خريطة الأخبار</a></p>
</main>
""" + page_end(home, "جميع الحقوق محفوظة © 2024 شبكة الأفق"))


def xesc(t):
    return html.escape(t, quote=False)


def write_feed(site):
    items = []
    feed_order = sorted([a for a in A if a["feed"]], key=lambda a: parsedate_to_datetime(a["feed"]), reverse=True)
    missing = dict(title="مسؤولون: استئناف الرحلات الجوية بين العاصمتين الشهر المقبل", path="/news/deleted-story.html",
                   feed="Thu, 14 Mar 2024 08:00:00 +0300", desc="تقرير عن استئناف الرحلات الجوية.")
    for a in [missing] + feed_order:
        link = "{{BASE}}" + a["path"] + ("?utm_source=rss&utm_medium=feed" if a.get("feed_tracking") else "")
        desc = a.get("desc") or (" ".join(a["paras"][0].split()[:25]) + " ...")
        items.append(f"""  <item>
    <title>{xesc(a['title'])}</title>
    <link>{xesc(link)}</link>
    <guid isPermaLink="false">akhbar-sample-{a['path'].strip('/').replace('/', '-').replace('.html', '')}</guid>
    <pubDate>{a['feed']}</pubDate>
    <category>{xesc(a.get('section', ('news', 'أخبار'))[1])}</category>
    <description>{xesc(desc)}</description>
  </item>""")
    write(site + "/rss.xml", f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
  <title>شبكة الأفق - آخر الأخبار</title>
  <link>{{{{BASE}}}}/index.html</link>
  <atom:link href="{{{{BASE}}}}/rss.xml" rel="self" type="application/rss+xml"/>
  <description>آخر الأخبار من موقع العينة الخاص بمشروع akhbar</description>
  <language>ar</language>
  <lastBuildDate>Thu, 14 Mar 2024 08:05:00 +0300</lastBuildDate>
  <ttl>15</ttl>
{chr(10).join(items)}
</channel>
</rss>
""")


def write_sitemap(site):
    sm = sorted([a for a in A if a["sitemap"]], key=lambda a: a["sitemap"])
    urls = "\n".join(f"""  <url>
    <loc>{{{{BASE}}}}{a['path']}</loc>
    <news:news>
      <news:publication>
        <news:name>{xesc(a['site'])}</news:name>
        <news:language>ar</news:language>
      </news:publication>
      <news:publication_date>{a['sitemap']}</news:publication_date>
      <news:title>{xesc(a['title'])}</news:title>
    </news:news>
  </url>""" for a in sm)
    write(site + "/sitemap-news.xml", f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
{urls}
</urlset>
""")


def write_static(site):
    write(site + "/robots.txt", "User-agent: *\nDisallow: /private/\n\nSitemap: {{BASE}}/sitemap-news.xml\n")
    write(site + "/static/img/photo.svg", '<svg xmlns="http://www.w3.org/2000/svg" width="800" height="450" viewBox="0 0 800 450"><rect width="800" height="450" fill="#d9dee3"/><circle cx="400" cy="200" r="60" fill="#b5bec7"/><rect x="250" y="290" width="300" height="24" fill="#b5bec7"/></svg>\n')
    write(site + "/static/img/logo.svg", '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40" viewBox="0 0 120 40"><rect width="120" height="40" fill="#0d2b45"/><rect x="8" y="8" width="24" height="24" fill="#c8102e"/></svg>\n')


def main(argv=None):
    parser = argparse.ArgumentParser(description="Build the bundled sample news site and its gold.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="directory that gets site/ and expected.json (default: the repository's samples/)")
    parser.add_argument("--anercorp", default=DEFAULT_ANERCORP, help="the ANERcorp CAMeL Lab train file")
    parser.add_argument("--paras", type=Path, default=HERE / "paras.json",
                        help="where the paragraphs of every article are recorded (default: beside this script)")
    args = parser.parse_args(argv)
    site = str(args.out / "site")
    fill_paragraphs(args.anercorp)
    expected = write_articles(site)
    write_home(site)
    write_static(site)
    write_feed(site)
    write_sitemap(site)
    expected["/private/kim-jong-il-fourth-wife.html"] = {"expect": "robots-disallowed", "in_feed": True, "in_sitemap": False}
    expected["/news/deleted-story.html"] = {"expect": "404", "in_feed": True, "in_sitemap": False}
    write(str(args.out / "expected.json"), json.dumps(expected, ensure_ascii=False, indent=2) + "\n")
    with open(args.paras, "w", encoding="utf-8") as fh:
        json.dump({a["key"]: a["paras"] for a in A}, fh, ensure_ascii=False)
    print("pages", len(A))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
