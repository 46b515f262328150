"""The Fetcher: polite, defensive fetching of pages, one `FetchedPage` per URL, never an exception.

Politeness: robots.txt (with Crawl-delay), per-host concurrency and request rate, retries with exponential
backoff on 429/5xx honouring Retry-After (for the whole host, not only the URL that got it), and a host that
keeps failing is backed off for the rest of the run (its remaining URLs are skipped, not requested).
Conditional GET: pass `If-None-Match`/`If-Modified-Since` in `headers`; a 304 comes back as a fine fetch with
`not_modified=True` and no body. The safety rules of each request are in `extractors.fetch.http`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from extractors.config import CrawlSettings
from extractors.discover.urls import BadURL, canonical_url, host_of
from extractors.fetch.address_guard import AddressGuard, Resolver
from extractors.fetch.body import HTML_TYPES, XML_TYPES, charset_of
from extractors.fetch.claims import UrlClaims
from extractors.fetch.errors import FetchError
from extractors.fetch.http import BoundedHttpClient, HopCheck, HttpResponse
from extractors.fetch.politeness import HOST_FAILURE_LIMIT, HostGate, HostPolicy, HostPoliteness
from extractors.fetch.retry import RetryPolicy, host_wait_seconds, retry_after_too_long
from extractors.fetch.robots import RobotsCache, RobotsRules, load_robots
from extractors.records import DiscoveredURL, FetchAttempt, FetchedPage


def _is_conditional(headers: dict[str, str] | None) -> bool:
    return any(k.lower() in ("if-none-match", "if-modified-since") for k in (headers or {}))


@dataclass(slots=True)
class _Target:
    """One URL being fetched: its page (filled in as attempts go), host and what is asked for."""

    page: FetchedPage
    host: str
    policy: HostPolicy
    accept: tuple[str, ...]
    headers: dict[str, str] | None
    sniff: bool
    started: float = 0.0  # time.monotonic() at the start of the current attempt

    def start_attempt(self) -> None:
        self.started = time.monotonic()
        self.page.fetched_at = datetime.now(UTC)

    def elapsed_ms(self) -> float:
        return (time.monotonic() - self.started) * 1000

    def fail(self, err: FetchError, error: str, elapsed_ms: float) -> None:
        self.page.status, self.page.error, self.page.elapsed_ms = err.status, error, elapsed_ms


class Fetcher:
    """Async fetcher holding one httpx.AsyncClient; use as `async with Fetcher(...) as f:`."""

    def __init__(
        self,
        crawl: CrawlSettings | None = None,
        *,
        allow_private_addresses: bool = False,
        backoff_seconds: float = 1.0,
        obey_robots: bool = True,
        host_failure_limit: int = HOST_FAILURE_LIMIT,
        resolver: Resolver | None = None,
        host_gate: HostGate | None = None,
        url_claims: UrlClaims | None = None,
    ) -> None:
        self.crawl = crawl or CrawlSettings()
        self.obey_robots = obey_robots
        self.retry = RetryPolicy(retries=self.crawl.retries, backoff_seconds=backoff_seconds)
        guard = AddressGuard(allow_private=allow_private_addresses, resolver=resolver,
                             timeout_seconds=self.crawl.timeout_seconds)
        self.http = BoundedHttpClient(self.crawl, guard)
        self.hosts = HostPoliteness(failure_limit=host_failure_limit, host_gate=host_gate)
        self._robots = RobotsCache()
        self._robots_log: list[FetchedPage] = []
        self.url_claims = url_claims  # article URLs another run is fetching are skipped
        self.finished = 0  # URLs of fetch_many answered or given up so far (read from other threads for progress)

    async def __aenter__(self) -> Fetcher:
        self.http.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.hosts.aclose()
        if self.url_claims is not None:
            self.url_claims.release_all()

    def set_host_limits(self, url: str, requests_per_second: float, max_concurrency: int) -> None:
        """Politeness for the host of `url` (from the source's settings); call before fetching it."""
        self.hosts.set_limits(host_of(canonical_url(url)), requests_per_second, max_concurrency)

    def backed_off_hosts(self) -> dict[str, str]:
        """Hosts not requested any more in this run, with the reason (for the run report)."""
        return self.hosts.backed_off_hosts()

    async def robots(self, url: str, source: str | None = None) -> RobotsRules:
        """robots.txt rules for the host of `url`, fetched once per host (`source`: whose URL needed them, for
        the fetch log)."""
        parts = urlsplit(url)

        async def load(origin: str) -> RobotsRules:
            rules, page = await load_robots(self.http, origin, source)
            self.hosts.apply_crawl_delay(host_of(origin), rules.crawl_delay())
            self._robots_log.append(page)
            return rules

        return await self._robots.rules(f"{parts.scheme}://{parts.netloc}", load)

    def take_robots_fetches(self) -> list[FetchedPage]:
        """The robots.txt requests made since the last call (for the fetches log, kind 'robots')."""
        taken, self._robots_log = self._robots_log, []
        return taken

    async def _check_hop(self, url: str, source: str) -> None:
        """A redirect target must be allowed by the robots.txt of its own host, like any URL we request."""
        rules = await self.robots(url, source)
        if not rules.allows(url):
            raise FetchError(f"disallowed by robots.txt: redirected to {url}"
                             + (f" ({rules.error})" if rules.error else ""))

    async def fetch(
        self,
        url: str,
        source: str,
        *,
        kind: str = "article",
        hint_published_at: datetime | None = None,
        headers: dict[str, str] | None = None,
    ) -> FetchedPage:
        """Fetch one URL politely. Never raises for network or HTTP problems: they end up in `error`.

        With conditional `headers` (If-None-Match / If-Modified-Since), a 304 answer is a fine fetch:
        `status=304, error=None, body=None, not_modified=True`.
        """
        started = datetime.now(UTC)
        try:
            url = canonical_url(url)
        except BadURL as exc:
            return FetchedPage(url=url[:2048], source=source, fetched_at=started, error=f"bad URL: {exc}")
        page = FetchedPage(url=url, source=source, fetched_at=started, hint_published_at=hint_published_at)
        if kind == "article" and self.url_claims is not None:
            page.error = self.url_claims.claim(url)
            if page.error is not None:
                return page
        host = host_of(url)
        accept = HTML_TYPES if kind == "article" else XML_TYPES + HTML_TYPES
        target = _Target(page, host, self.hosts.policy(host), accept, headers, sniff=kind == "article")
        page.error = await self._refusal(target)
        if page.error is None:
            await self._fetch_with_retries(target)
        return page

    async def fetch_many(self, items: Iterable[DiscoveredURL], *, kind: str = "article") -> list[FetchedPage]:
        """Fetch many URLs concurrently (politeness is per host); results in input order. `finished` counts them
        as they end."""
        async def one(item: DiscoveredURL) -> FetchedPage:
            page = await self.fetch(item.url, item.source, kind=kind, hint_published_at=item.published_at)
            self.finished += 1
            return page

        return list(await asyncio.gather(*(one(it) for it in items)))

    async def _refusal(self, target: _Target) -> str | None:
        """Why the URL is not requested at all (host backed off, private address, robots.txt), or None."""
        if target.policy.backed_off:
            return f"skipped: {target.policy.backed_off}"
        try:
            await self.http.guard.check(target.page.url)
        except FetchError as exc:
            self.hosts.record_outcome(target.host, target.policy, exc)
            return exc.reason
        if self.obey_robots:
            rules = await self.robots(target.page.url, target.page.source)
            if not rules.allows(target.page.url):
                return rules.error or "disallowed by robots.txt"
        return None

    async def _fetch_with_retries(self, target: _Target) -> None:
        attempt = 0
        while True:
            attempt += 1
            target.start_attempt()
            try:
                resp = await self._attempt(target)
            except FetchError as err:
                if await self._try_again(target, err, attempt, target.elapsed_ms()):
                    continue
                return
            if resp is not None:
                self._fill(target.page, resp, target.elapsed_ms())
                self.hosts.record_outcome(target.host, target.policy, None)
            return

    async def _attempt(self, target: _Target) -> HttpResponse | None:
        """One request within the host's limits; None when the host was backed off while waiting its turn."""
        policy = target.policy
        assert policy.semaphore is not None
        async with policy.semaphore:
            if not policy.backed_off:
                await self.hosts.wait_turn(policy)
            if policy.backed_off:  # another URL of this host tipped it over while we waited
                target.page.error = f"skipped: {policy.backed_off}"
                return None
            async with self.hosts.gate(target.host, policy):
                target.start_attempt()
                resp = await self.http.get(target.page.url, accept=target.accept, headers=target.headers,
                                           sniff=target.sniff, hop_check=self._hop_check(target))
            if resp.status == 304 and not _is_conditional(target.headers):
                raise FetchError("HTTP 304 (Not Modified) to a request that was not conditional", 304)
            if resp.status != 304 and not resp.body:
                raise FetchError(f"empty body (HTTP {resp.status})", resp.status)
            return resp

    def _hop_check(self, target: _Target) -> HopCheck | None:
        if not self.obey_robots:
            return None
        source = target.page.source

        async def check(url: str) -> None:
            await self._check_hop(url, source)

        return check

    async def _try_again(self, target: _Target, err: FetchError, attempt: int, elapsed: float) -> bool:
        """Record a failed attempt; True when it is to be tried again (after the retry delay, already slept)."""
        page, policy = target.page, target.policy
        if err.retry_after is not None:  # the whole host is asked to wait, not only this URL
            self.hosts.pause_host(policy, host_wait_seconds(err.retry_after))
        if not self.retry.should_retry(err, attempt):
            target.fail(err, err.reason, elapsed)
            self.hosts.record_outcome(target.host, policy, err)
            return False
        delay = self.retry.delay(attempt, err.retry_after)
        if retry_after_too_long(err.retry_after):
            target.fail(err, f"{err.reason}; Retry-After {err.retry_after:.0f}s is too long, try a later run", elapsed)
            if policy.backed_off is None:
                policy.backed_off = (f"host {target.host} asked to retry after {err.retry_after:.0f}s "
                                     f"(HTTP {err.status} with Retry-After)")
            return False
        page.earlier_attempts.append(FetchAttempt(url=page.url, status=err.status, error=err.reason,
                                                  fetched_at=page.fetched_at, elapsed_ms=elapsed))
        await asyncio.sleep(delay)
        if policy.backed_off:
            target.fail(err, f"{err.reason}; skipped retry: {policy.backed_off}", elapsed)
            return False
        return True

    @staticmethod
    def _fill(page: FetchedPage, resp: HttpResponse, elapsed_ms: float) -> None:
        page.status = resp.status
        page.content_type = resp.content_type
        page.encoding = charset_of(resp.content_type)
        page.final_url = resp.final_url
        page.etag = resp.etag
        page.last_modified = resp.last_modified
        page.elapsed_ms = elapsed_ms
        if resp.status == 304:
            page.not_modified = True
        else:
            page.body = resp.body
