"""Polite, defensive HTTP fetching with one shared async httpx client.

Politeness: robots.txt (Protego, with Crawl-delay), per-host concurrency and request rate, retries with
exponential backoff on 429/5xx honouring Retry-After. Safety: private addresses refused unless allowed,
redirects followed by hand to a cap (each hop checked), response size capped while streaming (so gzip bombs
and endless bodies stop early), a total deadline per request (so pages that never finish time out), and
non-HTML content types skipped.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import random
import socket
import threading
import time
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import httpx
from protego import Protego

from extractors.config import CrawlSettings
from extractors.types import DiscoveredURL, FetchAttempt, FetchedPage
from extractors.urls import BadURL, canonical_url, host_of, is_private_ip, to_request_url

HTML_TYPES = ("text/html", "application/xhtml+xml")
XML_TYPES = (
    "application/xml", "text/xml", "application/rss+xml", "application/atom+xml", "application/rdf+xml",
    "application/x-gzip", "application/gzip", "text/plain", "application/octet-stream",
)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_SECONDS = 120.0
ROBOTS_TOKEN = "akhbar"

T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(slots=True)
class HostPolicy:
    """Politeness state for one host."""

    min_interval: float = 1.0  # seconds between request starts
    max_concurrency: int = 2
    semaphore: asyncio.Semaphore | None = None
    lock: asyncio.Lock | None = None
    next_start: float = 0.0
    consecutive_failures: int = 0


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


class FetchError(Exception):
    """A fetch that ended without a usable page; `status` is set when there was a response."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - utcnow()).total_seconds())


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _charset(content_type: str | None) -> str | None:
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'").lower()
    return None


class Fetcher:
    """Async fetcher holding one httpx.AsyncClient; use as `async with Fetcher(...) as f:`."""

    def __init__(
        self,
        crawl: CrawlSettings | None = None,
        *,
        allow_private_addresses: bool = False,
        backoff_seconds: float = 1.0,
        obey_robots: bool = True,
    ) -> None:
        self.crawl = crawl or CrawlSettings()
        self.allow_private = allow_private_addresses
        self.backoff_seconds = backoff_seconds
        self.obey_robots = obey_robots
        self._client: httpx.AsyncClient | None = None
        self._hosts: dict[str, HostPolicy] = {}
        self._host_settings: dict[str, tuple[float, int]] = {}
        self._robots: dict[str, RobotsRules] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self._resolved: dict[str, bool] = {}

    async def __aenter__(self) -> Fetcher:
        self._client = httpx.AsyncClient(
            headers={"User-Agent": self.crawl.user_agent, "Accept-Language": "ar,en;q=0.5"},
            timeout=httpx.Timeout(self.crawl.timeout_seconds),
            follow_redirects=False,
            proxy=self.crawl.proxy,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            trust_env=self.crawl.proxy is None,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- politeness -----------------------------------------------------------------------------------------
    def set_host_limits(self, url: str, requests_per_second: float, max_concurrency: int) -> None:
        """Politeness for the host of `url` (from the source's settings); call before fetching it."""
        host = host_of(canonical_url(url))
        interval = 0.0 if requests_per_second <= 0 else 1.0 / requests_per_second
        self._host_settings[host] = (interval, max_concurrency)
        if host in self._hosts:  # keep the strictest if two sources share a host
            pol = self._hosts[host]
            pol.min_interval = max(pol.min_interval, interval)

    def _policy(self, host: str) -> HostPolicy:
        pol = self._hosts.get(host)
        if pol is None:
            interval, conc = self._host_settings.get(host, (1.0, 2))
            pol = HostPolicy(min_interval=interval, max_concurrency=conc, semaphore=asyncio.Semaphore(conc),
                             lock=asyncio.Lock())
            self._hosts[host] = pol
        return pol

    async def _wait_turn(self, pol: HostPolicy) -> None:
        assert pol.lock is not None
        async with pol.lock:
            now = time.monotonic()
            wait = pol.next_start - now
            pol.next_start = max(now, pol.next_start) + pol.min_interval
        if wait > 0:
            await asyncio.sleep(wait)

    async def _check_address(self, url: str) -> None:
        if self.allow_private:
            return
        parts = urlsplit(url)
        host = (parts.hostname or "").strip("[]")
        if host in self._resolved:
            if not self._resolved[host]:
                raise FetchError(f"refused: {host} is a private, loopback or link-local address "
                                 "(pass --allow-private-addresses to allow it)")
            return
        try:
            ips = [ipaddress.ip_address(host)]
        except ValueError:
            if host == "localhost" or host.endswith(".localhost"):
                ips = [ipaddress.ip_address("127.0.0.1")]
            else:
                loop = asyncio.get_running_loop()
                try:
                    infos = await asyncio.wait_for(
                        loop.getaddrinfo(host, parts.port or 80, type=socket.SOCK_STREAM),
                        timeout=self.crawl.timeout_seconds,
                    )
                except (OSError, asyncio.TimeoutError) as exc:
                    raise FetchError(f"cannot resolve host {host}: {exc or 'timeout'}") from None
                ips = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
        ok = not any(is_private_ip(ip) for ip in ips)
        self._resolved[host] = ok
        if not ok:
            raise FetchError(f"refused: {host} is a private, loopback or link-local address "
                             "(pass --allow-private-addresses to allow it)")

    async def robots(self, url: str) -> RobotsRules:
        """robots.txt rules for the host of `url`, fetched once per host."""
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        if key in self._robots:
            return self._robots[key]
        lock = self._robots_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key in self._robots:
                return self._robots[key]
            rules = await self._load_robots(key)
            self._robots[key] = rules
            pol = self._policy(host_of(key))
            delay = rules.crawl_delay()
            if delay is not None:
                pol.min_interval = max(pol.min_interval, min(delay, 60.0))
            return rules

    async def _load_robots(self, origin: str) -> RobotsRules:
        try:
            status, body, _, _ = await self._get(origin + "/robots.txt", accept=None, max_bytes=512 * 1024)
        except FetchError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                return RobotsRules(parser=None)  # no robots.txt: everything allowed
            if exc.status is not None:
                return RobotsRules(parser=None, error=f"robots.txt unavailable (HTTP {exc.status})")
            return RobotsRules(parser=None, error=f"robots.txt unavailable ({exc.reason})")
        text = body.decode("utf-8", errors="replace")
        parser = Protego.parse(text)
        return RobotsRules(parser=parser, sitemaps=list(parser.sitemaps))

    # -- HTTP -----------------------------------------------------------------------------------------------
    async def _get(
        self,
        url: str,
        *,
        accept: tuple[str, ...] | None,
        max_bytes: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, str | None, str]:
        """One GET with redirects followed by hand. Returns (status, body, content_type, final_url)."""
        assert self._client is not None, "use Fetcher as an async context manager"
        limit = max_bytes or self.crawl.max_response_bytes
        current = url
        seen: set[str] = set()
        for _hop in range(self.crawl.max_redirects + 1):
            await self._check_address(current)
            request_url = to_request_url(current)
            try:
                async with self._client.stream("GET", request_url, headers=headers) as resp:
                    if resp.is_redirect:
                        location = resp.headers.get("location")
                        if not location:
                            raise FetchError("redirect without Location header", resp.status_code)
                        nxt = urljoin(request_url, location)
                        try:
                            nxt = canonical_url(nxt)
                        except BadURL as exc:
                            raise FetchError(f"bad redirect target: {exc}", resp.status_code) from None
                        if nxt in seen or nxt == current:
                            raise FetchError("redirect loop", resp.status_code)
                        seen.add(current)
                        current = nxt
                        continue
                    if resp.status_code >= 400:
                        raise FetchError(f"HTTP {resp.status_code}", resp.status_code,
                                         parse_retry_after(resp.headers.get("retry-after")))
                    ctype = resp.headers.get("content-type")
                    media = _media_type(ctype)
                    if accept is not None and media and not media.startswith(accept):
                        raise FetchError(f"skipped: content type {media} is not {'/'.join(accept[:2])}",
                                         resp.status_code)
                    declared = resp.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > limit:
                        raise FetchError(f"too large: Content-Length {declared} bytes over the {limit} byte cap",
                                         resp.status_code)
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in resp.aiter_bytes():
                        size += len(chunk)
                        if size > limit:
                            raise FetchError(f"too large: body over the {limit} byte cap", resp.status_code)
                        chunks.append(chunk)
                    return resp.status_code, b"".join(chunks), ctype, current
            except FetchError:
                raise
            except httpx.TimeoutException:
                raise FetchError(f"timeout after {self.crawl.timeout_seconds:g}s") from None
            except httpx.DecodingError as exc:
                raise FetchError(f"bad content encoding: {exc}") from None
            except (httpx.TransportError, httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                raise FetchError(f"connection failed: {type(exc).__name__}: {exc}".rstrip(": ")) from None
        raise FetchError(f"too many redirects (more than {self.crawl.max_redirects})")

    async def fetch(
        self,
        url: str,
        source: str,
        *,
        kind: str = "article",
        hint_published_at: datetime | None = None,
        headers: dict[str, str] | None = None,
    ) -> FetchedPage:
        """Fetch one URL politely. Never raises for network or HTTP problems: they end up in `error`."""
        started = utcnow()
        try:
            url = canonical_url(url)
        except BadURL as exc:
            return FetchedPage(url=url[:2048], source=source, fetched_at=started, error=f"bad URL: {exc}")
        page = FetchedPage(url=url, source=source, fetched_at=started, hint_published_at=hint_published_at)
        try:
            await self._check_address(url)
        except FetchError as exc:
            page.error = exc.reason
            return page
        if self.obey_robots:
            rules = await self.robots(url)
            if not rules.allows(url):
                page.error = rules.error or "disallowed by robots.txt"
                return page
        accept = HTML_TYPES if kind == "article" else XML_TYPES + HTML_TYPES
        pol = self._policy(host_of(url))
        attempt = 0
        assert pol.semaphore is not None
        while True:
            attempt += 1
            t0 = time.monotonic()
            page.fetched_at = utcnow()
            try:
                async with pol.semaphore:
                    await self._wait_turn(pol)
                    t0 = time.monotonic()
                    page.fetched_at = utcnow()
                    status, body, ctype, final = await asyncio.wait_for(
                        self._get(url, accept=accept, headers=headers),
                        timeout=self.crawl.timeout_seconds * 2,
                    )
            except (FetchError, asyncio.TimeoutError) as exc:
                err = exc if isinstance(exc, FetchError) else FetchError(
                    f"timeout: response not finished after {self.crawl.timeout_seconds * 2:g}s")
                elapsed = (time.monotonic() - t0) * 1000
                retryable = err.status in RETRY_STATUSES or (err.status is None and (
                    err.reason.startswith("connection failed") or err.reason.startswith("timeout")))
                if retryable and attempt <= self.crawl.retries:
                    delay = self.backoff_seconds * (2 ** (attempt - 1)) * (0.75 + random.random() / 2)
                    if err.retry_after is not None:
                        if err.retry_after > MAX_RETRY_AFTER_SECONDS:
                            page.status, page.error, page.elapsed_ms = err.status, (
                                f"{err.reason}; Retry-After {err.retry_after:.0f}s is too long, try a later run"), elapsed
                            pol.consecutive_failures += 1
                            return page
                        delay = max(delay, err.retry_after)
                    page.earlier_attempts.append(FetchAttempt(url=url, status=err.status, error=f"{err.reason} (retried)",
                                                              fetched_at=page.fetched_at, elapsed_ms=elapsed))
                    await asyncio.sleep(delay)
                    continue
                page.status, page.error, page.elapsed_ms = err.status, err.reason, elapsed
                pol.consecutive_failures += 1
                return page
            page.status = status
            page.body = body
            page.content_type = ctype
            page.encoding = _charset(ctype)
            page.final_url = final
            page.elapsed_ms = (time.monotonic() - t0) * 1000
            pol.consecutive_failures = 0
            return page

    async def fetch_many(self, items: Iterable[DiscoveredURL], *, kind: str = "article") -> list[FetchedPage]:
        """Fetch many URLs concurrently (politeness is per host); results in input order."""
        tasks = [self.fetch(it.url, it.source, kind=kind, hint_published_at=it.published_at) for it in items]
        return list(await asyncio.gather(*tasks))


class BackgroundFetcher:
    """A Fetcher living on its own event loop thread, callable from synchronous code (Prefect tasks).

    One instance per run keeps one httpx client, one robots cache and one politeness state for every batch.
    """

    def __init__(self, crawl: CrawlSettings | None = None, **kwargs: object) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="akhbar-fetcher", daemon=True)
        self._thread.start()
        self.fetcher = Fetcher(crawl, **kwargs)  # type: ignore[arg-type]
        self.run(self.fetcher.__aenter__())

    def run(self, coro: Awaitable[T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()  # type: ignore[arg-type]

    def fetch_many(self, items: Iterable[DiscoveredURL], *, kind: str = "article") -> list[FetchedPage]:
        return self.run(self.fetcher.fetch_many(list(items), kind=kind))

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self.run(self.fetcher.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> BackgroundFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
