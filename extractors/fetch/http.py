"""The bounded HTTP client: one shared async httpx client, GETs with redirects followed by hand.

Safety: every hop's address checked by the AddressGuard, redirects capped (and loops refused), content
encodings decoded by us with the output bounded (so gzip bombs stop at the cap without inflating), the
response size capped while streaming (so endless bodies stop early), one total deadline per request covering
every hop and read (so pages that trickle or never finish time out), unwanted content types skipped and, on
request, binary bodies labelled as HTML (PDF, images, archives, NUL-filled data) skipped. Every failure is a
FetchError; politeness and retries are the Fetcher's business.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from extractors.config import CrawlSettings
from extractors.discover.urls import BadURL, canonical_url, to_request_url
from extractors.fetch.address_guard import AddressGuard
from extractors.fetch.body import BodyCollector, BoundedDecoder, media_type
from extractors.fetch.errors import FetchError
from extractors.fetch.retry import parse_retry_after

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(slots=True)
class HttpResponse:
    """A final (non-redirect) answer; `body` is empty for a 304."""

    status: int
    body: bytes
    content_type: str | None
    final_url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class _Request:
    accept: tuple[str, ...] | None  # media type prefixes accepted; None: any
    max_bytes: int
    headers: dict[str, str] | None
    sniff: bool  # refuse binary bodies whatever their content type


def redirect_target(request_url: str, location: str) -> str:
    """The canonical URL a Location header points to; FetchError when it is not a usable URL."""
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
            redirect_target(str(response.request.url), location)
        except FetchError as exc:
            exc.status = response.status_code
            raise


def _checked_request_url(url: str) -> str:
    request_url = to_request_url(url)
    try:
        httpx.URL(request_url)
    except httpx.InvalidURL as exc:
        raise FetchError(f"bad URL: {exc}") from None
    return request_url


def _connection_failed(exc: Exception) -> FetchError:
    return FetchError(f"connection failed: {type(exc).__name__}: {exc}".rstrip(": "), kind="connect")


@contextmanager
def _httpx_errors_as_fetch_errors(timeout: float) -> Iterator[None]:
    """httpx's exceptions as FetchErrors with a reason a person can read (FetchErrors pass unchanged)."""
    try:
        yield
    except httpx.PoolTimeout:
        raise FetchError(f"timeout: no free connection within {timeout:g}s", kind="pool") from None
    except httpx.ConnectTimeout:
        raise FetchError(f"timeout: could not connect within {timeout:g}s", kind="connect") from None
    except httpx.TimeoutException:
        raise FetchError(f"timeout: no data for {timeout:g}s", kind="timeout") from None
    except httpx.DecodingError as exc:
        raise FetchError(f"bad content encoding: {exc}") from None
    except httpx.InvalidURL as exc:
        # httpx parses a redirect's Location even when not following it
        raise FetchError(f"bad redirect target: {exc}") from None
    except httpx.UnsupportedProtocol as exc:
        raise FetchError(f"bad URL: {exc}") from None
    except httpx.RemoteProtocolError as exc:
        if "location header" in str(exc).lower():
            raise FetchError(f"bad redirect target: {exc}") from None
        raise _connection_failed(exc) from None
    except httpx.TransportError as exc:
        raise _connection_failed(exc) from None


def _next_hop(resp: httpx.Response, request_url: str, current: str, seen: set[str]) -> str:
    location = resp.headers.get("location")
    if not location:
        raise FetchError("redirect without Location header", resp.status_code)
    try:
        nxt = redirect_target(request_url, location)
    except FetchError as exc:
        exc.status = resp.status_code
        raise
    if nxt in seen or nxt == current:
        raise FetchError("redirect loop", resp.status_code)
    return nxt


def _check_head(resp: httpx.Response, request: _Request, media: str) -> None:
    """Refuse an answer from its status line and headers, before reading the body."""
    status = resp.status_code
    if request.accept is not None and media and not media.startswith(request.accept):
        raise FetchError(f"skipped: content type {media} is not {'/'.join(request.accept[:2])}", status)
    declared = resp.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > request.max_bytes:
        raise FetchError(f"too large: Content-Length {declared} bytes over the {request.max_bytes} byte cap",
                         status)


async def _read_body(resp: httpx.Response, request: _Request, media: str) -> bytes:
    status = resp.status_code
    try:
        decoder = BoundedDecoder(resp.headers.get("content-encoding"))
        body = BodyCollector(request.max_bytes, media=media, status=status, sniff=request.sniff)
        async for raw in resp.aiter_raw():
            body.add(decoder.decode(raw, body.room()))
        body.add(decoder.flush(body.room()))
        return body.finish()
    except FetchError as exc:
        exc.status = exc.status or status
        raise


async def _final_response(resp: httpx.Response, url: str, request: _Request) -> HttpResponse:
    status = resp.status_code
    if status >= 400 or (300 <= status < 400 and status != 304):
        raise FetchError(f"HTTP {status}", status, parse_retry_after(resp.headers.get("retry-after")))
    content_type = resp.headers.get("content-type")
    out = HttpResponse(status, b"", content_type, url, resp.headers.get("etag"), resp.headers.get("last-modified"))
    if status == 304:
        return out
    media = media_type(content_type)
    _check_head(resp, request, media)
    out.body = await _read_body(resp, request, media)
    return out


class BoundedHttpClient:
    """One httpx.AsyncClient for a run; `open()` before the first `get`, `aclose()` at the end."""

    def __init__(self, crawl: CrawlSettings, guard: AddressGuard) -> None:
        self.crawl = crawl
        self.guard = guard
        self._client: httpx.AsyncClient | None = None

    def open(self) -> None:
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

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def get(
        self,
        url: str,
        *,
        accept: tuple[str, ...] | None,
        max_bytes: int | None = None,
        headers: dict[str, str] | None = None,
        sniff: bool = False,
    ) -> HttpResponse:
        """One GET with redirects followed by hand, all within one total deadline of `timeout_seconds`."""
        request = _Request(accept, max_bytes or self.crawl.max_response_bytes, headers, sniff)
        deadline = self.crawl.timeout_seconds
        try:
            async with asyncio.timeout(deadline):
                return await self._get_hops(url, request)
        except TimeoutError:
            raise FetchError(f"timeout: response not finished within {deadline:g}s", kind="timeout") from None

    async def _get_hops(self, url: str, request: _Request) -> HttpResponse:
        assert self._client is not None, "use the Fetcher as an async context manager"
        current = url
        seen: set[str] = set()
        for _hop in range(self.crawl.max_redirects + 1):
            await self.guard.check(current)
            request_url = _checked_request_url(current)
            with _httpx_errors_as_fetch_errors(self.crawl.timeout_seconds):
                async with self._client.stream("GET", request_url, headers=request.headers) as resp:
                    if resp.status_code not in REDIRECT_STATUSES:
                        return await _final_response(resp, current, request)
                    nxt = _next_hop(resp, request_url, current, seen)
            seen.add(current)
            current = nxt
        raise FetchError(f"too many redirects (more than {self.crawl.max_redirects})")
