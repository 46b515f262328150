"""robots.txt: the rules for our user agent token (Protego, with Crawl-delay and Sitemap lines), read once per
origin and shared by every request of the run, following RFC 9309:

- the first MAX_ROBOTS_BYTES (512 KiB, the RFC asks for at least 500 KiB) of a larger file are parsed, up to its
  last complete line; the rest is ignored, not held against the site;
- up to ROBOTS_MAX_REDIRECTS (5) redirects are followed, even to another host; the rules found apply to the
  origin that was asked. More redirects, or a loop, mean "unavailable";
- "unavailable" (a 4xx answer other than 429, too many redirects) allows everything;
- "unreachable" (5xx, 429, no connection, timeout, a broken answer) disallows everything for the run.

Every robots.txt request is reported as a FetchedPage (kind 'robots' in the fetches log), with the reason when
its outcome restricts crawling or is not an ordinary answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from protego import Protego

from extractors.fetch.errors import FetchError
from extractors.fetch.http import BoundedHttpClient
from extractors.records import FetchedPage

ROBOTS_TOKEN = "akhbar"
MAX_ROBOTS_BYTES = 512 * 1024
ROBOTS_MAX_REDIRECTS = 5


@dataclass(slots=True)
class RobotsRules:
    parser: Protego | None  # None: everything allowed
    error: str | None = None  # robots.txt could not be read for a reason that forbids crawling
    sitemaps: list[str] = field(default_factory=list)

    def allows(self, url: str) -> bool:
        if self.error is not None:
            return False
        return self.parser is None or self.parser.can_fetch(url, ROBOTS_TOKEN)

    def crawl_delay(self) -> float | None:
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(ROBOTS_TOKEN)
        return float(delay) if delay is not None else None


def _unavailable(exc: FetchError) -> bool:
    """RFC 9309 "unavailable" (crawling allowed): a client error other than 429, or redirects that never end."""
    if exc.reason == "redirect loop" or exc.reason.startswith("too many redirects"):
        return True
    return exc.status is not None and 400 <= exc.status < 500 and exc.status != 429


def _rules_after_failure(exc: FetchError, page: FetchedPage) -> RobotsRules:
    page.status = exc.status
    if _unavailable(exc):
        if exc.status is None or 300 <= exc.status < 400:
            page.error = f"robots.txt unavailable ({exc.reason}): everything allowed (RFC 9309)"
        return RobotsRules(parser=None)  # no robots.txt: everything allowed
    what = f"HTTP {exc.status}" if exc.reason == f"HTTP {exc.status}" else exc.reason
    page.error = f"robots.txt unreachable ({what}): the host is not crawled this run"
    return RobotsRules(parser=None, error=page.error)


def parse_robots(body: bytes, truncated: bool) -> Protego:
    """The rules of a robots.txt body; a body cut at the size cap is parsed up to its last complete line."""
    if truncated:
        body = body[: body.rfind(b"\n") + 1] or body
    return Protego.parse(body.decode("utf-8", errors="replace"))


async def load_robots(http: BoundedHttpClient, origin: str, source: str | None = None
                      ) -> tuple[RobotsRules, FetchedPage]:
    """The robots.txt rules of `origin` (scheme://host[:port]), and the request as a fetch-log page."""
    url = origin + "/robots.txt"
    page = FetchedPage(url=url, source=source or "", fetched_at=datetime.now(UTC))
    started = asyncio.get_running_loop().time()
    try:
        resp = await http.get(url, accept=None, max_bytes=MAX_ROBOTS_BYTES, truncate=True,
                              max_redirects=ROBOTS_MAX_REDIRECTS)
    except FetchError as exc:
        rules = _rules_after_failure(exc, page)
    else:
        page.status, page.final_url, page.content_type = resp.status, resp.final_url, resp.content_type
        parser = parse_robots(resp.body, truncated=len(resp.body) >= MAX_ROBOTS_BYTES)
        rules = RobotsRules(parser=parser, sitemaps=list(parser.sitemaps))
        page.body = resp.body
    page.elapsed_ms = (asyncio.get_running_loop().time() - started) * 1000
    return rules, page


class RobotsCache:
    """RobotsRules per origin, loaded once even when many requests to a new origin start together."""

    def __init__(self) -> None:
        self._rules: dict[str, RobotsRules] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def rules(self, origin: str, load: Callable[[str], Awaitable[RobotsRules]]) -> RobotsRules:
        if origin in self._rules:
            return self._rules[origin]
        async with self._locks.setdefault(origin, asyncio.Lock()):
            if origin not in self._rules:
                self._rules[origin] = await load(origin)
            return self._rules[origin]
