"""Discover article URLs from RSS/Atom feeds, sitemaps, sitemap indexes, Google News sitemaps and robots.txt.

Parsing functions are pure (bytes in, values out); `discover_source` fetches through a Fetcher.
"""

from __future__ import annotations

import asyncio
import calendar
import io
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import feedparser
from lxml import etree

from extractors.config import Source
from extractors.discover.feed_state import FeedState, body_sha256, conditional_headers, new_state, state_key
from extractors.discover.urls import BadURL, canonical_url
from extractors.fetch.fetcher import Fetcher
from extractors.records import DiscoveredURL, FetchedPage

MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the sitemaps.org limit, uncompressed
MAX_CHILD_SITEMAPS = 8  # newest children of a sitemap index followed per run
MAX_BACKFILL_CHILDREN = 500  # children of a sitemap index followed by a backfill (`since`)
MAX_SITEMAP_DEPTH = 2


class DiscoveryError(ValueError):
    """A feed or sitemap that cannot be parsed."""


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    published_at: datetime | None = None
    title: str | None = None


@dataclass(slots=True)
class SitemapContent:
    urls: list[Link] = field(default_factory=list)
    sitemaps: list[Link] = field(default_factory=list)  # children of a sitemap index


@dataclass(slots=True)
class DocumentStats:
    """What one feed or sitemap held when it was read (for `akhbar sources check` and the logs)."""

    kind: str  # feed, sitemap or sitemap-index
    items: int = 0  # article links (for an index: the child sitemaps it lists)
    newest: datetime | None = None  # the newest date among them


@dataclass(slots=True)
class DiscoveryResult:
    source: str
    urls: list[DiscoveredURL] = field(default_factory=list)
    fetches: list[FetchedPage] = field(default_factory=list)  # feed, sitemap requests (for the fetch log)
    errors: list[str] = field(default_factory=list)
    feed_states: dict[str, FeedState] = field(default_factory=dict)  # new conditional-GET state per feed URL
    unchanged: list[str] = field(default_factory=list)  # feeds and sitemaps unchanged since last time
    documents: dict[str, DocumentStats] = field(default_factory=dict)  # each feed and sitemap read, by canonical URL
    before_since: int = 0  # links left out by `since`: dated before it
    undated: int = 0  # links left out by `since`: no date to compare


_XML_ENCODINGS = ("ascii", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
_ENTITY_DECL = re.compile(b"|".join(re.escape("<!ENTITY".encode(enc)) for enc in _XML_ENCODINGS), re.IGNORECASE)


def _refuse_entities(body: bytes) -> None:
    """Refuse documents that declare entities (in UTF-8 or UTF-16/32). Defence in depth: the parsers are also
    configured never to resolve external entities nor expand internal ones."""
    if _ENTITY_DECL.search(body):
        raise DiscoveryError("XML declares entities; refused (external entities and entity expansion are not resolved)")


def parse_date(value: str | None, tz: str = "UTC") -> datetime | None:
    """W3C/ISO datetime or date from a sitemap; a date alone is midnight in `tz`."""
    if not value:
        return None
    value = value.strip()
    try:
        if len(value) == 10:
            d = datetime.fromisoformat(value).date()
            return datetime.combine(d, time(0), ZoneInfo(tz)).astimezone(UTC)
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=ZoneInfo(tz))
    return dt.astimezone(UTC)


def parse_feed(body: bytes, feed_url: str) -> list[Link]:
    """Entries of an RSS 0.9x/1.0/2.0 or Atom feed, in feed order."""
    _refuse_entities(body)
    parsed = feedparser.parse(io.BytesIO(body), response_headers={"content-location": feed_url})
    if not parsed.entries and not parsed.get("version"):
        raise DiscoveryError("not a feed: no RSS or Atom root element")
    links: list[Link] = []
    for entry in parsed.entries:
        href = entry.get("link") or next(
            (link.get("href") for link in entry.get("links", []) if link.get("rel") in (None, "alternate")), None)
        if not href:
            continue
        when = entry.get("published_parsed") or entry.get("updated_parsed")
        published = datetime.fromtimestamp(calendar.timegm(when), UTC) if when else None
        links.append(Link(url=href, published_at=published, title=(entry.get("title") or None)))
    if not links and parsed.get("bozo"):  # broken, and nothing could be salvaged from it
        raise DiscoveryError(f"not a readable feed: {parsed.get('bozo_exception')}")
    return links


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _maybe_gunzip(body: bytes) -> bytes:
    if body[:2] != b"\x1f\x8b":
        return body
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = d.decompress(body, MAX_SITEMAP_BYTES + 1)
    if len(out) > MAX_SITEMAP_BYTES or d.unconsumed_tail:
        raise DiscoveryError(f"gzipped sitemap expands beyond {MAX_SITEMAP_BYTES} bytes; refused")
    return out


def parse_sitemap(body: bytes, tz: str = "UTC") -> SitemapContent:
    """URLs (with news:publication_date or lastmod) of a sitemap, or the children of a sitemap index."""
    body = _maybe_gunzip(body)
    _refuse_entities(body)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False,
                             load_dtd=False)
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise DiscoveryError(f"not a readable sitemap: {exc}") from None
    out = SitemapContent()
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise DiscoveryError(f"not a sitemap: root element <{kind}>")
    for item in root:
        name = _local(item.tag)
        if name not in ("url", "sitemap"):
            continue
        loc = lastmod = news_date = title = None
        for child in item.iter():
            cname = _local(child.tag)
            text = (child.text or "").strip()
            if cname == "loc" and loc is None:
                loc = text
            elif cname == "lastmod":
                lastmod = text
            elif cname == "publication_date":
                news_date = text
            elif cname == "title" and child is not item:
                title = text or None
        if not loc:
            continue
        link = Link(url=loc, published_at=parse_date(news_date or lastmod, tz), title=title)
        (out.sitemaps if name == "sitemap" else out.urls).append(link)
    return out


def newest_first(urls: list[DiscoveredURL]) -> list[DiscoveredURL]:
    """Dated URLs newest first, then undated ones in discovery order."""
    floor = datetime.min.replace(tzinfo=UTC)
    indexed = list(enumerate(urls))
    indexed.sort(key=lambda p: (p[1].published_at is None, -(p[1].published_at or floor).timestamp(), p[0]))
    return [u for _, u in indexed]


def document_stats(kind: str, links: list[Link]) -> DocumentStats:
    return DocumentStats(kind=kind, items=len(links),
                         newest=max((link.published_at for link in links if link.published_at), default=None))


def merge_links(source: str, found: list[tuple[str, Link]]) -> list[DiscoveredURL]:
    """Canonicalise and deduplicate; when a URL is found twice keep the first date and title seen."""
    merged: dict[str, DiscoveredURL] = {}
    for where, link in found:
        try:
            url = canonical_url(link.url)
        except BadURL:
            continue
        prev = merged.get(url)
        if prev is None:
            merged[url] = DiscoveredURL(url=url, source=source, published_at=link.published_at,
                                        title=link.title, found_in=where)
        elif prev.published_at is None and link.published_at is not None:
            merged[url] = DiscoveredURL(url=url, source=source, published_at=link.published_at,
                                        title=prev.title or link.title, found_in=prev.found_in)
    return list(merged.values())


async def discover_source(
    fetcher: Fetcher,
    source: Source,
    *,
    feed_states: dict[str, FeedState] | None = None,
    since: datetime | None = None,
) -> DiscoveryResult:
    """All article URLs a source offers now, canonical, deduplicated and newest first.

    The caller applies `max_articles` after dropping URLs it already stored, so a run always gets new ones.

    Conditional GET: with `feed_states` (keyed by canonical feed URL, see extractors.discover.feed_state), a feed or
    sitemap answered with 304, or whose body hashes as last time, is "unchanged" and gives no URLs this time
    (they were seen then). A sitemap index is always read in full and its children followed, since a child
    can change while the index does not; its state keeps only the hash. `result.feed_states` holds the new
    state of every feed and sitemap read fine (unreadable ones keep their old state, so they are retried).

    A backfill (`since`, an aware date-time) keeps only links dated at or after it, and follows every child of a
    sitemap index not older than it (up to MAX_BACKFILL_CHILDREN) rather than the newest MAX_CHILD_SITEMAPS.
    """
    discovery = _Discovery(fetcher, source, feed_states or {}, since)
    discovery.set_host_limits()
    sitemap_queue: list[tuple[str, int]] = [(u, 0) for u in source.sitemaps]
    sitemap_queue.extend((url, 0) for url in await discovery.robots_sitemaps())
    await discovery.read_feeds()
    await discovery.read_sitemaps(sitemap_queue)
    urls = newest_first(merge_links(source.name, discovery.found))
    discovery.result.urls = urls if since is None else discovery.since_filter(urls, since)
    return discovery.result


class _Discovery:
    """One source's discovery in progress: what was found, fetched and failed so far."""

    def __init__(self, fetcher: Fetcher, source: Source, states: dict[str, FeedState],
                 since: datetime | None = None) -> None:
        self.fetcher = fetcher
        self.source = source
        self.states = states
        self.since = since
        self.result = DiscoveryResult(source=source.name)
        self.found: list[tuple[str, Link]] = []  # (where it was found, link)

    def since_filter(self, urls: list[DiscoveredURL], since: datetime) -> list[DiscoveredURL]:
        """The URLs dated at or after `since`; the others are counted (undated ones cannot be placed)."""
        kept = [u for u in urls if u.published_at is not None and u.published_at >= since]
        self.result.undated = sum(1 for u in urls if u.published_at is None)
        self.result.before_since = len(urls) - len(kept) - self.result.undated
        return kept

    def set_host_limits(self) -> None:
        source = self.source
        seeds = [*source.feeds, *source.sitemaps] + ([source.homepage] if source.homepage else [])
        for url in seeds:
            try:
                self.fetcher.set_host_limits(url, source.requests_per_second, source.max_concurrency)
            except BadURL as exc:
                self.result.errors.append(f"{url}: bad URL: {exc}")

    async def robots_sitemaps(self) -> list[str]:
        """Sitemaps named by the homepage's robots.txt that the source does not list itself."""
        homepage = self.source.homepage
        if not homepage:
            return []
        try:
            rules = await self.fetcher.robots(canonical_url(homepage))
        except Exception as exc:
            self.result.errors.append(f"robots.txt of {homepage}: {exc}")
            return []
        return [sm for sm in rules.sitemaps if sm not in self.source.sitemaps]

    async def get(self, url: str) -> tuple[FetchedPage, bytes | None, bool]:
        """(page, body, unchanged): body None when there is nothing to read (failure or 304)."""
        old = self.states.get(state_key(url))
        headers = conditional_headers(old) or None
        page = await self.fetcher.fetch(url, self.source.name, kind="feed", headers=headers)
        result = self.result
        result.fetches.append(page)
        if page.not_modified:
            result.unchanged.append(url)
            result.feed_states[page.url] = new_state(
                page.url, etag=page.etag or (old.etag if old else None),
                last_modified=page.last_modified or (old.last_modified if old else None),
                sha256=old.body_sha256 if old else None)
            return page, None, True
        if not page.ok:
            result.errors.append(f"{url}: {page.error}")
            return page, None, False
        assert page.body is not None
        digest = body_sha256(page.body)
        unchanged = old is not None and old.body_sha256 == digest
        result.feed_states[page.url] = new_state(page.url, etag=page.etag, last_modified=page.last_modified,
                                                 sha256=digest)
        return page, page.body, unchanged

    def unreadable(self, page: FetchedPage, url: str, what: str, exc: Exception) -> None:
        reason = str(exc) if isinstance(exc, DiscoveryError) else f"{type(exc).__name__}: {exc}"
        self.result.errors.append(f"{url}: {reason}")
        page.error = f"unreadable {what}: {reason}"
        self.result.feed_states.pop(page.url, None)  # keep the old state: read it again next time

    async def read_feeds(self) -> None:
        feeds = self.source.feeds
        answers = await asyncio.gather(*(self.get(u) for u in feeds))
        for feed_url, (page, body, unchanged) in zip(feeds, answers):
            if body is None:
                continue
            if unchanged:
                self.result.unchanged.append(feed_url)
                continue
            try:
                links = parse_feed(body, feed_url)
            except Exception as exc:
                self.unreadable(page, feed_url, "feed", exc)
                continue
            self.result.documents[page.url] = document_stats("feed", links)
            self.found.extend((feed_url, link) for link in links)

    async def read_sitemaps(self, queue: list[tuple[str, int]]) -> None:
        """Read the sitemaps of `queue` ((url, depth) pairs) in order, following index children."""
        seen: set[str] = set()
        while queue:
            url, depth = queue.pop(0)
            key = state_key(url)
            if key not in seen:
                seen.add(key)
                queue.extend(await self.read_sitemap(url, depth))

    async def read_sitemap(self, url: str, depth: int) -> list[tuple[str, int]]:
        """Read one sitemap; returns the children to read next when it is an index."""
        page, body, unchanged = await self.get(url)
        if body is None:
            return []
        try:
            content = parse_sitemap(body, self.source.timezone)
        except Exception as exc:
            self.unreadable(page, url, "sitemap", exc)
            return []
        self.result.documents[page.url] = document_stats("sitemap-index" if content.sitemaps else "sitemap",
                                                    content.sitemaps or content.urls)
        if content.sitemaps:
            # An index: always read in full (no validators kept), since its children change on their own.
            st = self.result.feed_states.get(page.url)
            if st is not None:
                self.result.feed_states[page.url] = FeedState(st.url, None, None, st.body_sha256, st.checked_at)
        if unchanged and not content.sitemaps:
            self.result.unchanged.append(url)
            return []
        self.found.extend((url, link) for link in content.urls)
        if not content.sitemaps or depth >= MAX_SITEMAP_DEPTH:
            return []
        return [(child.url, depth + 1) for child in newest_children(content.sitemaps, self.since)]


def newest_children(sitemaps: list[Link], since: datetime | None = None) -> list[Link]:
    """The children of a sitemap index followed in one run: the newest MAX_CHILD_SITEMAPS; for a backfill, every
    child not older than `since` (an undated child may hold anything), newest first, up to MAX_BACKFILL_CHILDREN."""
    floor = datetime.min.replace(tzinfo=UTC)
    newest = sorted(sitemaps, key=lambda link: link.published_at or floor, reverse=True)
    if since is None:
        return newest[:MAX_CHILD_SITEMAPS]
    return [c for c in newest if c.published_at is None or c.published_at >= since][:MAX_BACKFILL_CHILDREN]
