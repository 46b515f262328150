"""Turn a batch of fetched pages into warehouse-ready articles: extract, tag entities, hash.

Plain Python, no Prefect: the flow runs this on batches, in threads or processes.
"""

from __future__ import annotations

import hashlib
import re
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from extractors.arabic import normalize_arabic
from extractors.dedup import minhash
from extractors.discover.urls import article_id, canonical_from_html
from extractors.records import ExtractedArticle, FetchedPage, FetchLogRow, ProcessedArticle, RawPage

_SPACES = re.compile(r"\s+")


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
    ))
    return rows


@dataclass(slots=True)
class ProcessedBatch:
    articles: list[ProcessedArticle] = field(default_factory=list)
    fetch_rows: list[FetchLogRow] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)
    fetched: int = 0  # pages that came back with a body
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
        if not page.ok:
            out.fetch_rows.extend(fetch_log_rows(page))
            out.failures.append((page.url, page.error or "no body"))
            continue
        out.fetched += 1
        art_or_reason = _extract_page(page, timezones.get(page.source, "UTC"))
        if isinstance(art_or_reason, str):
            out.fetch_rows.extend(fetch_log_rows(page, error=art_or_reason))
            out.failures.append((page.url, art_or_reason))
            continue
        out.fetch_rows.extend(fetch_log_rows(page))
        extracted.append((page, art_or_reason))
    return extracted


def _extract_page(page: FetchedPage, timezone: str) -> ExtractedArticle | str:
    """The page's article, or why it has none."""
    from extractors.extract.article import ExtractionError, extract_article

    try:
        art = extract_article(
            page.body or b"", page.final_url or page.url, fetched_at=page.fetched_at,
            hint_published_at=page.hint_published_at, timezone=timezone, encoding=page.encoding,
        )
    except ExtractionError as exc:
        return f"not an article: {getattr(exc, 'reason', None) or exc}"
    except Exception as exc:
        return f"extraction failed: {type(exc).__name__}: {exc}"[:500]
    # The article's identity: its declared <link rel=canonical> (same site only), else where redirects led.
    art.url = canonical_from_html(page.body or b"", page.final_url or page.url) or page.final_url or page.url
    return art


def _tag_articles(extracted: list[tuple[FetchedPage, ExtractedArticle]], backend_name: str, archive: bool,
                  out: ProcessedBatch) -> None:
    """Find the entities of the Arabic articles (the backend is loaded only when one needs it); add each
    article to the batch with its ids and hashes."""
    from extractors.entities.mentions import find_mentions, get_backend, is_arabic

    backend = None
    for page, art in extracted:
        mentions = None
        used = None
        if is_arabic(art.text):
            backend = backend or get_backend(backend_name)
            mentions = find_mentions(art.text, backend)
            used = backend.name
        url = art.url
        out.articles.append(ProcessedArticle(
            article_id=article_id(url), url=url, source=page.source, article=art,
            fetched_url=page.url if url != page.url else None,
            content_hash=content_hash(art.text), fetched_at=page.fetched_at, final_url=page.final_url,
            mentions=mentions, backend=used, minhash=minhash(art.text),
            raw=raw_page(page) if archive else None,
        ))
