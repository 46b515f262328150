"""Turn a batch of fetched pages into warehouse-ready articles: extract, tag entities, hash.

Plain Python, no Prefect: the flow runs this on batches, in threads or processes.
"""

from __future__ import annotations

import hashlib
import re
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from itertools import islice

from extractors.arabic import clean_text, normalize_arabic
from extractors.dedup import minhash
from extractors.discover.urls import article_id, canonical_from_html
from extractors.entities.base import NERBackend
from extractors.fetch.claims import CLAIMED_ELSEWHERE
from extractors.records import ExtractedArticle, FetchedPage, FetchLogRow, Mention, ProcessedArticle, RawPage

_SPACES = re.compile(r"\s+")

# The work one page may cost (issue 18: any page under the 10 MB response cap in < 10 s and < 300 MB; measured by
# benchmarks/big_page.py). A long news article is ~50 KB of HTML, ~2,000 elements, ~20,000 characters of text.
MAX_EXTRACT_BYTES = 2 * 2**20  # HTML bytes extraction reads
MAX_EXTRACT_TAGS = 15_000  # start tags extraction reads
MAX_TAG_CHARS = 100_000  # characters of the text tagged and MinHashed (the whole text is stored and hashed)
MAX_LINE_CHARS = 5_000  # longer lines are tagged in pieces cut at spaces
_START_TAG = re.compile(rb"<[A-Za-z]")
_LIMIT_NAMES = {"bytes": f"{MAX_EXTRACT_BYTES} bytes", "elements": f"{MAX_EXTRACT_TAGS} elements"}


def content_hash(text: str) -> str:
    """SHA-256 of the normalised text: the same story with other diacritics or spacing hashes the same."""
    return hashlib.sha256(_SPACES.sub(" ", normalize_arabic(text)).strip().encode("utf-8")).hexdigest()


def raw_page(page: FetchedPage) -> RawPage:
    return RawPage(url=page.url, source=page.source, fetched_at=page.fetched_at,
                   html_zlib=zlib.compress(page.body or b"", 6), final_url=page.final_url, status=page.status,
                   content_type=page.content_type, encoding=page.encoding,
                   hint_published_at=page.hint_published_at)


def page_from_raw(raw: RawPage) -> FetchedPage:
    """The FetchedPage an archived page came from, ready for process_pages again."""
    return FetchedPage(url=raw.url, source=raw.source, fetched_at=raw.fetched_at, status=raw.status,
                       final_url=raw.final_url, content_type=raw.content_type, encoding=raw.encoding,
                       body=zlib.decompress(raw.html_zlib), hint_published_at=raw.hint_published_at)


def replaced_bytes(page: FetchedPage) -> int | None:
    """Bytes of the page's body that decode as U+FFFD (as extraction decodes it); None without a body."""
    from extractors.extract.charset import decode_html_counted

    if page.body is None:
        return None
    return decode_html_counted(page.body, page.encoding).replaced_bytes


def fetch_log_rows(page: FetchedPage, kind: str = "article", error: str | None = None) -> list[FetchLogRow]:
    """Rows of the fetches log for one page: each retried attempt (final=False), then the final one."""
    rows = [
        FetchLogRow(url=a.url, source=page.source, kind=kind, status=a.status, error=a.error,
                    fetched_at=a.fetched_at, elapsed_ms=a.elapsed_ms, final=False)
        for a in page.earlier_attempts
    ]
    rows.append(FetchLogRow(
        url=page.url, source=page.source, kind=kind, status=page.status, error=error or page.error,
        fetched_at=page.fetched_at, elapsed_ms=page.elapsed_ms, final_url=page.final_url,
        content_type=page.content_type, bytes=len(page.body) if page.body is not None else None,
        replaced_bytes=replaced_bytes(page) if kind == "article" else None,
    ))
    return rows


@dataclass(slots=True)
class ProcessedBatch:
    articles: list[ProcessedArticle] = field(default_factory=list)
    fetch_rows: list[FetchLogRow] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)
    fetched: int = 0  # pages that came back with a body
    skipped: int = 0  # pages another run was fetching: that run stores them, this one neither fetched nor failed
    seconds_extract: float = 0.0
    seconds_entities: float = 0.0


def process_pages(
    pages: Sequence[FetchedPage],
    *,
    backend_name: str = "auto",
    timezones: dict[str, str] | None = None,
    archive: bool = True,
    log_fetches: bool = True,
) -> ProcessedBatch:
    """Extract and tag every usable page; failed fetches and non-articles become logged failures.

    `archive`: keep each page's compressed HTML for the raw archive. `log_fetches`: produce fetch-log rows
    (off when re-processing archived pages, which were logged when they were fetched).
    """
    out = ProcessedBatch()
    t0 = time.perf_counter()
    extracted = _extract_pages(pages, timezones or {}, out)
    t1 = time.perf_counter()
    _tag_articles(extracted, backend_name, archive, out)
    if not log_fetches:
        out.fetch_rows = []
    out.seconds_extract = t1 - t0
    out.seconds_entities = time.perf_counter() - t1
    return out


def _extract_pages(pages: Sequence[FetchedPage], timezones: dict[str, str],
                   out: ProcessedBatch) -> list[tuple[FetchedPage, ExtractedArticle]]:
    """The articles of the usable pages; every page gets its fetch-log rows, and failures a reason."""
    extracted = []
    for page in pages:
        if page.error is not None and page.error.startswith(CLAIMED_ELSEWHERE):
            out.skipped += 1
            continue
        if not page.ok:
            out.fetch_rows.extend(fetch_log_rows(page))
            out.failures.append((page.url, page.error or "no body"))
            continue
        out.fetched += 1
        body, cut = bounded_html(page.body or b"")
        art_or_reason = _extract_page(page, body, timezones.get(page.source, "UTC"))
        if isinstance(art_or_reason, str):
            out.fetch_rows.extend(fetch_log_rows(page, error=art_or_reason))
            out.failures.append((page.url, art_or_reason))
        else:
            out.fetch_rows.extend(fetch_log_rows(page))
            extracted.append((page, art_or_reason))
        if cut:
            _note_cut(out, page, cut)
    return extracted


def bounded_html(body: bytes) -> tuple[bytes, str | None]:
    """The part of a page's HTML extraction reads, and what was cut (None: nothing). Extraction time grows
    with the HTML's size and, in trafilatura, quadratically with the elements of one container (7.6 MB of one-word
    <span>s in one <p> took minutes); benchmarks/big_page.py measures the bounds."""
    end = min(len(body), MAX_EXTRACT_BYTES)
    tags = list(islice(_START_TAG.finditer(body, 0, end), MAX_EXTRACT_TAGS, MAX_EXTRACT_TAGS + 1))
    if tags:
        end = tags[0].start()
    if end >= len(body):
        return body, None
    while end > 0 and body[end] & 0xC0 == 0x80:  # not inside a UTF-8 sequence
        end -= 1
    why = "elements" if tags else "bytes"
    return body[:end], f"html: first {end} of {len(body)} bytes extracted (limit of {_LIMIT_NAMES[why]})"


def _extract_page(page: FetchedPage, body: bytes, timezone: str) -> ExtractedArticle | str:
    """The article of the page (whose HTML is `body`), or why it has none."""
    from extractors.extract.article import ExtractionError, extract_article

    try:
        art = extract_article(
            body, page.final_url or page.url, fetched_at=page.fetched_at,
            hint_published_at=page.hint_published_at, timezone=timezone, encoding=page.encoding,
        )
    except ExtractionError as exc:
        return clean_text(f"not an article: {getattr(exc, 'reason', None) or exc}")
    except Exception as exc:
        return clean_text(f"extraction failed: {type(exc).__name__}: {exc}"[:500])
    # The article's identity: its declared <link rel=canonical> (same site only), else where redirects led.
    art.url = canonical_from_html(body, page.final_url or page.url) or page.final_url or page.url
    clean_strings(art)
    return art


def clean_strings(art: ExtractedArticle) -> None:
    """Every string of the article (and of its lists) without code points that cannot be stored
    (extractors.arabic.clean_text), before anything is computed from it: the mentions' offsets hold."""
    for f in fields(art):
        value = getattr(art, f.name)
        if isinstance(value, str):
            setattr(art, f.name, clean_text(value))
        elif isinstance(value, list):
            setattr(art, f.name, [clean_text(v) if isinstance(v, str) else v for v in value])


def _tag_articles(extracted: list[tuple[FetchedPage, ExtractedArticle]], backend_name: str, archive: bool,
                  out: ProcessedBatch) -> None:
    """Find the entities of the Arabic articles (the backend is loaded only when one needs it); add each
    article to the batch with its ids and hashes."""
    from extractors.entities.mentions import find_mentions, get_backend, is_arabic

    backend = None
    for page, art in extracted:
        if is_arabic(art.text):
            backend = backend or get_backend(backend_name)
        try:
            processed, cut = _processed(page, art, backend if is_arabic(art.text) else None, archive, find_mentions)
            out.articles.append(processed)
            if cut:
                _note_cut(out, page, cut)
        except Exception as exc:  # one page that cannot be processed is logged; the run goes on
            _fail_page(out, page, f"processing failed: {type(exc).__name__}: {exc}")


def _processed(page: FetchedPage, art: ExtractedArticle, backend: NERBackend | None, archive: bool,
               find_mentions: Callable[..., list[Mention]]) -> tuple[ProcessedArticle, str | None]:
    """The page's article with its mentions (when a backend is given), ids and hashes, and what of its text
    was not tagged and hashed (None: nothing)."""
    url = art.url
    looked_at = art.text[:MAX_TAG_CHARS]
    mentions, split = _bounded_mentions(looked_at, backend, find_mentions) if backend else (None, False)
    notes = [f"text: first {MAX_TAG_CHARS} of {len(art.text)} characters tagged and hashed"] \
        if len(looked_at) < len(art.text) else []
    if split:
        notes.append(f"lines over {MAX_LINE_CHARS} characters tagged in pieces")
    return ProcessedArticle(
        article_id=article_id(url), url=url, source=page.source, article=art,
        fetched_url=page.url if url != page.url else None,
        content_hash=content_hash(art.text), fetched_at=page.fetched_at, final_url=page.final_url,
        mentions=mentions, backend=backend.name if backend else None,
        minhash=minhash(looked_at), raw=raw_page(page) if archive else None,
    ), "; ".join(notes) or None


def _bounded_mentions(text: str, backend: NERBackend, find_mentions: Callable[..., list[Mention]],
                      ) -> tuple[list[Mention], bool]:
    """The text's mentions, a line longer than MAX_LINE_CHARS tagged in pieces cut at spaces (the taggers hold
    a sentence's tokens and features at once: one 9.5 MB line took gigabytes); True when a line was cut."""
    if all(len(line) <= MAX_LINE_CHARS for line in text.split("\n")):
        return find_mentions(text, backend), False
    from extractors.entities.mentions import link_short_names

    found: list[Mention] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + MAX_LINE_CHARS)
        newline = text.find("\n", start, end)
        if newline >= 0:
            end = newline + 1
        elif end < len(text):
            space = text.rfind(" ", start + MAX_LINE_CHARS // 2, end)
            end = space + 1 if space > 0 else end
        piece = find_mentions(text[start:end], backend, link=False)
        found.extend(replace(m, start=m.start + start, end=m.end + start) for m in piece)
        start = end
    return link_short_names(found), True  # linked once over the whole text, as in one call


def _note_cut(out: ProcessedBatch, page: FetchedPage, cut: str) -> None:
    """Record on the page's final fetch-log row what of it was not processed."""
    for i in range(len(out.fetch_rows) - 1, -1, -1):
        row = out.fetch_rows[i]
        if row.url == page.url and row.final:
            out.fetch_rows[i] = replace(row, cut="; ".join(filter(None, (row.cut, cut))))
            return


def _fail_page(out: ProcessedBatch, page: FetchedPage, reason: str) -> None:
    """Record why the page was not stored on its final fetch-log row (logged as fine after extraction)."""
    reason = clean_text(reason)[:500]
    out.failures.append((page.url, reason))
    for i in range(len(out.fetch_rows) - 1, -1, -1):
        if out.fetch_rows[i].url == page.url and out.fetch_rows[i].final:
            out.fetch_rows[i] = replace(out.fetch_rows[i], error=reason)
            return
