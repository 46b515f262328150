"""`akhbar sources check`: probe every source of a sources file the way an ingest run would discover it, without
fetching an article or writing anything.

Per source: robots.txt of each host it starts from (and what it allows), each feed and sitemap read (HTTP status,
links found, the newest date; a sitemap index's children are followed as a run follows them), and the article
URLs found in all. The discovery is `discover_source` itself, through a `Fetcher` (robots.txt, politeness,
address guard), with one attempt per URL: a probe, not a crawl.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import urlsplit

from extractors.config import Config, Source
from extractors.discover.feeds import DocumentStats, discover_source
from extractors.discover.urls import BadURL, canonical_url
from extractors.fetch.fetcher import Fetcher
from extractors.records import FetchedPage


@dataclass(frozen=True, slots=True)
class RobotsCheck:
    url: str  # the robots.txt URL
    status: int | None
    verdict: str  # what it means for this source, in words
    ok: bool  # False: it keeps the source's feeds or sitemaps (or the whole host) from being crawled


@dataclass(frozen=True, slots=True)
class DocumentCheck:
    url: str
    kind: str  # feed, sitemap, sitemap-index
    status: int | None
    error: str | None
    items: int = 0
    newest: datetime | None = None


@dataclass(slots=True)
class SourceCheck:
    name: str
    robots: list[RobotsCheck] = field(default_factory=list)
    documents: list[DocumentCheck] = field(default_factory=list)
    article_urls: int = 0
    newest: datetime | None = None
    errors: list[str] = field(default_factory=list)  # discovery's own complaints (unreadable, refused, ...)

    @property
    def healthy(self) -> bool:
        """Every robots.txt lets it be crawled, every feed and sitemap was read, and it lists some article."""
        return (all(r.ok for r in self.robots) and all(d.error is None for d in self.documents)
                and not self.errors and self.article_urls > 0)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def seed_urls(source: Source) -> list[str]:
    """The URLs a run starts from: homepage, feeds and sitemaps, canonical (a bad one is left out: the config
    check has refused it already)."""
    out: list[str] = []
    for url in ([source.homepage] if source.homepage else []) + [*source.feeds, *source.sitemaps]:
        try:
            out.append(canonical_url(url))
        except BadURL:
            continue
    return out


async def check_robots(fetcher: Fetcher, source: Source, robots_pages: dict[str, FetchedPage]) -> list[RobotsCheck]:
    """One RobotsCheck per host the source starts from; `robots_pages` (origin -> the robots.txt request) is
    filled as the fetcher reads them, and shared by every source of the check."""
    seeds = seed_urls(source)
    checks = []
    for origin in dict.fromkeys(origin_of(u) for u in seeds):
        rules = await fetcher.robots(origin + "/")
        robots_pages.update((origin_of(p.url), p) for p in fetcher.take_robots_fetches())
        page = robots_pages.get(origin)
        status = page.status if page is not None else None
        if rules.error is not None:
            checks.append(RobotsCheck(origin + "/robots.txt", status, rules.error, ok=False))
            continue
        if rules.parser is None:
            checks.append(RobotsCheck(origin + "/robots.txt", status, "no robots.txt: everything allowed", ok=True))
            continue
        refused = [u for u in seeds if origin_of(u) == origin and not rules.allows(u)]
        named = f"; names {len(rules.sitemaps)} sitemap(s)" if rules.sitemaps else ""
        verdict = (f"disallows {', '.join(refused)}" if refused else "allows the feeds and sitemaps") + named
        checks.append(RobotsCheck(origin + "/robots.txt", status, verdict, ok=not refused))
    return checks


def document_checks(source: Source, fetches: list[FetchedPage], documents: dict[str, DocumentStats]
                    ) -> list[DocumentCheck]:
    """Each feed and sitemap request of the discovery, with what was read from it."""
    feeds = set(seed_urls(replace(source, homepage=None, sitemaps=())))
    out = []
    for page in fetches:
        stats = documents.get(page.url)
        kind = stats.kind if stats else ("feed" if page.url in feeds else "sitemap")
        out.append(DocumentCheck(url=page.url, kind=kind, status=page.status, error=page.error,
                                 items=stats.items if stats else 0, newest=stats.newest if stats else None))
    return out


async def check_source(fetcher: Fetcher, source: Source, robots_pages: dict[str, FetchedPage]) -> SourceCheck:
    robots = await check_robots(fetcher, source, robots_pages)
    result = await discover_source(fetcher, source)  # no feed states: every feed and sitemap is read in full
    fetcher.take_robots_fetches()  # hosts met on the way (a sitemap elsewhere) are not this check's subject
    return SourceCheck(
        name=source.name, robots=robots, documents=document_checks(source, result.fetches, result.documents),
        article_urls=len(result.urls),
        newest=max((u.published_at for u in result.urls if u.published_at), default=None),
        errors=list(result.errors))


async def check_sources(config: Config, *, allow_private_addresses: bool = False) -> list[SourceCheck]:
    """Probe every source of `config`, one after the other (each one's hosts at its own pace)."""
    crawl = replace(config.crawl, retries=0)  # one attempt per URL: a probe reports, it does not insist
    robots_pages: dict[str, FetchedPage] = {}
    async with Fetcher(crawl, allow_private_addresses=allow_private_addresses) as fetcher:
        return [await check_source(fetcher, source, robots_pages) for source in config.sources]
