"""Article body and metadata from one HTML page: trafilatura plus an Arabic layer.

    extract_article(html, url, fetched_at=..., hint_published_at=..., timezone=..., encoding=...)
        -> ExtractedArticle, or raises NotAnArticle(reason)

Steps (one lxml parse):

1. bytes → str (:mod:`extractors.extract.charset`: BOM, HTTP charset, <meta charset>, detection incl. windows-1256);
2. structured data read from the tree: JSON-LD (NewsArticle & co.), meta tags, <time datetime>, <html lang>;
3. :func:`extractors.extract.boilerplate.preclean_tree` removes Arabic boilerplate blocks, inline promo boxes and
   picture captions, and takes out bylines and visible dates near the headline as evidence;
4. trafilatura extracts the body from the cleaned tree (comments excluded); a lead paragraph in a sibling
   container of the body («article__lead») is added back;
5. :func:`extractors.extract.boilerplate.clean_text` removes boilerplate lines left in the text (byline lists,
   a repeated headline) and splits the agency credit off the end;
6. ``author``: a visible byline near the headline or at the body's start → JSON-LD → meta → other bylines, never
   the site's own name, handle or domain;
7. ``published_at`` from the best evidence: JSON-LD → meta / <time> → feed or sitemap hint → visible text
   near the title → a date in the URL path; never a guess. ``published_evidence`` says which one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

import lxml.html
import trafilatura
from lxml import etree
from trafilatura.utils import load_html

from extractors.arabic import arabic_ratio, normalize_arabic
from extractors.extract.boilerplate import (
    Lexicon,
    TreeFindings,
    classify_line,
    clean_author,
    clean_text,
    line_key,
    load_lexicon,
    preclean_tree,
)
from extractors.extract.charset import decode_html
from extractors.extract.dates import get_tz, parse_structured_date
from extractors.records import ExtractedArticle

__all__ = ["extract_article", "article_to_json", "ExtractionError", "NotAnArticle", "MIN_BODY_CHARS"]

MIN_BODY_CHARS = 120  # shorter bodies are not articles (link pages, teasers, error pages)
FAST_PATH_MIN_CHARS = 300  # below this, trafilatura's fallback extractors get a say


class ExtractionError(Exception):
    """Extraction failed."""


class NotAnArticle(ExtractionError):
    """The page has no article body. ``reason``: empty-page, javascript-shell, bot-wall, no-article-body."""

    def __init__(self, reason: str, detail: str | None = None):
        super().__init__(reason if not detail else f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# ------------------------------------------------------------------------------------------ structured data
_ARTICLE_TYPES = {
    "newsarticle", "article", "reportagenewsarticle", "analysisnewsarticle", "opinionnewsarticle",
    "backgroundnewsarticle", "reviewnewsarticle", "blogposting", "liveblogposting", "report", "scholarlyarticle",
    "socialmediaposting", "techarticle", "askpublicnewsarticle", "satiricalarticle",
}
_PUBLISHED_META = (
    "article:published_time", "og:article:published_time", "og:published_time", "published_time",
    "article:published", "article.published", "datepublished", "pubdate", "publishdate", "publish-date",
    "publish_date", "publication_date", "date", "dc.date.issued", "dcterms.issued", "dc.date", "dcterms.date",
    "dc:date", "dcterms.created", "dc.date.created", "sailthru.date", "parsely-pub-date",
    "cxenseparse:recs:publishtime",
    "article_date_original", "original-publish-date", "created", "dc:created",
)
_MODIFIED_META = (
    "article:modified_time", "og:article:modified_time", "og:updated_time", "article:modified", "datemodified",
    "dcterms.modified", "dc.date.modified", "last-modified", "lastmod", "modified_time",
)
_AUTHOR_META = ("author", "article:author", "og:article:author", "dc.creator", "dcterms.creator", "parsely-author",
                "sailthru.author", "byl", "citation_author", "twitter:creator")
_BOT_MARKERS = re.compile(
    r"just a moment\.\.\.|attention required|cf-browser-verification|challenge-platform|checking your browser|"
    r"g-recaptcha|h-captcha|hcaptcha|px-captcha|captcha-delivery|are you a robot|are you human|not a robot|"
    r"verify you are human|access denied|pardon our interruption|incapsula incident|ddos protection by|"
    r"request unsuccessful|please enable cookies|bot protection|سلامة الاتصال|لست روبوت|لست روبوتا|"
    r"التحقق من أنك إنسان|تحقق من أنك إنسان|يرجى التحقق",
    re.IGNORECASE,
)
_JS_MARKERS = re.compile(
    r"enable javascript|javascript is (?:disabled|required)|requires javascript|turn on javascript|"
    r"يرجى تفعيل جافا ?سكريبت|تفعيل الجافا ?سكريبت|id=[\"'](?:root|app|__next|__nuxt)[\"']",
    re.IGNORECASE,
)
_URL_DATE = re.compile(r"/((?:19|20)\d\d)[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?:/|$|[-_])")


def _iter_jsonld(obj: Any):
    if isinstance(obj, list):
        for x in obj:
            yield from _iter_jsonld(x)
    elif isinstance(obj, dict):
        yield obj
        for key in ("@graph", "mainEntity", "itemListElement"):
            if key in obj:
                yield from _iter_jsonld(obj[key])


def _types(obj: dict) -> set[str]:
    t = obj.get("@type")
    if isinstance(t, str):
        return {t.lower()}
    if isinstance(t, list):
        return {x.lower() for x in t if isinstance(x, str)}
    return set()


def _first_str(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list):
        for v in value:
            s = _first_str(v)
            if s:
                return s
    if isinstance(value, dict):
        for key in ("url", "contentUrl", "name", "@id"):
            s = _first_str(value.get(key))
            if s:
                return s
    return None


def _names(value: Any) -> list[str]:
    """Person names from a JSON-LD author value (string, Person, list); organisations are skipped."""
    out: list[str] = []
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, list):
        for v in value:
            out.extend(_names(v))
    elif isinstance(value, dict):
        if "organization" in _types(value) or "newsmediaorganization" in _types(value):
            return []
        name = value.get("name")
        if isinstance(name, str):
            out.append(name)
    return out


def _str_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [p.strip() for p in re.split(r"[,،]", value) if p.strip()]
    if isinstance(value, list):
        out: list[str] = []
        for v in value:
            if isinstance(v, str):
                out.extend(_str_list(v))
            elif isinstance(v, dict) and isinstance(v.get("name"), str):
                out.append(v["name"])
        return out
    return []


class _Structured:
    """Everything machine-readable on the page, read once from the tree."""

    def __init__(self, root) -> None:
        self.meta: dict[str, str] = {}
        self.meta_lists: dict[str, list[str]] = {}
        self.article: dict | None = None
        self.jsonld_any: list[dict] = []
        self.title_tag: str | None = None
        self.lang: str | None = None
        self.time_datetime: list[tuple[str, bool]] = []  # (datetime attr, strong: pubdate / itemprop)
        self.itemprop: dict[str, str] = {}

        html_el = root if root.tag == "html" else root.getroottree().getroot()
        self.lang = (html_el.get("lang") or html_el.get("xml:lang") or "").strip() or None
        for el in root.iter("meta", "title", "script", "time", "link"):
            tag = el.tag
            if tag == "meta":
                key = (el.get("property") or el.get("name") or el.get("itemprop") or el.get("http-equiv")
                       or "").strip().lower()
                content = el.get("content")
                if not key or content is None:
                    continue
                content = content.strip()
                if not content:
                    continue
                self.meta.setdefault(key, content)
                self.meta_lists.setdefault(key, []).append(content)
            elif tag == "title":
                if self.title_tag is None and el.text:
                    self.title_tag = el.text.strip()
            elif tag == "script":
                if (el.get("type") or "").lower().strip() == "application/ld+json" and el.text:
                    self._read_jsonld(el.text)
            elif tag == "time":
                dt = el.get("datetime")
                if dt:
                    strong = el.get("pubdate") is not None or (el.get("itemprop") or "").lower() == "datepublished"
                    self.time_datetime.append((dt, strong))
        # RDFa / microdata on non-meta elements: itemprop="datePublished" content=…, property="dc:date" content=…
        for el in root.xpath("//*[@itemprop or @property][@content or @datetime]"):
            if el.tag == "meta":
                continue
            for key in ((el.get("itemprop") or "") + " " + (el.get("property") or "")).lower().split():
                self.itemprop.setdefault(key, (el.get("content") or el.get("datetime") or "").strip())
        if self.article is None:
            for obj in self.jsonld_any:
                if obj.get("datePublished") or obj.get("headline"):
                    self.article = obj
                    break

    def _read_jsonld(self, raw: str) -> None:
        raw = raw.strip()
        if not raw:
            return
        try:
            data = json.loads(raw, strict=False)
        except ValueError:
            try:  # trailing commas and HTML comments are the usual breakage
                repaired = re.sub(r",\s*([}\]])", r"\1", raw.replace("<!--", "").replace("-->", ""))
                data = json.loads(repaired, strict=False)
            except ValueError:
                return
        for obj in _iter_jsonld(data):
            self.jsonld_any.append(obj)
            if self.article is None and _types(obj) & _ARTICLE_TYPES:
                self.article = obj

    # -- accessors
    def jl(self, key: str) -> Any:
        return self.article.get(key) if self.article else None

    def first_meta(self, keys) -> tuple[str, str] | None:
        for k in keys:
            v = self.meta.get(k) or self.itemprop.get(k)
            if v:
                return k, v
        return None


# ------------------------------------------------------------------------------------------ helpers
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _parse_tree(text: str):
    """One lxml parse of the page, with trafilatura's own repairs (so its extraction sees the same tree)."""
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1)
    if not text.strip():
        return None
    root = None
    try:
        root = load_html(text)
    except Exception:  # pragma: no cover - defensive: fall back to a plain parse
        root = None
    if root is None:
        try:
            parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False,
                                          default_doctype=False)
            root = lxml.html.fromstring(_INVALID_XML.sub("", text), parser=parser)
        except (etree.ParserError, ValueError):
            return None
    if root is None:
        return None
    if root.tag != "html":
        tree_root = root.getroottree().getroot()
        root = tree_root if tree_root is not None else root
    return root


def _aware(dt: datetime | None, tz: str) -> datetime | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        return dt.replace(tzinfo=get_tz(tz))
    return dt


_VISIBLE_TEXT = ("//body//text()[not(ancestor::script) and not(ancestor::style) and not(ancestor::noscript)"
                 " and not(ancestor::template)]")


def _visible_text(root) -> str:
    return " ".join(
        t.strip() for t in root.xpath(_VISIBLE_TEXT) if t.strip()
    )


def _title(st: _Structured, h1: str | None, sitename: str | None) -> str | None:
    cands = [_first_str(st.jl("headline")), st.meta.get("og:title"), st.meta.get("twitter:title"), h1, st.title_tag]
    title = next((c for c in cands if c and c.strip()), None)
    if not title:
        return None
    title = re.sub(r"\s+", " ", title).strip()
    if h1:
        h = re.sub(r"\s+", " ", h1).strip()
        hk, tk = line_key(h), line_key(title)
        if hk and hk != tk and hk in tk and len(hk) >= 0.5 * len(tk):
            return h
    # drop a site-name suffix / prefix («… - الجزيرة نت», «العربية | …»)
    parts = re.split(r"\s+[|\-–—:»]\s+", title)
    if len(parts) > 1:
        site_key = line_key(sitename) if sitename else None
        kept = [p for p in parts if not (site_key and line_key(p) == site_key)]
        if kept and len(kept) < len(parts):
            title = " - ".join(kept)
    return title


def _language(text: str, st: _Structured) -> str | None:
    ratio = arabic_ratio(text[:5000])
    if ratio >= 0.5:
        return "ar"
    lang = st.lang or st.meta.get("og:locale") or st.meta.get("content-language") or _first_str(st.jl("inLanguage"))
    primary = re.split(r"[-_]", lang.strip().lower())[0] if lang else None
    if primary and primary != "ar":
        return primary
    if ratio >= 0.2:
        return "ar"
    return primary if primary != "ar" else None


def _reason_for_empty(root, raw_text: str, body_len: int) -> str:
    head = raw_text[:60000]
    visible = _visible_text(root) if root is not None else ""
    if len(visible) < 2000 and _BOT_MARKERS.search(head + " " + visible):
        return "bot-wall"
    scripts = len(root.xpath("//script")) if root is not None else 0
    if len(visible) < 300 and (scripts or _JS_MARKERS.search(head)):
        return "javascript-shell"
    if not visible.strip():
        return "empty-page"
    return "no-article-body"


# ------------------------------------------------------------------------------------------ public API
def extract_article(
    html: bytes | str,
    url: str,
    *,
    fetched_at: datetime | None = None,
    hint_published_at: datetime | None = None,
    timezone: str = "UTC",
    encoding: str | None = None,
) -> ExtractedArticle:
    """Extract the article body and metadata from one page; raises NotAnArticle when there is none."""
    timezone = timezone or "UTC"
    text_html, root = _parse_page(html, encoding)
    fetched_at = _aware(fetched_at, "UTC")
    lex = load_lexicon()
    st = _Structured(root)
    sitename = _sitename(st)
    findings = preclean_tree(root, lex, timezone=timezone, fetched_at=fetched_at)
    title = _title(st, findings.h1_text, sitename)
    headlines = tuple(h for h in (findings.h1_text, st.meta.get("og:title"), _first_str(st.jl("headline"))) if h)
    body = _body(root, url, st, text_html, title=title, lex=lex, timezone=timezone, headlines=headlines)
    published_at, evidence = _published(st, findings, hint_published_at, url, timezone, fetched_at)
    description = _description(st)
    return ExtractedArticle(
        url=url,
        title=title,
        author=_author(st, lex, _site_names(st, url, lex), body, findings),
        published_at=published_at,
        language=_language(body.text, st),
        text=body.text,
        credit=body.credit,
        description=re.sub(r"\s+", " ", description).strip() if description else None,
        categories=_dedupe(st.meta_lists.get("article:section", []) + _str_list(st.jl("articleSection"))),
        tags=_tags(st, title),
        image=_image(st),
        modified_at=_modified(st, timezone),
        published_evidence=evidence,
    )


def _parse_page(html: bytes | str, encoding: str | None) -> tuple[str, Any]:
    """(the page as text, its lxml root); NotAnArticle("empty-page") when there is nothing to parse."""
    text_html = decode_html(html, encoding) if isinstance(html, (bytes, bytearray)) else (html or "")
    if not text_html.strip():
        raise NotAnArticle("empty-page")
    root = _parse_tree(text_html)
    if root is None:
        raise NotAnArticle("empty-page")
    return text_html, root


def _sitename(st: _Structured) -> str | None:
    publisher = st.jl("publisher")
    return st.meta.get("og:site_name") or _first_str(publisher.get("name") if isinstance(publisher, dict) else None)


@dataclass(frozen=True, slots=True)
class _Body:
    text: str
    credit: str | None
    bylines: list[str]  # bylines found among the extracted lines
    lead_bylines: list[str]  # those of them at the body's start


def _body(root: Any, url: str, st: _Structured, text_html: str, *, title: str | None, lex: Lexicon,
          timezone: str, headlines: tuple[str, ...]) -> _Body:
    """The cleaned article body and agency credit; NotAnArticle when the page has none."""
    # The pre-cleaned tree rarely needs trafilatura's readability / jusText fallbacks: run the fast path first
    # and the full one only when the fast path finds little (it copies the tree, so `root` stays usable).
    raw = _trafilatura_text(root, url, fast=True)
    if len(raw) < FAST_PATH_MIN_CHARS:
        raw = _trafilatura_text(root, url, fast=False) or raw
    cleaned = clean_text(raw, title=title, lex=lex, timezone=timezone, headlines=headlines)
    text, credit = cleaned.text, cleaned.credit
    if len(text) < MIN_BODY_CHARS:
        # JavaScript-rendered pages often carry the whole body in JSON-LD
        jl_body = _first_str(st.jl("articleBody"))
        if jl_body and len(jl_body) >= MIN_BODY_CHARS:
            from_jsonld = clean_text(jl_body, title=title, lex=lex, timezone=timezone, headlines=headlines)
            text, credit = from_jsonld.text, from_jsonld.credit
    if len(text) < MIN_BODY_CHARS:
        raise NotAnArticle(_reason_for_empty(root, text_html, len(text)))
    if len(text) < 1500 and _BOT_MARKERS.search(text) and arabic_ratio(text) < 0.5:
        raise NotAnArticle("bot-wall")
    lead = _lead_paragraph(root, text, lex, text_html)
    if lead:
        text = lead + "\n" + text
    return _Body(text, credit, cleaned.bylines, cleaned.lead_bylines)


# the last part of a class name that marks an article's lead («article__lead», «story-intro», «post-excerpt»)
_LEAD_CLASS_WORDS = frozenset({"lead", "lede", "intro", "standfirst", "summary", "excerpt", "abstract", "dek",
                               "deck", "brief", "subtitle", "subheadline"})
_LEAD_CLASS_RE = re.compile("|".join(sorted(_LEAD_CLASS_WORDS)), re.IGNORECASE)
# pages without such a class attribute (most) skip the walk over the tree
_LEAD_CLASS_IN_HTML = re.compile(r"class=[\"'][^\"'>]*(?:" + "|".join(
    v for w in sorted(_LEAD_CLASS_WORDS) for v in (w, w.capitalize())) + ")")  # case-sensitive: C-fast
_LEAD_MIN_WORDS = 8
_LEAD_MAX_CHARS = 700


def _lead_paragraph(root: Any, text: str, lex: Lexicon, text_html: str) -> str | None:
    """A lead paragraph the body lost: trafilatura keeps one main container, and a lead in a sibling container
    («<div class="article__lead">» beside «<div class="article__body">») is left out. It is added back when its
    class says lead, it reads as prose (not links, not boilerplate) and it sits just before the body's first
    line in a container they share."""
    if not _LEAD_CLASS_IN_HTML.search(text_html):
        return None
    first_line = text.split("\n", 1)[0]
    body_key: str | None = None
    for el in root.iter():
        classes = el.get("class") if isinstance(el.tag, str) else None
        if not classes or not _LEAD_CLASS_RE.search(classes) or not _is_lead_class(classes):
            continue
        lead = re.sub(r"\s+", " ", el.text_content()).strip()
        body_key = body_key if body_key is not None else line_key(text[:4000])
        key = line_key(lead)
        if (not key or key in body_key or len(key.split()) < _LEAD_MIN_WORDS or len(lead) > _LEAD_MAX_CHARS
                or classify_line(lead, lex) or _links_share(el, len(lead)) > 0.3):
            continue
        if _precedes_in_shared_box(el, lead, first_line):
            return lead
    return None


def _is_lead_class(classes: str) -> bool:
    return any(re.split(r"[-_]+", c)[-1].lower() in _LEAD_CLASS_WORDS for c in classes.split())


def _links_share(el: Any, text_len: int) -> float:
    links = sum(len(a.text_content().strip()) for a in el.iter("a"))
    return links / text_len if text_len else 1.0


def _precedes_in_shared_box(el: Any, lead: str, first_line: str) -> bool:
    """Whether an ancestor at most three levels up holds the lead and, after it, the body's first line."""
    probe = re.sub(r"\s+", " ", first_line)[:60]
    node = el
    for _level in range(3):
        node = node.getparent()
        if node is None or node.tag in ("body", "html"):
            return False
        box_text = re.sub(r"\s+", " ", node.text_content())
        at = box_text.find(probe)
        if at >= 0:
            return box_text.find(lead) < at
    return False


def _author(st: _Structured, lex: Lexicon, site_names: frozenset[str], body: _Body,
            findings: TreeFindings) -> str | None:
    """A visible byline near the headline or at the body's start → JSON-LD author → author meta tags → any
    other visible byline; never the site itself, its handle or its domain name."""
    candidates = (
        lambda: findings.best_byline(near_title_only=True),
        lambda: body.lead_bylines[0] if body.lead_bylines else None,
        lambda: _metadata_author(st, lex, site_names),
        lambda: body.bylines[0] if body.bylines else None,
        findings.best_byline,
    )
    for candidate in candidates:
        author = _not_the_site(candidate(), site_names)
        if author:
            return author
    return None


def _compact(text: str) -> str:
    return line_key(text).replace(" ", "")


def _site_names(st: _Structured, url: str, lex: Lexicon) -> frozenset[str]:
    """Compact forms of the publication's own names: og:site_name, the JSON-LD publisher, the domain's name
    («almanara» of www.almanara.jo), each also without «صحيفة», «بوابة», «News» and the like."""
    publisher = st.jl("publisher")
    names = [st.meta.get("og:site_name"), st.meta.get("application-name"),
             _first_str(publisher.get("name")) if isinstance(publisher, dict) else None]
    host = (urlsplit(url).hostname or "").lower()
    labels = [x for x in host.split(".") if x not in ("www", "m", "ar", "arabic", "amp", "news")]
    names.extend(labels[:1])
    return _compact_names(tuple(n for n in names if n), lex)


@lru_cache(maxsize=1024)
def _compact_names(names: tuple[str, ...], lex: Lexicon) -> frozenset[str]:
    # a site's pages share these names: computed once per site
    out: set[str] = set()
    for name in names:
        out.add(_compact(name))
        out.add("".join(w for w in line_key(name).split() if w not in lex.site_words))
    out.discard("")
    return frozenset(out)


def _not_the_site(author: str | None, site_names: frozenset[str]) -> str | None:
    """The author, minus names that are the site's own («Al Wasl», «almanara», «صحيفة المنارة»)."""
    if not author:
        return None
    kept = [a for a in author.split("; ") if a and not a.startswith("@") and _compact(a) not in site_names
            and not any(len(s) >= 4 and _compact(a).endswith(s) and _compact(a)[: -len(s)] in _SITE_PREFIXES
                        for s in site_names)]
    return "; ".join(kept) or None


# «صحيفة المنارة», «بوابة المنارة»: prefixes a publication's name may carry in an author field (compact forms)
_SITE_PREFIXES = frozenset({"", "صحيفه", "جريده", "موقع", "بوابه", "قناه", "شبكه", "مجله"})


def _metadata_author(st: _Structured, lex: Lexicon, site_names: frozenset[str]) -> str | None:
    """The people JSON-LD names as authors (all of them, «A; B»), else the first usable author meta tag."""
    people = [clean_author(raw, lex) for raw in _names(st.jl("author"))]
    joined = _not_the_site("; ".join(dict.fromkeys(p for p in people if p)), site_names)
    if joined:
        return joined
    for key in _AUTHOR_META:
        for raw in st.meta_lists.get(key, []):
            if raw.startswith("@") or raw.startswith("http"):
                continue
            author = _not_the_site(clean_author(raw, lex), site_names)
            if author:
                return author
    return None


def _modified(st: _Structured, timezone: str) -> datetime | None:
    for value in (_first_str(st.jl("dateModified")), (st.first_meta(_MODIFIED_META) or (None, None))[1]):
        parsed = parse_structured_date(value, timezone=timezone) if value else None
        if parsed:
            return parsed[0]
    return None


def _description(st: _Structured) -> str | None:
    descs = [d for d in (st.meta.get("description"), st.meta.get("og:description"), _first_str(st.jl("description")))
             if d]
    return max(descs, key=len) if descs else None


def _image(st: _Structured) -> str | None:
    return (st.meta.get("og:image") or st.meta.get("twitter:image") or st.meta.get("twitter:image:src")
            or _first_str(st.jl("image")))


def _tags(st: _Structured, title: str | None) -> list[str]:
    tags = _dedupe(st.meta_lists.get("article:tag", []) + _str_list(st.jl("keywords"))
                   + _str_list(st.meta.get("news_keywords")))
    if not tags and st.meta.get("keywords"):
        title_key = line_key(title or "")
        tags = [t for t in _dedupe(_str_list(st.meta["keywords"])) if line_key(t) != title_key]
    return tags


def _trafilatura_text(root, url: str, *, fast: bool) -> str:
    try:
        doc = trafilatura.bare_extraction(
            root, url=url, fast=fast, include_comments=False, include_tables=True, with_metadata=False
        )
    except Exception:  # trafilatura raises on some malformed trees; treat as no body
        return ""
    if doc is None:
        return ""
    text = doc.get("text") if isinstance(doc, dict) else doc.text
    return text or ""


def _dedupe(items: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for it in items:
        it = re.sub(r"\s+", " ", it).strip()
        k = normalize_arabic(it).lower()
        if it and k not in seen:
            seen[k] = it
    return list(seen.values())


def _published(st: _Structured, findings, hint: datetime | None, url: str, tz: str, fetched_at: datetime | None):
    # 1. JSON-LD
    for key in ("datePublished", "dateCreated", "uploadDate"):
        value = _first_str(st.jl(key))
        parsed = parse_structured_date(value, timezone=tz) if value else None
        if parsed:
            return parsed[0], "jsonld"
    # 2. meta tags, microdata / RDFa, <time datetime> in the article header
    hit = st.first_meta(_PUBLISHED_META)
    if hit:
        parsed = parse_structured_date(hit[1], timezone=tz)
        if parsed:
            return parsed[0], "meta"
    times = sorted(st.time_datetime, key=lambda x: not x[1])
    for value, _strong in times[:3]:
        parsed = parse_structured_date(value, timezone=tz)
        if parsed:
            return parsed[0], "meta"
    # 3. the feed's or sitemap's date
    if hint is not None:
        return _aware(hint, tz), "feed"
    # 4. visible text near the headline / byline
    cand = findings.best_date()
    if cand is not None:
        return cand.match.value, "text"
    # 5. a full date in the URL path (/2024/03/15/)
    m = _URL_DATE.search(unquote(urlsplit(url).path or ""))
    if m:
        iso_date = f"{int(m.group(1)):04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"
        parsed = parse_structured_date(iso_date, timezone=tz)
        if parsed:
            return parsed[0], "url"
    return None, None


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def article_to_json(article: ExtractedArticle) -> dict:
    """JSON-ready dict of an extracted article (ISO 8601 dates, null for missing values)."""
    return {
        "url": article.url,
        "title": article.title or None,
        "author": article.author or None,
        "published_at": _iso(article.published_at),
        "published_evidence": article.published_evidence,
        "modified_at": _iso(article.modified_at),
        "language": article.language or None,
        "text": article.text,
        "credit": article.credit or None,
        "description": article.description or None,
        "categories": list(article.categories or []),
        "tags": list(article.tags or []),
        "image": article.image or None,
    }
