"""Arabic boilerplate: a lexicon (``lexicon/boilerplate.toml``) and the rules that apply it.

Two places use it:

* :func:`preclean_tree` walks the lxml DOM once before trafilatura sees it. It removes short blocks that are
  share bars, «اقرأ أيضا» / «الأكثر قراءة» blocks (the heading and the links under it), comment forms,
  newsletter / app prompts, cookie and copyright lines and standalone photo credits; and it takes out bylines
  («كتب: …», «بقلم …», «حوار: …») and visible dates near the headline, returning them as evidence.
* :func:`clean_text` applies the same line rules to the extracted text and moves an agency credit at the end
  of the body («(وكالات)», «(رويترز)», «- واس») into a separate credit.

Everything is matched on whole short lines or short blocks after :func:`extractors.arabic.normalize_arabic`,
never on words inside a paragraph, so «شارك الوزير في الاجتماع …» stays.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from extractors.arabic import normalize_arabic
from extractors.extract.dates import DateMatch, date_coverage, find_date

__all__ = [
    "Lexicon",
    "load_lexicon",
    "line_key",
    "classify_line",
    "split_credit",
    "parse_byline",
    "byline_list_line",
    "clean_author",
    "clean_text",
    "CleanedText",
    "preclean_tree",
    "TreeFindings",
]

LEXICON_PATH = Path(__file__).with_name("lexicon") / "boilerplate.toml"

_PUNCT = re.compile(r"[\W_]+")


def line_key(text: str) -> str:
    """Comparison form of a line: normalised Arabic, lower case, punctuation as single spaces."""
    return _PUNCT.sub(" ", normalize_arabic(text).lower()).strip()


@dataclass(frozen=True)
class Lexicon:
    share_phrases: tuple[str, ...]  # keys, longest first
    block_headings: frozenset[str]
    exact: frozenset[str]
    prefixes: tuple[str, ...]
    contains: tuple[str, ...]  # normalised (not keyed: keeps ©)
    max_line_words: int
    max_contains_chars: int
    photo_prefixes: tuple[str, ...]
    photo_max_words: int
    agencies: frozenset[str]
    credit_intro: tuple[str, ...]
    byline_re: re.Pattern[str]
    byline_loose: frozenset[str]  # prefixes accepted without a «:» («بقلم فلان»)
    name_labels: frozenset[str]  # «Author, …»: a name follows
    role_labels: frozenset[str]  # «Role, …»: a job title follows, not a name
    not_names: frozenset[str]  # byline-section headings, CMS accounts, comment-widget labels
    site_words: frozenset[str]  # «صحيفة», «بوابة», «News»: a publication's name without them is the site too
    promo_attr: re.Pattern[str]  # class / id / aria-labelledby words of an inline promo box
    promo_max_chars: int
    promo_lines: frozenset[str]


def _flex(phrase: str) -> str:
    """Regex for a phrase tolerant of hamza, taa marbuta, alef maqsura, tashkeel and tatweel variants."""
    classes = {
        "ا": "[اأإآٱ]", "أ": "[اأإآٱ]", "إ": "[اأإآٱ]", "آ": "[اأإآٱ]",
        "ه": "[هة]", "ة": "[هة]", "ي": "[يى]", "ى": "[يى]",
    }
    marks = "[\u064b-\u065f\u0670\u0640]*"
    out = []
    for ch in phrase:
        if ch == " ":
            out.append(r"\s+")
        else:
            out.append(classes.get(ch, re.escape(ch)) + marks)
    return "".join(out)


@lru_cache(maxsize=4)
def load_lexicon(path: str | None = None) -> Lexicon:
    """Read and compile the boilerplate lexicon (cached)."""
    with open(path or LEXICON_PATH, "rb") as fh:
        data = tomllib.load(fh)
    share = {line_key(p) for p in data["share"]["verbs"] + data["share"]["networks"]}
    share.discard("")
    lines = data["lines"]
    prefixes = data["byline"]["prefixes"]
    byline_re = re.compile(
        r"^\s*(?:[-–—•|]\s*)?(?P<prefix>"
        + "|".join(_flex(p) for p in sorted(prefixes, key=len, reverse=True))
        + r")(?![\u0621-\u064aA-Za-z])\s*(?P<sep>[:：\-–—/|]+)?\s*(?P<rest>.*)$",
        re.DOTALL,
    )
    return Lexicon(
        share_phrases=tuple(sorted(share, key=len, reverse=True)),
        block_headings=frozenset(line_key(h) for h in data["blocks"]["headings"]),
        exact=frozenset(line_key(x) for x in lines["exact"]),
        prefixes=tuple(k for k in (line_key(x) for x in lines["prefixes"]) if k),
        contains=tuple(normalize_arabic(x).lower() for x in lines["contains"]),
        max_line_words=int(lines["max_line_words"]),
        max_contains_chars=int(lines["max_contains_chars"]),
        photo_prefixes=tuple(line_key(x) for x in data["photo"]["prefixes"]),
        photo_max_words=int(data["photo"]["max_words"]),
        agencies=frozenset(line_key(a) for a in data["credits"]["agencies"]),
        credit_intro=tuple(line_key(a) for a in data["credits"]["intro"]),
        byline_re=byline_re,
        byline_loose=frozenset(line_key(p) for p in ("بقلم", "By", "by")),
        name_labels=_keys(data["byline"]["name_labels"]),
        role_labels=_keys(data["byline"]["role_labels"]),
        not_names=_keys(data["byline"]["not_names"]),
        site_words=_keys(data["byline"]["site_words"]),
        promo_attr=re.compile("|".join(re.escape(w) for w in data["promo"]["attr_words"]), re.IGNORECASE),
        promo_max_chars=int(data["promo"]["max_chars"]),
        promo_lines=_keys(data["promo"]["lines"]),
    )


def _keys(phrases: list[str]) -> frozenset[str]:
    return frozenset(k for k in (line_key(p) for p in phrases) if k)


def _is_default(lex: Lexicon | None) -> bool:
    """Whether `lex` is the shipped lexicon, whose answers are cached by line."""
    return lex is None or lex is load_lexicon()


@lru_cache(maxsize=65536 + 16384)
def _with_default_lexicon(rule: Callable[[str, Lexicon], str | None], line: str) -> str | None:
    # menus, share bars, footers and bylines repeat on every page of a site: cache answers by (rule, line)
    return rule(line, load_lexicon())


# ------------------------------------------------------------------------------------------- line rules
def _is_share(key: str, lex: Lexicon) -> bool:
    if not key or len(key) > 160:
        return False
    rest = f" {key} "
    hit = False
    for phrase in lex.share_phrases:
        needle = f" {phrase} "
        if needle in rest:
            rest = rest.replace(needle, " ")
            hit = True
            if not rest.strip():
                break
    if not hit:
        return False
    # leftovers that are only digits (share counters) are fine
    return not re.sub(r"[\d\s]+", "", rest)


def _is_agency_list(key: str, lex: Lexicon) -> bool:
    """«رويترز», «رويترز وا ف ب», «وكالات»: a key made only of agency names."""
    if not key:
        return False
    if key in lex.agencies:
        return True
    # split on the conjunction «و» glued to the next name, and on commas already turned to spaces
    words = key.split()
    i = 0
    while i < len(words):
        for j in range(len(words), i, -1):
            chunk = " ".join(words[i:j])
            if chunk in lex.agencies or (chunk.startswith("و") and chunk[1:] in lex.agencies):
                i = j
                break
        else:
            return False
    return True


def classify_line(line: str, lex: Lexicon | None = None) -> str | None:
    """The boilerplate family of a whole line, or None when the line is (or may be) content.

    Families: "share", "block" (a heading that opens a related / most-read / comments / tags block),
    "boilerplate" (comment form and policy, newsletter, app, cookie, copyright, navigation words),
    "promo" (labels of an inline podcast / video promo box), "photo" (standalone photo credit).
    """
    if _is_default(lex) and len(line) <= 400:
        return _with_default_lexicon(_classify, line)
    return _classify(line, lex or load_lexicon())


def _classify(line: str, lex: Lexicon) -> str | None:
    stripped = line.strip()
    if not stripped:
        return None
    key = line_key(stripped)
    if not key:
        # only punctuation / symbols: «©», «|», «...»
        return "boilerplate" if len(stripped) <= 5 else None
    words = key.split()
    nwords = len(words)
    if nwords <= 12 and _is_share(key, lex):
        return "share"
    if key in lex.block_headings and nwords <= 6:
        return "block"
    if key in lex.exact:
        return "boilerplate"
    if key in lex.promo_lines:
        return "promo"
    if nwords <= lex.max_line_words:
        for p in lex.prefixes:
            if key.startswith(p) and (len(key) == len(p) or key[len(p)] == " "):
                return "boilerplate"
    if len(stripped) <= lex.max_contains_chars:
        nl = normalize_arabic(stripped).lower()
        for c in lex.contains:
            if c in nl:
                return "boilerplate"
    if nwords <= lex.photo_max_words:
        for p in lex.photo_prefixes:
            if key.startswith(p) and (len(key) == len(p) or key[len(p)] == " "):
                # «الصورة: رويترز», «تصوير: أحمد», «(أرشيفية)»; not a sentence («صورة الرئيس …» is short too,
                # but photo captions carry no body text either)
                return "photo"
        inner = stripped.strip("()[]{}«»\"' .-–—")
        if stripped.startswith(("(", "[")) and _is_agency_list(line_key(inner), lex):
            return "photo"  # a lone «(رويترز)» inside the body: a picture credit
    return None


# ------------------------------------------------------------------------------------------- credits
_PAREN_TAIL = re.compile(r"\s*[(\[（]\s*(?P<inner>[^()\[\]（）\n]{1,80}?)\s*[)\]）]\s*[.]?\s*$")
_DASH_TAIL = re.compile(r"(?:^|\s)[-–—]+\s*(?P<inner>[^-–—\n.]{1,40}?)\s*[.]?\s*$")
_INTRO_LINE = re.compile(r"^\s*(?P<intro>[^:：\n]{1,20})\s*[:：]\s*(?P<inner>[^\n]{1,80})$")


def _credit_inner(inner: str, lex: Lexicon) -> str | None:
    key = line_key(inner)
    for intro in lex.credit_intro:
        if key.startswith(intro + " "):
            key = key[len(intro) + 1 :]
            inner = re.sub(r"^\s*\S+(?:\s+\S+)?\s*[:：]\s*", "", inner) if ":" in inner or "：" in inner else inner
            break
    if _is_agency_list(key, lex):
        return inner.strip(" :：-–—")
    return None


def split_credit(text: str, lex: Lexicon | None = None) -> tuple[str, str | None]:
    """Cut an agency credit off the end of the body: («…. (وكالات)» → ("….", "وكالات"))."""
    lex = lex or load_lexicon()
    body = text.rstrip()
    credits: list[str] = []
    for _ in range(3):
        if not body:
            break
        last_nl = body.rfind("\n")
        last_line = body[last_nl + 1 :].strip()
        # a whole last line: «(وكالات)», «وكالات», «المصدر: رويترز», «- واس»
        whole = last_line.strip("()[]（）.- –—")
        if len(last_line) <= 90:
            c = _credit_inner(whole, lex)
            if c is None:
                m = _INTRO_LINE.match(last_line)
                if m and line_key(m.group("intro")) in lex.credit_intro:
                    c = _credit_inner(m.group("inner").strip("()[]. "), lex)
            if c:
                credits.append(c)
                body = body[: max(last_nl, 0)].rstrip() if last_nl >= 0 else ""
                continue
        m = _PAREN_TAIL.search(body)
        if m:
            c = _credit_inner(m.group("inner"), lex)
            if c:
                credits.append(c)
                body = body[: m.start()].rstrip()
                continue
        m = _DASH_TAIL.search(body)
        if m and m.start() > 0:
            c = _credit_inner(m.group("inner"), lex)
            if c:
                credits.append(c)
                body = body[: m.start()].rstrip()
                continue
        break
    if not credits:
        return text.strip(), None
    credits.reverse()
    return body, "، ".join(dict.fromkeys(credits))


# ------------------------------------------------------------------------------------------- bylines
_NAME_SPLIT = re.compile(
    r"\s*(?:[|•·/\\\n]|\s[-–—ـ]+\s|[-–—]{2,}|[،,؛;]|[:：](?=\s)|\s{3,})\s*|(?<=\S)[-–—](?=\s)|(?<=\s)[-–—](?=\S)"
)
_PARENS = re.compile(r"\s*[(\[（][^()\[\]（）]*[)\]）]")
_QUOTES = str.maketrans("", "", "«»\"“”'‘’:：")


_QUOTED = re.compile(r"«[^«»]*»|\"[^\"]*\"|“[^“”]*”")
_DATELINE_PLACE = re.compile(r"(?:من|في|الى|إلى)\s")


def clean_author(
    raw: str | None, lex: Lexicon | None = None, *, sitename: str | None = None, loose_prefix: bool = False
) -> str | None:
    """The person or people a byline or metadata value names («A; B», trafilatura's way), or None.

    Drops byline prefixes and labels («Author, …»), agency and site names, dates, places in parentheses
    («(الرياض)»), e-mails, URLs, handles (@name) and words that are never names (UI and comment-widget labels).
    Names separated by «،», «,» or «;» are several authors when each has at least two words.
    """
    if not raw or not isinstance(raw, str):
        return None
    lex = lex or load_lexicon()
    text = raw.replace("\xa0", " ").replace("&nbsp;", " ").strip()
    if not text or text.startswith(("http://", "https://", "www.", "@")) or len(text) > 200:
        return None
    label = _byline_label(text, lex)
    if label is not None:
        if label[0] == "role":
            return None
        text = label[1]
    m = lex.byline_re.match(text)
    if (m and (m.group("sep") or loose_prefix or line_key(m.group("prefix")) in lex.byline_loose)
            and m.group("rest").strip()):
        text = m.group("rest")
    several = [_one_author(chunk, lex, sitename) for chunk in _AUTHOR_LIST.split(text)]
    if len(several) > 1 and all(n and len(n.split()) >= 2 for n in several):
        return "; ".join(dict.fromkeys(n for n in several if n))
    return _one_author(text, lex, sitename)


_AUTHOR_LIST = re.compile(r"\s*[،,؛;]\s*")
_LABELLED = re.compile(r"^\s*(?:[-–—•*]\s*)?(?P<label>[^,،:：\n]{2,24}?)\s*[,،:：]\s*(?P<rest>\S.*)$", re.DOTALL)


def _byline_label(line: str, lex: Lexicon) -> tuple[str, str] | None:
    """("name", rest) for «Author, نادر الشامي», ("role", rest) for «Role, مراسل», None for other lines."""
    m = _LABELLED.match(line)
    if not m:
        return None
    label = line_key(m.group("label"))
    if label in lex.name_labels:
        return "name", m.group("rest").strip()
    if label in lex.role_labels:
        return "role", m.group("rest").strip()
    return None


def byline_list_line(line: str, lex: Lexicon | None = None) -> tuple[str, str | None] | None:
    """A line of a byline rendered as a list: ("name", author) for «- Author, X», ("role", None) for
    «- Role, …», None when the line is not one."""
    lex = lex or load_lexicon()
    if len(line) > 160:
        return None
    label = _byline_label(line, lex)
    if label is None or _holds_another_label(label[1], lex):
        return None  # the whole list on one line: its items are read one by one
    return (label[0], clean_author(label[1], lex)) if label[0] == "name" else ("role", None)


def _holds_another_label(rest: str, lex: Lexicon) -> bool:
    labels = lex.name_labels | lex.role_labels
    for chunk in re.split(r"[,،:：]", rest)[:-1]:
        words = line_key(chunk).split()
        if words and (words[-1] in labels or " ".join(words[-2:]) in labels):
            return True
    return False


def _one_author(text: str, lex: Lexicon, sitename: str | None) -> str | None:
    text = _PARENS.sub(" ", text)
    has_quoted = bool(_QUOTED.search(text))
    text = _QUOTED.sub(" - ", text)  # «الشرق الأوسط»: a medium, not a person
    text = re.sub(r"\S+@\S+|https?://\S+", " ", text)
    names, agency_seen = _name_parts(text, lex, sitename)
    return _choose_name(names, agency_seen or has_quoted, lex)


def _name_parts(text: str, lex: Lexicon, sitename: str | None) -> tuple[list[str], bool]:
    """The name-like parts of a byline, and whether an agency or the site itself was named in it."""
    site_key = line_key(sitename) if sitename else None
    parts = [p.strip(" .:-–—") for p in _NAME_SPLIT.split(text) if p and p.strip(" .:-–—")]
    names: list[str] = []
    agency_seen = False
    for part in parts:
        p = part.translate(_QUOTES).strip()
        if not line_key(p):
            continue
        pm = lex.byline_re.match(p)
        if pm and pm.group("rest").strip() and (pm.group("sep") or line_key(pm.group("prefix")) in lex.byline_loose):
            p = pm.group("rest").strip(" .:-–—")
        key = line_key(p)
        if _DATELINE_PLACE.match(p) or p.startswith("@") or key in lex.not_names or _is_reply_label(key):
            continue  # «من الرياض»: a dateline place; a handle; a label
        if _is_agency_list(key, lex) or (site_key and key == site_key):
            agency_seen = True
            continue
        name = _without_date(p, key)
        if name is None or len(line_key(name).split()) > 6:
            continue
        names.append(re.sub(r"\s+", " ", name))
    return names, agency_seen


def _is_reply_label(key: str) -> bool:
    """«الرد على سامية», «Reply to Sam»: a comment widget's button, not a byline."""
    words = key.split()
    return len(words) >= 2 and words[0] in ("رد", "الرد", "reply") and words[1] in ("على", "علي", "to")


def _without_date(part: str, key: str) -> str | None:
    """«أحمد علي 15 مارس 2024» → «أحمد علي»; None when digits remain (or only the date was there)."""
    if not re.search(r"\d", key):
        return part
    dm = find_date(part)
    if dm is None:
        return None
    normalised = normalize_arabic(part)
    rest = (normalised[: dm.start] + " " + normalised[dm.end :]).strip()
    rest_key = line_key(rest)
    if not rest_key or re.search(r"\d", rest_key):
        return None
    return rest


def _choose_name(names: list[str], agency_seen: bool, lex: Lexicon) -> str | None:
    if not names:
        return None
    multi = [n for n in names if len(n.split()) >= 2]
    if agency_seen and not multi:
        return None  # «الرياض - واس»: the one word left is a place
    if len(names) > 1:
        # «الرياض - عبدالرحمن العمري»: keep the longest name-like part
        chosen = max(multi or names, key=lambda n: len(n.split()))
    else:
        chosen = names[0]
    chosen = chosen.strip(" .:-–—")
    if not chosen or len(chosen) > 60 or line_key(chosen) in lex.exact or line_key(chosen) in lex.not_names:
        return None
    return chosen


def parse_byline(line: str, lex: Lexicon | None = None) -> str | None:
    """The author named by a byline line («كتب: محمد علي», «بقلم محمد علي», «حوار: آسيا العتروس»), or None."""
    if _is_default(lex):
        return _with_default_lexicon(_parse_byline, line)
    return _parse_byline(line, lex or load_lexicon())


def _parse_byline(line: str, lex: Lexicon) -> str | None:
    s = line.strip()
    if not s or len(s) > 120:
        return None
    m = lex.byline_re.match(s)
    if not m:
        return None
    prefix_key = line_key(m.group("prefix"))
    if not m.group("sep") and prefix_key not in lex.byline_loose:
        return None
    rest = m.group("rest").strip()
    if not rest or len(line_key(rest).split()) > 10:
        return None
    return clean_author(rest, lex)


# ------------------------------------------------------------------------------------------- text
@dataclass
class CleanedText:
    text: str
    credit: str | None = None
    bylines: list[str] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)  # (family, line)
    lead_bylines: list[str] = field(default_factory=list)  # bylines found before the body's second line


def _same_title(line: str, title: str | None, headline_keys: frozenset[str] = frozenset()) -> bool:
    """Whether `line` repeats the title, or one of the page's other headlines (keys of its <h1>, og:title)."""
    if headline_keys and line_key(line) in headline_keys:
        return True
    if not title:
        return False
    a, b = line_key(line), line_key(title)
    return bool(a) and (a == b or (len(a) > 20 and (b.startswith(a) or (a.startswith(b) and len(a) <= len(b) + 15))))


def _strip_title_prefix(line: str, title: str | None) -> str:
    """«<title> <body…>» glued on one line (layout tables): drop the title words."""
    if not title:
        return line
    a, b = line_key(line), line_key(title)
    if not b or len(b) < 15 or not a.startswith(b + " "):
        return line
    words = line.split()
    n = len(title.split())
    # skip leading punctuation-only tokens («|») then the title's words
    i = 0
    while i < len(words) and not line_key(words[i]):
        i += 1
    return " ".join(words[i + n :]).strip()


def _link_like(line: str) -> bool:
    """A headline-like short line (what sits under «اقرأ أيضا»): short and not a finished sentence."""
    s = line.strip()
    words = len(s.split())
    return words <= 22 and not s.endswith((".", "!", "…", ":")) or words <= 3


def clean_text(
    text: str,
    *,
    title: str | None = None,
    lex: Lexicon | None = None,
    timezone: str = "UTC",
    drop_dates: bool = True,
    headlines: tuple[str, ...] = (),
) -> CleanedText:
    """Remove boilerplate lines, bylines, date lines and a repeated title; split off the agency credit.

    `headlines`: the page's other headline texts (<h1>, og:title); the body's first line equal to one goes too.
    """
    lex = lex or load_lexicon()
    lines = [ln.strip() for ln in (text or "").replace("\r", "\n").split("\n")]
    headline_keys = frozenset(k for k in map(line_key, headlines) if k)
    out: list[str] = []
    result = CleanedText(text="")
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        i += 1
        if not line:
            continue
        fam = classify_line(line, lex)
        if fam == "block":
            result.removed.append((fam, line))
            while i < n and (not lines[i] or (_link_like(lines[i]) and classify_line(lines[i], lex) != "block")):
                if lines[i]:
                    result.removed.append(("block-item", lines[i]))
                i += 1
            continue
        if fam:
            result.removed.append((fam, line))
            continue
        if not out and _same_title(line, title, headline_keys):
            result.removed.append(("title", line))
            continue
        if not out:
            line = _strip_title_prefix(line, title)
        if len(line) <= 160 and _take_byline_line(line, lex, result, at_start=len(out) < 2):
            continue
        if drop_dates and len(line) <= 80 and re.search(r"\d", normalize_arabic(line)):
            dm = find_date(line, timezone=timezone)
            if dm is not None and date_coverage(line, dm) >= 0.6:
                result.removed.append(("date", line))
                continue
        out.append(line)
    body = "\n".join(out)
    body, credit = split_credit(body, lex)
    # a share tail may sit before the credit line; a second pass catches what the credit uncovered
    tail = body.rsplit("\n", 1)
    if len(tail) == 2 and classify_line(tail[1], lex):
        result.removed.append((classify_line(tail[1], lex) or "", tail[1]))
        body = tail[0]
    result.text = body.strip()
    result.credit = credit
    return result


def _take_byline_line(line: str, lex: Lexicon, result: CleanedText, *, at_start: bool) -> bool:
    """A byline line («كتب: …», «- Author, …», «- Role, …») goes from the text; its author is noted."""
    listed = byline_list_line(line, lex)
    author = listed[1] if listed else (parse_byline(line, lex) if len(line) <= 120 else None)
    if listed is None and author is None:
        return False
    result.removed.append(("byline", line))
    if author:
        result.bylines.append(author)
        if at_start:
            result.lead_bylines.append(author)
    return True


# ------------------------------------------------------------------------------------------- DOM
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "iframe", "object", "embed", "canvas",
                        "select", "option", "button", "input", "textarea", "head", "title", "meta", "link"})
_LEAF_BLOCKS = frozenset({"p", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "figcaption", "dt", "dd",
                          "caption", "label", "pre", "span", "a", "strong", "b", "em", "i", "small", "time"})
_SHORT = 200
_LIST_TAGS = frozenset({"ul", "ol", "dl", "select", "menu"})
_MAYBE_DATE = re.compile("[0-9\u0660-\u0669\u06f0-\u06f9]|منذ|قبل|أمس|امس|البارحة")
_HINT_ATTR = re.compile(r"author|byline|writer|writeby|written|kateb|katib|reporter|editor", re.I)
_DATE_HINT = re.compile(r"date|time|publish|posted|timestamp|dateline|tarikh", re.I)
_COMMENT_HINT = re.compile(r"comment|disqus|reply|respond|ta3lik|taalik", re.I)


@dataclass
class DateCandidate:
    order: int
    match: DateMatch
    hinted: bool  # the element's class / id / itemprop said «date»
    text: str


@dataclass(frozen=True, slots=True)
class BylineCandidate:
    order: int  # document position of the element
    author: str  # one name, or several joined «A; B»
    hinted: bool  # found by the element's class / id («author», «byline»), not by a «كتب:» prefix
    group: int  # the byline container it sits in: candidates of one container are one byline
    marked: bool = True  # the element itself says byline (prefix, label, class); False: only its container does


@dataclass
class TreeFindings:
    bylines: list[BylineCandidate] = field(default_factory=list)
    dates: list[DateCandidate] = field(default_factory=list)
    h1_order: int | None = None
    h1_text: str | None = None
    removed: int = 0

    def best_date(self) -> DateCandidate | None:
        """The visible date nearest below the headline (or just above it), else a date-classed element."""
        if not self.dates:
            return None
        if self.h1_order is not None:
            scored = []
            for c in self.dates:
                d = c.order - self.h1_order
                if 0 < d <= 60:
                    scored.append((d, c))
                elif -12 <= d <= 0:
                    scored.append((abs(d) * 3 + 1, c))
            if scored:
                return min(scored, key=lambda x: x[0])[1]
        hinted = [c for c in self.dates if c.hinted]
        if hinted:
            return hinted[0]
        if self.h1_order is None and len(self.dates) == 1:
            return self.dates[0]
        return None

    def best_byline(self, *, near_title_only: bool = False) -> str | None:
        """The byline nearest the headline («كتب:» bylines before class-hinted ones), with the other names of
        its byline container («A; B»). `near_title_only`: only a byline just above or below the headline."""
        pool = self.bylines
        h1_order = self.h1_order
        if near_title_only:
            if h1_order is None:
                return None
            pool = [b for b in pool if -NEAR_TITLE_BEFORE <= b.order - h1_order <= NEAR_TITLE_AFTER]
        if not pool:
            return None
        prefixed = [b for b in pool if not b.hinted]
        pool = prefixed or pool
        best = min(pool, key=lambda b: abs(b.order - h1_order)) if h1_order is not None else pool[0]
        names: dict[str, None] = {}
        group = [b for b in self.bylines if b.group == best.group]
        if any(b.marked for b in group):  # «<li class="byline__name">» beside an unmarked «<li>the desk</li>»
            group = [b for b in group if b.marked]
        for b in sorted(group, key=lambda b: b.order):
            names.update(dict.fromkeys(b.author.split("; ")))
        return "; ".join(names)


# a byline «near the title»: within this many elements after the <h1> (share bars, dates and pictures sit
# between them on real pages) or just before it (kicker, section label)
NEAR_TITLE_AFTER = 60
NEAR_TITLE_BEFORE = 12

_WS = re.compile(r"\s+")


def _text_of(el) -> str:
    return _WS.sub(" ", " ".join(el.itertext())).strip()


def _attrs(el) -> str:
    a = el.attrib
    return " ".join(filter(None, (a.get("class"), a.get("id"), a.get("itemprop"), a.get("rel"), a.get("property"))))


def _link_density(el, text_len: int | None = None) -> float:
    total = text_len if text_len is not None else len(_text_of(el))
    if not total:
        return 0.0
    links = sum(len(_text_of(a)) for a in el.iter("a"))
    return min(1.0, links / total)


def _drop(el) -> None:
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    if tail and tail.strip():
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


def _remove_block(el, heading_key: str, lex: Lexicon) -> int:
    """Remove a heading and the links / widgets under it; returns the number of elements removed."""
    removed = 0
    is_comment = "تعليق" in heading_key or "عليق" in heading_key
    node = el
    for _level in range(3):
        parent = node.getparent()
        if parent is None:
            break
        siblings = []
        sib = node.getnext()
        while sib is not None:
            if not isinstance(sib.tag, str):
                sib = sib.getnext()
                continue
            t = _text_of(sib)
            dens = _link_density(sib, len(t))
            has_form = sib.tag == "form" or sib.find(".//form") is not None or sib.find(".//textarea") is not None
            if (t and dens >= 0.5) or (is_comment and (has_form or _COMMENT_HINT.search(_attrs(sib)))) or (
                not t and sib.tag in ("ul", "ol", "div", "section")
            ) or (is_comment and len(t) <= 60):
                siblings.append(sib)
                sib = sib.getnext()
                continue
            break
        if siblings or node.getnext() is not None:
            for s in siblings:
                _drop(s)
                removed += 1
            break
        # the heading is alone in its wrapper: look at the wrapper's siblings
        if len(_text_of(parent)) > len(_text_of(node)) + 5:
            break
        node = parent
    # the container itself, when it is now only the heading (plus links)
    container = node.getparent()
    _drop(node)
    removed += 1
    if container is not None and container.getparent() is not None:
        t = _text_of(container)
        if (t and len(t) <= 1500 and _link_density(container, len(t)) >= 0.6
                and container.tag not in ("body", "article", "main")):
            _drop(container)
            removed += 1
    return removed


_LAYOUT_CELL_CHILDREN = frozenset({"div", "table", "h1", "h2", "ul", "form", "article", "section"})
_TABLE_TAGS = frozenset({"table", "tbody", "thead", "tfoot", "tr", "td", "th"})


def _unwrap_layout_tables(body) -> None:
    """Tables used for page layout (cells holding divs, headings, lists or several paragraphs) become divs,
    so that trafilatura reads their text as paragraphs rather than as «| … |» table rows."""
    for table in list(body.iter("table")):
        layout = False
        for cell in table.iter("td", "th"):
            kids = [c.tag for c in cell if isinstance(c.tag, str)]
            if any(k in _LAYOUT_CELL_CHILDREN for k in kids) or kids.count("p") >= 2:
                layout = True
                break
        if layout:
            for el in table.iter(*_TABLE_TAGS):
                el.tag = "div"


def preclean_tree(
    root,
    lex: Lexicon | None = None,
    *,
    timezone: str = "UTC",
    fetched_at: datetime | None = None,
) -> TreeFindings:
    """Walk the DOM once: drop Arabic boilerplate blocks, promo boxes and picture captions, take out bylines and
    dates (as evidence)."""
    body = root.find(".//body") if root.tag != "body" else root
    if body is None:
        body = root
    lex = lex or load_lexicon()
    walk = _TreeWalk(lex, timezone=timezone, fetched_at=fetched_at)
    _unwrap_layout_tables(body)
    removed = _drop_skipped_regions(body, lex) + _drop_captions(body)
    walk.visit(body)
    findings = walk.remove_found()
    findings.removed += removed
    return findings


_BOX_TAGS = frozenset({"aside", "section", "div", "figure", "ul", "ol"})  # what a promo box is made of
_SKIP_LINK = re.compile(r"^(?:تخطى|تخطي|تجاوز|skip)\b", re.IGNORECASE)
_CONTAINERS = frozenset({"body", "main", "article", "html"})


def _drop_skipped_regions(body, lex: Lexicon) -> int:
    """A «skip … and continue reading» link jumps over an inline promo (a podcast, a video series): the smallest
    element holding both the link and its target is that promo box; it goes when it is box-sized."""
    removed = 0
    for link in body.xpath(".//a[starts-with(@href, '#')]"):
        href = link.get("href") or ""
        if len(href) < 2 or not _SKIP_LINK.match(_text_of(link)):
            continue
        targets = body.xpath(".//*[@id=$id]", id=href[1:])
        if not targets or link.getparent() is None:
            continue
        box = link.getparent()
        while box is not None and box.tag not in _CONTAINERS and not any(t in box.iter() for t in targets[:1]):
            box = box.getparent()
        if box is None or box.tag in _CONTAINERS or box.find(".//h1") is not None:
            continue
        if len(_text_of(box)) <= lex.promo_max_chars:
            _drop(box)
            removed += 1
    return removed


_CAPTION_HINT = re.compile(r"caption|photo|image|img|pic|media|figure|thumb|gallery|credit", re.IGNORECASE)
_CAPTION_MAX_CHARS = 300


def _drop_captions(body) -> int:
    """Captions and picture credits inside an article's picture containers: a <figure>, or a small element
    holding an <img> and a short text, with a class that says picture / caption."""
    removed = 0
    for img in list(body.iter("img", "picture")):
        box = _picture_box(img)
        if box is not None and box.getparent() is not None:
            _drop(box)
            removed += 1
    return removed


def _picture_box(img):
    """The element around a picture whose only text is its caption, or None."""
    node = img.getparent()
    for _level in range(3):
        if node is None or node.tag in _CONTAINERS:
            return None
        if _text_of(node):
            break
        node = node.getparent()
    else:
        return None
    if node is None or node.tag in _CONTAINERS or node.tag == "section":
        return None
    text = _text_of(node)
    if len(text) > _CAPTION_MAX_CHARS or node.find(".//h1") is not None or len(node.findall(".//p")) > 2:
        return None
    if node.tag == "figure":
        return node
    if node.tag == "p" and node.find("br") is None:
        return None  # a picture inside a paragraph's running text
    hints = " ".join(_attrs(x) for x in node.iter() if isinstance(x.tag, str))
    return node if _CAPTION_HINT.search(hints) else None


class _TreeWalk:
    """One pass over a page's elements in document order, noting what to remove and the evidence found."""

    def __init__(self, lex: Lexicon, *, timezone: str, fetched_at: datetime | None) -> None:
        self.lex = lex
        self.timezone = timezone
        self.fetched_at = fetched_at
        self.findings = TreeFindings()
        self.to_drop: list[Any] = []  # boilerplate lines, bylines, date lines and promo boxes
        self.blocks: list[tuple[Any, str]] = []  # block headings (element, line key): removed with what follows
        self.order = 0  # document position of the element being looked at
        self.in_comments = 0  # depth inside comment widgets: their names and dates are not the article's
        self.byline_boxes: list[int] = []  # ids of the byline containers around the element

    def visit(self, el) -> None:
        for child in el:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            self.order += 1
            if tag in _SKIP_TAGS or tag == "nav":
                continue
            if tag == "h1":
                self._note_h1(child)
                continue
            size = len(child.text_content())  # C-level; the spaced text is built only for short elements
            if not size:
                continue
            if self._is_promo(child, size):
                self.to_drop.append(child)
                continue
            if size <= _SHORT * 2:
                t = _text_of(child)
                if not t:
                    continue
                if len(t) <= _SHORT and self.analyse(child, tag, t):
                    continue
            if tag in _LIST_TAGS and size > _SHORT:
                continue  # long link lists: menus, most-read, footers (trafilatura drops them)
            if tag in _LEAF_BLOCKS and len(child) == 0:
                continue
            self._visit_inside(child)

    def _visit_inside(self, el) -> None:
        """Visit the children, knowing whether they sit in a comment widget or a byline container."""
        attrs = _attrs(el)
        comments = bool(attrs and _COMMENT_HINT.search(attrs))
        byline_box = bool(attrs and _HINT_ATTR.search(attrs) and not _DATE_HINT.search(attrs))
        self.in_comments += comments
        if byline_box:
            self.byline_boxes.append(id(el))
        self.visit(el)
        self.in_comments -= comments
        if byline_box:
            self.byline_boxes.pop()

    def _is_promo(self, el, size: int) -> bool:
        if size > self.lex.promo_max_chars or el.tag not in _BOX_TAGS:
            return False
        words = " ".join(filter(None, (_attrs(el), el.get("aria-labelledby"))))
        return bool(words and self.lex.promo_attr.search(words)) and el.find(".//h1") is None

    def _note_h1(self, el) -> None:
        findings = self.findings
        t = _text_of(el)
        if findings.h1_order is None or (findings.h1_text and len(findings.h1_text) < 15 <= len(t)):
            findings.h1_order, findings.h1_text = self.order, t

    def analyse(self, el, tag: str, t: str) -> bool:
        """True when the element was consumed (boilerplate, byline or date)."""
        fam = classify_line(t, self.lex)
        if (fam and fam != "share" and _MAYBE_DATE.search(t)
                and find_date(t, timezone=self.timezone, fetched_at=self.fetched_at) is not None):
            fam = None  # «نشر في: 15 مارس 2024», «آخر تحديث 10:30»: a date line, not boilerplate
        if fam == "block":
            self.blocks.append((el, line_key(t)))
            return True
        if fam:
            self.to_drop.append(el)
            return True
        if el.find(".//h1") is not None or self.in_comments or _COMMENT_HINT.search(_attrs(el)):
            return False  # a comment's author and date are not the article's
        return self._take_evidence(el, tag, t)

    def _take_evidence(self, el, tag: str, t: str) -> bool:
        """Take a byline and / or a date out of a short element; True when it was consumed."""
        listed = byline_list_line(t, self.lex)  # «Author, …» / «Role, …» items of a byline list
        author = listed[1] if listed else parse_byline(t, self.lex)
        texty_children = sum(1 for c in el if isinstance(c.tag, str) and c.text_content().strip())
        if listed is None and author is None and texty_children >= 2:
            return False  # analyse the parts one by one
        consumed = listed is not None
        attrs = " ".join(_attrs(x) for x in el.iter() if isinstance(x.tag, str))
        date_hinted = bool(_DATE_HINT.search(attrs)) or tag == "time"
        in_box = bool(self.byline_boxes)
        group = self.byline_boxes[-1] if in_box else id(el)
        marked = bool(_HINT_ATTR.search(attrs))
        bylike = (marked or in_box) and not _DATE_HINT.search(_attrs(el))
        if listed is None and author is None and len(t) <= 80 and bylike:
            author = clean_author(t, self.lex, loose_prefix=True)
            if author:
                self.findings.bylines.append(BylineCandidate(self.order, author, True, group, marked))
                consumed = True
        elif author:
            self.findings.bylines.append(BylineCandidate(self.order, author, listed is not None, group))
            consumed = True
        if len(t) <= 120 and _MAYBE_DATE.search(t):
            dm = find_date(t, timezone=self.timezone, fetched_at=self.fetched_at)
            if dm is not None and (consumed or date_hinted or date_coverage(t, dm) >= 0.5):
                self.findings.dates.append(DateCandidate(self.order, dm, date_hinted, t))
                consumed = True
        if consumed:
            self.to_drop.append(el)
        return consumed

    def remove_found(self) -> TreeFindings:
        """Remove the blocks and elements noted during the walk; returns the findings."""
        findings = self.findings
        for el, key in self.blocks:
            if el.getparent() is not None:
                findings.removed += _remove_block(el, key, self.lex)
        for el in self.to_drop:
            if el.getparent() is not None:
                _drop(el)
                findings.removed += 1
        return findings
