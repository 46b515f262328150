"""The bounded HTTP client: one shared async httpx client, GETs with redirects followed by hand.

Safety: every hop's address checked by the AddressGuard and the connection pinned to the checked address
(no DNS rebinding), redirects capped (and loops refused), content encodings decoded by us with the output
bounded (so gzip bombs stop at the cap without inflating), the response size capped while streaming (so endless
bodies stop early), one total deadline per request covering every hop and read (so pages that trickle or never
finish time out), unwanted content types skipped and, on request, binary bodies labelled as HTML (PDF, images,
archives, NUL-filled data) skipped. Every failure is a FetchError; politeness and retries are the Fetcher's
business.
"""

from __future__ import annotations

import asyncio
import errno
import ssl
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from extractors.config import CrawlSettings
from extractors.discover.urls import BadURL, canonical_url, to_request_url
from extractors.fetch.address_guard import AddressGuard, IPAddress
from extractors.fetch.body import BodyCollector, BoundedDecoder, media_type
from extractors.fetch.errors import FetchError
from extractors.fetch.retry import parse_retry_after

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

# Called with the URL of every redirect hop before it is requested (robots.txt of the hop's host); raises
# FetchError to stop there.
HopCheck = Callable[[str], Awaitable[None]]


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
    truncate: bool = False  # keep the first max_bytes of a longer body instead of refusing it
    hop_check: HopCheck | None = None
    max_redirects: int | None = None  # None: the crawl settings' max_redirects


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


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost exception httpx and httpcore wrapped (the socket's or TLS library's own error)."""
    seen = {id(exc)}
    while (inner := exc.__cause__ or exc.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        exc = inner
    return exc


def _connection_failed(exc: Exception) -> FetchError:
    """The reason a person can act on: refused, reset, unreachable, a TLS problem, or else what httpx said."""
    root = _root_cause(exc)
    if isinstance(root, ssl.SSLCertVerificationError):
        reason = f"TLS certificate not accepted: {root.verify_message or root.reason}"
    elif isinstance(root, ssl.SSLError):
        reason = f"TLS handshake failed: {root.reason or root}"
    elif isinstance(root, ConnectionRefusedError):
        reason = "connection refused (nothing listens on that port)"
    elif isinstance(root, ConnectionResetError):
        reason = "connection reset by the host"
    elif isinstance(root, OSError) and root.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        reason = f"host unreachable ({root.strerror})"
    else:
        reason = f"connection failed: {type(exc).__name__}: {exc}".rstrip(": ")
    return FetchError(reason, kind="connect")


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
    if not request.truncate and declared.isdigit() and int(declared) > request.max_bytes:
        raise FetchError(f"too large: Content-Length {declared} bytes over the {request.max_bytes} byte cap",
                         status)


async def _read_body(resp: httpx.Response, request: _Request, media: str) -> bytes:
    status = resp.status_code
    try:
        decoder = BoundedDecoder(resp.headers.get("content-encoding"))
        body = BodyCollector(request.max_bytes, media=media, status=status, sniff=request.sniff,
                             truncate=request.truncate)
        async for raw in resp.aiter_raw():
            body.add(decoder.decode(raw, body.room()))
            if body.full:
                return body.finish()
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


async def _checked_hop(hop_check: HopCheck, url: str, redirect_status: int) -> None:
    """The hop check of a redirect target; its refusal carries the status of the redirect that led there."""
    try:
        await hop_check(url)
    except FetchError as exc:
        exc.status = exc.status or redirect_status
        raise


def pinned_request(client: httpx.AsyncClient, request_url: str, headers: dict[str, str] | None,
                   address: IPAddress) -> httpx.Request:
    """A GET of `request_url` sent to `address` (checked by the guard) instead of whatever the name resolves
    to at connect time: the URL carries the IP, the Host header and the TLS server name (SNI, and so the
    certificate check, via httpcore's `sni_hostname` extension) carry the name."""
    url = httpx.URL(request_url)
    pinned_headers = {**(headers or {}), "Host": url.netloc.decode("ascii")}
    extensions: dict[str, str] = {}
    if url.scheme == "https" and url.host != str(address):
        extensions["sni_hostname"] = url.raw_host.decode("ascii")
        # httpcore pools connections by (scheme, IP, port) and ignores the server name, so a kept-alive TLS
        # connection verified for one name would carry the next name on the same IP unverified: close it.
        pinned_headers["Connection"] = "close"
    return client.build_request("GET", url.copy_with(host=str(address)), headers=pinned_headers,
                                extensions=extensions)


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
        truncate: bool = False,
        hop_check: HopCheck | None = None,
        max_redirects: int | None = None,
    ) -> HttpResponse:
        """One GET with redirects followed by hand, all within one total deadline of `timeout_seconds`.

        `hop_check` is awaited with each redirect target before it is requested; `truncate` keeps the first
        `max_bytes` of a longer body; `max_redirects` overrides the crawl settings' cap."""
        request = _Request(accept, max_bytes or self.crawl.max_response_bytes, headers, sniff, truncate, hop_check,
                           max_redirects)
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
        max_redirects = self.crawl.max_redirects if request.max_redirects is None else request.max_redirects
        redirect_status: int | None = None
        for _hop in range(max_redirects + 1):
            if redirect_status is not None and request.hop_check is not None:
                await _checked_hop(request.hop_check, current, redirect_status)
            addresses = await self.guard.check(current)
            request_url = _checked_request_url(current)
            with _httpx_errors_as_fetch_errors(self.crawl.timeout_seconds):
                resp = await self._send(request_url, request.headers, addresses)
                try:
                    if resp.status_code not in REDIRECT_STATUSES:
                        return await _final_response(resp, current, request)
                    nxt = _next_hop(resp, request_url, current, seen)
                    redirect_status = resp.status_code
                finally:
                    await resp.aclose()
            seen.add(current)
            current = nxt
        raise FetchError(f"too many redirects (more than {max_redirects})", redirect_status)

    async def _send(self, request_url: str, headers: dict[str, str] | None,
                    addresses: list[IPAddress]) -> httpx.Response:
        """Send the GET to the checked addresses in turn (the next one when a connection is refused). Through a
        proxy the request goes by name: the proxy resolves it, so nothing can be pinned."""
        assert self._client is not None
        if self.crawl.proxy is not None:
            return await self._client.send(self._client.build_request("GET", request_url, headers=headers),
                                           stream=True)
        for address in addresses[:-1]:
            try:
                return await self._client.send(pinned_request(self._client, request_url, headers, address),
                                               stream=True)
            except httpx.ConnectError:
                continue  # e.g. an IPv6 address on a host without IPv6: try the next checked address
        return await self._client.send(pinned_request(self._client, request_url, headers, addresses[-1]),
                                       stream=True)
