"""Plain value types passed between the pipeline stages.

Every stage takes and returns these; none of them knows about Prefect or DuckDB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class DiscoveredURL:
    """An article URL found in a feed, a sitemap, or given by hand."""

    url: str  # canonical form (see extractors.discover.urls.canonical_url)
    source: str
    published_at: datetime | None = None  # the feed's or sitemap's date, timezone-aware
    title: str | None = None
    found_in: str | None = None  # the feed or sitemap URL


@dataclass(frozen=True, slots=True)
class FetchAttempt:
    """One HTTP attempt that did not produce the final answer (e.g. a 503 that was retried); its row in the
    fetches log has final = false."""

    url: str
    status: int | None
    error: str
    fetched_at: datetime
    elapsed_ms: float | None = None


@dataclass(slots=True)
class FetchedPage:
    """The outcome of fetching one URL (one row of the `fetches` log, plus the body when it succeeded)."""

    url: str  # canonical URL that was asked for
    source: str
    fetched_at: datetime
    status: int | None = None  # HTTP status of the last response, None when there was no response
    error: str | None = None  # None when the page is usable
    final_url: str | None = None  # after redirects
    content_type: str | None = None
    body: bytes | None = None  # raw bytes, only when error is None
    encoding: str | None = None  # charset declared by the HTTP header, if any
    elapsed_ms: float | None = None
    hint_published_at: datetime | None = None  # date from the feed or sitemap
    earlier_attempts: list[FetchAttempt] = field(default_factory=list)  # retried attempts, oldest first
    not_modified: bool = False  # a 304 answer to a conditional request: fine (error None) but no body
    etag: str | None = None  # the response's ETag header (for conditional GET next time)
    last_modified: str | None = None  # the response's Last-Modified header

    @property
    def ok(self) -> bool:
        return self.error is None and self.body is not None


@dataclass(slots=True)
class ExtractedArticle:
    """Clean body and metadata of one article page."""

    url: str
    title: str | None
    author: str | None
    published_at: datetime | None  # timezone-aware, or None when there is no evidence
    language: str | None
    text: str
    credit: str | None = None  # agency credits such as «(وكالات)», kept out of the body
    description: str | None = None
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    image: str | None = None
    modified_at: datetime | None = None
    published_evidence: str | None = None  # where published_at came from: jsonld, meta, feed, text, ...


@dataclass(frozen=True, slots=True)
class Mention:
    """One entity mention; start/end are Python string indices into the article text (end exclusive)."""

    entity_type: str  # PERS, LOC, ORG, MISC
    text: str  # as written
    canonical: str  # normalised form used for grouping
    start: int
    end: int


@dataclass(slots=True)
class ProcessedArticle:
    """An article ready for the warehouse: extraction output plus ids, provenance and entity mentions."""

    article_id: str
    url: str  # canonical
    source: str
    article: ExtractedArticle
    content_hash: str
    fetched_at: datetime
    final_url: str | None
    mentions: list[Mention] | None  # None: not tagged (not Arabic)
    backend: str | None
    minhash: bytes = b""  # MinHash signature of the text (extractors.dedup)
    raw: RawPage | None = None  # the fetched HTML, for the raw archive
    story_id: str | None = None  # set by the warehouse when it clusters near duplicates
    fetched_url: str | None = None  # the URL it was discovered under, when its rel=canonical link differs


@dataclass(frozen=True, slots=True)
class RawPage:
    """A fetched page as archived: zlib-compressed bytes plus what is needed to process it again."""

    url: str
    source: str
    fetched_at: datetime
    html_zlib: bytes
    final_url: str | None = None
    status: int | None = None
    content_type: str | None = None
    encoding: str | None = None
    hint_published_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FetchLogRow:
    """One row of the `fetches` log."""

    url: str
    source: str | None
    kind: str
    status: int | None
    error: str | None
    fetched_at: datetime
    elapsed_ms: float | None = None
    final_url: str | None = None
    content_type: str | None = None
    bytes: int | None = None
    final: bool = True  # False for an attempt that was retried (a later row of the same fetch follows)
    replaced_bytes: int | None = None  # bytes of an article page decoded as U+FFFD (extractors.extract.charset)
    cut: str | None = None  # what of the page was not processed (extractors.batch bounds the work per page)
