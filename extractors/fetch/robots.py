"""robots.txt: the rules for our user agent token (Protego, with Crawl-delay and Sitemap lines), read once per
origin and shared by every request of the run."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from protego import Protego

from extractors.fetch.errors import FetchError
from extractors.fetch.http import BoundedHttpClient

ROBOTS_TOKEN = "akhbar"
MAX_ROBOTS_BYTES = 512 * 1024


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


async def load_robots(http: BoundedHttpClient, origin: str) -> RobotsRules:
    """The robots.txt of `origin` (scheme://host[:port]): a 4xx allows everything, other failures forbid."""
    try:
        resp = await http.get(origin + "/robots.txt", accept=None, max_bytes=MAX_ROBOTS_BYTES)
    except FetchError as exc:
        if exc.status is not None and 400 <= exc.status < 500:
            return RobotsRules(parser=None)  # no robots.txt: everything allowed
        if exc.status is not None:
            return RobotsRules(parser=None, error=f"robots.txt unavailable (HTTP {exc.status})")
        return RobotsRules(parser=None, error=f"robots.txt unavailable ({exc.reason})")
    text = resp.body.decode("utf-8", errors="replace")
    parser = Protego.parse(text)
    return RobotsRules(parser=parser, sitemaps=list(parser.sitemaps))


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
