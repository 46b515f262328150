"""Polite, defensive HTTP fetching with one shared async httpx client.

Politeness: robots.txt (Protego, with Crawl-delay), per-host concurrency and request rate, retries with
exponential backoff on 429/5xx honouring Retry-After (for the whole host, not only the URL that got it), and a
host that keeps failing is backed off for the rest of the run (its remaining URLs are skipped, not requested).
Conditional GET: pass `If-None-Match`/`If-Modified-Since` in `headers`; a 304 comes back as a fine fetch with
`not_modified=True` and no body.

Safety: private addresses refused unless allowed, redirects followed by hand to a cap (each hop checked),
content encodings decoded by us with the output bounded (so gzip bombs stop at the cap without inflating), the
response size capped while streaming (so endless bodies stop early), one total deadline per request covering
every hop and read (so pages that trickle or never finish time out), non-HTML content types skipped and binary
bodies labelled as HTML (PDF, images, archives, NUL-filled data) skipped.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import random
import socket
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import httpx
from protego import Protego

from extractors.config import CrawlSettings
from extractors.discover.urls import BadURL, canonical_url, host_of, is_private_host, is_private_ip, to_request_url
from extractors.records import DiscoveredURL, FetchAttempt, FetchedPage

HTML_TYPES = ("text/html", "application/xhtml+xml")
XML_TYPES = (
    "application/xml", "text/xml", "application/rss+xml", "application/atom+xml", "application/rdf+xml",
    "application/x-gzip", "application/gzip", "text/plain", "application/octet-stream",
)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_RETRY_AFTER_SECONDS = 120.0
HOST_FAILURE_LIMIT = 5  # consecutive failures (after retries) before a host is backed off for the run
ROBOTS_TOKEN = "akhbar"
SNIFF_BYTES = 1024

# Resolves a host name to its IP address strings (a test hook; the default uses the system resolver).
Resolver = Callable[[str, int], Awaitable[list[str]]]

# Politeness shared with other processes (e.g. flows/politeness.py: Prefect global concurrency and rate limits):
# called as `host_gate(host, requests_per_second, max_concurrency)` and entered around every request attempt,
# inside the in-process limits. It may raise FetchError (recorded like any failed attempt). An object with an
# `aclose()` coroutine method is closed with the Fetcher.
HostGate = Callable[[str, float, int], AbstractAsyncContextManager[object]]

T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class HostPolicy:
    """Politeness state for one host."""

    min_interval: float = 1.0  # seconds between request starts
    max_concurrency: int = 2
    semaphore: asyncio.Semaphore | None = None
    lock: asyncio.Lock | None = None
    next_start: float = 0.0
    consecutive_failures: int = 0
    last_failure: str | None = None
    backed_off: str | None = None  # why the host is not requested any more in this run


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
    """A fetch that ended without a usable page; `status` is set when there was a response.

    `kind`: "connect" (no connection, retried), "pool" (no free client connection, retried), "timeout",
    "dns", or None for answers that will not change on retry (too large, redirect loop, ...).
    """

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None,
                 kind: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        self.kind = kind

    @property
    def retryable(self) -> bool:
        return self.status in RETRY_STATUSES or self.kind in ("connect", "pool")

    @property
    def host_failure(self) -> bool:
        """The host itself is failing (down, unreachable, overloaded), not just this URL."""
        if self.status is not None:
            return self.status >= 500 or self.status == 429
        return self.kind in ("connect", "timeout", "dns")


@dataclass(slots=True)
class _Response:
    status: int
    body: bytes
    content_type: str | None
    final_url: str
    etag: str | None = None
    last_modified: str | None = None


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
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - utcnow()).total_seconds())


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _charset(content_type: str | None) -> str | None:
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'").lower()
    return None


_MAGIC = (
    (b"%PDF-", "PDF"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"PK\x03\x04", "ZIP"), (b"PK\x05\x06", "ZIP"),
    (b"GIF87a", "GIF"), (b"GIF89a", "GIF"), (b"\xff\xd8\xff", "JPEG"), (b"\x1f\x8b", "gzip"),
    (b"\x7fELF", "ELF"), (b"7z\xbc\xaf\x27\x1c", "7z"), (b"Rar!\x1a\x07", "RAR"), (b"OggS", "Ogg"),
    (b"ID3", "MP3"), (b"\x1aE\xdf\xa3", "WebM"), (b"\x00\x00\x01\x00", "ICO"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "MS Office"), (b"wOFF", "WOFF"), (b"wOF2", "WOFF2"),
)


def sniff_binary(head: bytes) -> str | None:
    """Name of the binary format `head` (the first bytes of a body) starts with, or None if it may be text.

    Recognises common magic numbers and NUL-filled data; UTF-16/32 text (NULs in one byte lane only, or a
    byte order mark) is not binary.
    """
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return None
    for magic, name in _MAGIC:
        if name and head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"WAVE", b"AVI "):
        return head[8:12].decode().strip()
    if head[4:8] == b"ftyp":
        return "MP4"
    sample = head[:SNIFF_BYTES]
    nul = sample.count(0)
    if nul >= max(8, len(sample) // 64):
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if even and odd:  # UTF-16 text has its NULs in one byte lane only
            return "NUL bytes"
    return None


class _BoundedDecoder:
    """Content-Encoding decoding whose output per call is capped, so a compression bomb never inflates."""

    def __init__(self, header: str | None) -> None:
        codings = [c.strip().lower() for c in (header or "").split(",")]
        codings = [c for c in codings if c and c != "identity"]
        self._raw_deflate_fallback = False
        if not codings:
            self._d = None
        elif codings in (["gzip"], ["x-gzip"]):
            self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif codings == ["deflate"]:
            self._d = zlib.decompressobj()
            self._raw_deflate_fallback = True  # some servers send raw deflate without the zlib header
        else:
            raise FetchError(f"bad content encoding: unsupported Content-Encoding {header!r}")

    def decode(self, data: bytes, max_out: int) -> bytes:
        """Up to `max_out` (>= 1) bytes of output; more output pending means the body is over the cap."""
        if self._d is None:
            return data
        try:
            try:
                out = self._d.decompress(data, max_out)
            except zlib.error:
                if not self._raw_deflate_fallback:
                    raise
                self._d = zlib.decompressobj(-zlib.MAX_WBITS)
                out = self._d.decompress(data, max_out)
            self._raw_deflate_fallback = False
            return out
        except zlib.error as exc:
            raise FetchError(f"bad content encoding: {exc}") from None

    def flush(self, max_out: int) -> bytes:
        if self._d is None:
            return b""
        try:
            return self._d.flush(max_out)
        except zlib.error as exc:
            raise FetchError(f"bad content encoding: {exc}") from None


def _is_conditional(headers: dict[str, str] | None) -> bool:
    return any(k.lower() in ("if-none-match", "if-modified-since") for k in (headers or {}))


def _redirect_target(request_url: str, location: str) -> str:
    try:
        return canonical_url(urljoin(request_url, location))
    except (BadURL, ValueError) as exc:
        raise FetchError(f"bad redirect target: {exc}") from None


async def _check_redirect_target(response: httpx.Response) -> None:
    """httpx response hook: a redirect's Location is checked by our rules before httpx itself parses it
    (it does even when not following redirects, and fails with unclear messages)."""
    location = response.headers.get("location")
    if response.status_code in REDIRECT_STATUSES and location:
        try:
            _redirect_target(str(response.request.url), location)
        except FetchError as exc:
            exc.status = response.status_code
            raise


async def _system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


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
    ) -> None:
        self.crawl = crawl or CrawlSettings()
        self.host_gate = host_gate
        self.allow_private = allow_private_addresses
        self.backoff_seconds = backoff_seconds
        self.obey_robots = obey_robots
        self.host_failure_limit = host_failure_limit  # 0 or less: never back off
        self._resolver = resolver or _system_resolver
        self._client: httpx.AsyncClient | None = None
        self._hosts: dict[str, HostPolicy] = {}
        self._host_settings: dict[str, tuple[float, int]] = {}
        self._robots: dict[str, RobotsRules] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self._resolved: dict[str, bool] = {}

    async def __aenter__(self) -> Fetcher:
        self._client = httpx.AsyncClient(
            # We decode content encodings ourselves (bounded), so only offer the ones we can decode that way.
            headers={"User-Agent": self.crawl.user_agent, "Accept-Language": "ar,en;q=0.5",
                     "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(self.crawl.timeout_seconds),
            follow_redirects=False,
            proxy=self.crawl.proxy,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            trust_env=self.crawl.proxy is None,
            event_hooks={"response": [_check_redirect_target]},
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        close_gate = getattr(self.host_gate, "aclose", None)
        if close_gate is not None:
            await close_gate()

    # -- politeness -----------------------------------------------------------------------------------------
    def set_host_limits(self, url: str, requests_per_second: float, max_concurrency: int) -> None:
        """Politeness for the host of `url` (from the source's settings); call before fetching it."""
        host = host_of(canonical_url(url))
        interval = 0.0 if requests_per_second <= 0 else 1.0 / requests_per_second
        self._host_settings[host] = (interval, max_concurrency)
        if host in self._hosts:  # keep the strictest if two sources share a host
            pol = self._hosts[host]
            pol.min_interval = max(pol.min_interval, interval)

    def backed_off_hosts(self) -> dict[str, str]:
        """Hosts not requested any more in this run, with the reason (for the run report)."""
        return {host: pol.backed_off for host, pol in self._hosts.items() if pol.backed_off}

    def _policy(self, host: str) -> HostPolicy:
        pol = self._hosts.get(host)
        if pol is None:
            interval, conc = self._host_settings.get(host, (1.0, 2))
            pol = HostPolicy(min_interval=interval, max_concurrency=conc, semaphore=asyncio.Semaphore(conc),
                             lock=asyncio.Lock())
            self._hosts[host] = pol
        return pol

    def _gate(self, host: str, pol: HostPolicy) -> AbstractAsyncContextManager[object]:
        """The shared politeness gate of `host` (a no-op without a `host_gate`)."""
        if self.host_gate is None:
            return nullcontext()
        rps = 0.0 if pol.min_interval <= 0 else 1.0 / pol.min_interval
        return self.host_gate(host, rps, pol.max_concurrency)

    async def _wait_turn(self, pol: HostPolicy) -> None:
        assert pol.lock is not None
        async with pol.lock:
            now = time.monotonic()
            wait = pol.next_start - now
            pol.next_start = max(now, pol.next_start) + pol.min_interval
        if wait > 0:
            await asyncio.sleep(wait)

    def _record_outcome(self, host: str, pol: HostPolicy, err: FetchError | None) -> None:
        if err is None or not err.host_failure:
            pol.consecutive_failures = 0
            return
        pol.consecutive_failures += 1
        pol.last_failure = err.reason
        if (self.host_failure_limit > 0 and pol.backed_off is None
                and pol.consecutive_failures >= self.host_failure_limit):
            pol.backed_off = (f"host {host} backed off after {pol.consecutive_failures} consecutive failures "
                              f"(last: {err.reason})")

    def _refused(self, host: str) -> FetchError:
        return FetchError(f"refused: {host} is a private, loopback or link-local address "
                          "(pass --allow-private-addresses to allow it)")

    async def _check_address(self, url: str) -> None:
        if self.allow_private:
            return
        parts = urlsplit(url)
        host = (parts.hostname or "").strip("[]")
        if host in self._resolved:
            if not self._resolved[host]:
                raise self._refused(host)
            return
        literal = is_private_host(host)  # IP literals and localhost names, without DNS
        if literal is not None:
            ok = not literal
        else:
            try:
                addrs = await asyncio.wait_for(self._resolver(host, parts.port or 80),
                                               timeout=self.crawl.timeout_seconds)
                ips = [ipaddress.ip_address(a.split("%")[0]) for a in addrs]
            except (TimeoutError, OSError, ValueError) as exc:
                raise FetchError(f"cannot resolve host {host}: {exc or 'timeout'}", kind="dns") from None
            if not ips:
                raise FetchError(f"cannot resolve host {host}: no address", kind="dns")
            ok = not any(is_private_ip(ip) for ip in ips)
        self._resolved[host] = ok
        if not ok:
            raise self._refused(host)

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
            resp = await self._get(origin + "/robots.txt", accept=None, max_bytes=512 * 1024)
        except FetchError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                return RobotsRules(parser=None)  # no robots.txt: everything allowed
            if exc.status is not None:
                return RobotsRules(parser=None, error=f"robots.txt unavailable (HTTP {exc.status})")
            return RobotsRules(parser=None, error=f"robots.txt unavailable ({exc.reason})")
        text = resp.body.decode("utf-8", errors="replace")
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
        sniff: bool = False,
    ) -> _Response:
        """One GET with redirects followed by hand, all within one total deadline of `timeout_seconds`."""
        deadline = self.crawl.timeout_seconds
        try:
            async with asyncio.timeout(deadline):
                return await self._get_hops(url, accept=accept, max_bytes=max_bytes, headers=headers, sniff=sniff)
        except TimeoutError:
            raise FetchError(f"timeout: response not finished within {deadline:g}s", kind="timeout") from None

    async def _get_hops(
        self,
        url: str,
        *,
        accept: tuple[str, ...] | None,
        max_bytes: int | None,
        headers: dict[str, str] | None,
        sniff: bool,
    ) -> _Response:
        assert self._client is not None, "use Fetcher as an async context manager"
        limit = max_bytes or self.crawl.max_response_bytes
        timeout = self.crawl.timeout_seconds
        current = url
        seen: set[str] = set()
        for _hop in range(self.crawl.max_redirects + 1):
            await self._check_address(current)
            request_url = to_request_url(current)
            try:
                httpx.URL(request_url)
            except httpx.InvalidURL as exc:
                raise FetchError(f"bad URL: {exc}") from None
            try:
                # (httpx parses a redirect's Location even when not following it: an InvalidURL or a
                # RemoteProtocolError about the location header raised here is a bad redirect target)
                async with self._client.stream("GET", request_url, headers=headers) as resp:
                    if resp.status_code in REDIRECT_STATUSES:
                        location = resp.headers.get("location")
                        if not location:
                            raise FetchError("redirect without Location header", resp.status_code)
                        try:
                            nxt = _redirect_target(request_url, location)
                        except FetchError as exc:
                            exc.status = resp.status_code
                            raise
                        if nxt in seen or nxt == current:
                            raise FetchError("redirect loop", resp.status_code)
                        seen.add(current)
                        current = nxt
                        continue
                    if resp.status_code >= 400 or (300 <= resp.status_code < 400 and resp.status_code != 304):
                        raise FetchError(f"HTTP {resp.status_code}", resp.status_code,
                                         parse_retry_after(resp.headers.get("retry-after")))
                    ctype = resp.headers.get("content-type")
                    out = _Response(resp.status_code, b"", ctype, current, resp.headers.get("etag"),
                                    resp.headers.get("last-modified"))
                    if resp.status_code == 304:
                        return out
                    media = _media_type(ctype)
                    if accept is not None and media and not media.startswith(accept):
                        raise FetchError(f"skipped: content type {media} is not {'/'.join(accept[:2])}",
                                         resp.status_code)
                    declared = resp.headers.get("content-length", "").strip()
                    if declared.isdigit() and int(declared) > limit:
                        raise FetchError(f"too large: Content-Length {declared} bytes over the {limit} byte cap",
                                         resp.status_code)
                    try:
                        decoder = _BoundedDecoder(resp.headers.get("content-encoding"))
                    except FetchError as exc:
                        exc.status = resp.status_code
                        raise
                    chunks: list[bytes] = []
                    size = 0
                    sniffed = not sniff

                    def add(data: bytes) -> None:
                        nonlocal size, sniffed
                        size += len(data)
                        if size > limit:
                            raise FetchError(f"too large: body over the {limit} byte cap", resp.status_code)
                        if data:
                            chunks.append(data)
                        if not sniffed and size >= SNIFF_BYTES:
                            sniffed = True
                            self._sniff(b"".join(chunks)[:SNIFF_BYTES], media, resp.status_code)

                    try:
                        async for raw in resp.aiter_raw():
                            add(decoder.decode(raw, limit - size + 1))
                        add(decoder.flush(limit - size + 1))
                        if not sniffed:
                            self._sniff(b"".join(chunks), media, resp.status_code)
                    except FetchError as exc:
                        exc.status = exc.status or resp.status_code
                        raise
                    out.body = b"".join(chunks)
                    return out
            except FetchError:
                raise
            except httpx.PoolTimeout:
                raise FetchError(f"timeout: no free connection within {timeout:g}s", kind="pool") from None
            except httpx.ConnectTimeout:
                raise FetchError(f"timeout: could not connect within {timeout:g}s", kind="connect") from None
            except httpx.TimeoutException:
                raise FetchError(f"timeout: no data for {timeout:g}s", kind="timeout") from None
            except httpx.DecodingError as exc:
                raise FetchError(f"bad content encoding: {exc}") from None
            except httpx.InvalidURL as exc:
                raise FetchError(f"bad redirect target: {exc}") from None
            except httpx.UnsupportedProtocol as exc:
                raise FetchError(f"bad URL: {exc}") from None
            except httpx.RemoteProtocolError as exc:
                if "location header" in str(exc).lower():
                    raise FetchError(f"bad redirect target: {exc}") from None
                raise FetchError(f"connection failed: {type(exc).__name__}: {exc}".rstrip(": "),
                                 kind="connect") from None
            except httpx.TransportError as exc:
                raise FetchError(f"connection failed: {type(exc).__name__}: {exc}".rstrip(": "),
                                 kind="connect") from None
        raise FetchError(f"too many redirects (more than {self.crawl.max_redirects})")

    @staticmethod
    def _sniff(head: bytes, media: str, status: int) -> None:
        what = sniff_binary(head)
        if what is not None:
            raise FetchError(f"skipped: binary content labelled {media or 'with no content type'} ({what})", status)

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
        started = utcnow()
        try:
            url = canonical_url(url)
        except BadURL as exc:
            return FetchedPage(url=url[:2048], source=source, fetched_at=started, error=f"bad URL: {exc}")
        page = FetchedPage(url=url, source=source, fetched_at=started, hint_published_at=hint_published_at)
        host = host_of(url)
        pol = self._policy(host)
        if pol.backed_off:
            page.error = f"skipped: {pol.backed_off}"
            return page
        try:
            await self._check_address(url)
        except FetchError as exc:
            page.error = exc.reason
            self._record_outcome(host, pol, exc)
            return page
        if self.obey_robots:
            rules = await self.robots(url)
            if not rules.allows(url):
                page.error = rules.error or "disallowed by robots.txt"
                return page
        accept = HTML_TYPES if kind == "article" else XML_TYPES + HTML_TYPES
        attempt = 0
        assert pol.semaphore is not None
        while True:
            attempt += 1
            t0 = time.monotonic()
            page.fetched_at = utcnow()
            try:
                async with pol.semaphore:
                    if not pol.backed_off:
                        await self._wait_turn(pol)
                    if pol.backed_off:  # another URL of this host tipped it over while we waited
                        page.error = f"skipped: {pol.backed_off}"
                        return page
                    async with self._gate(host, pol):
                        t0 = time.monotonic()
                        page.fetched_at = utcnow()
                        resp = await self._get(url, accept=accept, headers=headers, sniff=kind == "article")
                    if resp.status == 304 and not _is_conditional(headers):
                        raise FetchError("HTTP 304 (Not Modified) to a request that was not conditional", 304)
                    if resp.status != 304 and not resp.body:
                        raise FetchError(f"empty body (HTTP {resp.status})", resp.status)
            except FetchError as err:
                elapsed = (time.monotonic() - t0) * 1000
                if err.retry_after is not None:  # the whole host is asked to wait, not only this URL
                    pol.next_start = max(pol.next_start, time.monotonic() + min(err.retry_after,
                                                                                MAX_RETRY_AFTER_SECONDS))
                if err.retryable and attempt <= self.crawl.retries:
                    delay = self.backoff_seconds * (2 ** (attempt - 1)) * (0.75 + random.random() / 2)
                    if err.retry_after is not None:
                        if err.retry_after > MAX_RETRY_AFTER_SECONDS:
                            page.status, page.error, page.elapsed_ms = err.status, (
                                f"{err.reason}; Retry-After {err.retry_after:.0f}s is too long, try a later run"), elapsed
                            if pol.backed_off is None:
                                pol.backed_off = (f"host {host} asked to retry after {err.retry_after:.0f}s "
                                                  f"(HTTP {err.status} with Retry-After)")
                            return page
                        delay = max(delay, err.retry_after)
                    page.earlier_attempts.append(FetchAttempt(url=url, status=err.status, error=f"{err.reason} (retried)",
                                                              fetched_at=page.fetched_at, elapsed_ms=elapsed))
                    await asyncio.sleep(delay)
                    if pol.backed_off:
                        page.status, page.error, page.elapsed_ms = err.status, f"{err.reason}; skipped retry: {pol.backed_off}", elapsed
                        return page
                    continue
                page.status, page.error, page.elapsed_ms = err.status, err.reason, elapsed
                self._record_outcome(host, pol, err)
                return page
            page.status = resp.status
            page.content_type = resp.content_type
            page.encoding = _charset(resp.content_type)
            page.final_url = resp.final_url
            page.etag = resp.etag
            page.last_modified = resp.last_modified
            page.elapsed_ms = (time.monotonic() - t0) * 1000
            if resp.status == 304:
                page.not_modified = True
            else:
                page.body = resp.body
            self._record_outcome(host, pol, None)
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

    def backed_off_hosts(self) -> dict[str, str]:
        """See Fetcher.backed_off_hosts (read on the fetcher's own loop)."""
        async def read() -> dict[str, str]:
            return self.fetcher.backed_off_hosts()
        return self.run(read())

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
