"""Hostile input against the fetcher and the feed/sitemap parsers, each case against a server on 127.0.0.1.

The odd servers live here: a raw socket server whose handlers write bytes by hand (endless and huge bodies,
gzip bombs, responses that never finish or trickle, binary content labelled text/html, ...) and a tiny
forward proxy that lets a public address redirect to a loopback one. Every case must end as a recorded failure
with a clear reason (or a success where that is right), quickly, and a batch mixing all of them with good pages
must still return the good pages.
"""

from __future__ import annotations

import asyncio
import socket
import socketserver
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from localsite import html

from extractors.config import CrawlSettings
from extractors.discover.feeds import DiscoveryError, parse_feed, parse_sitemap
from extractors.fetch.body import sniff_binary
from extractors.fetch.fetcher import Fetcher
from extractors.records import DiscoveredURL

pytestmark = pytest.mark.timeout(60)

TIMEOUT = 1.5  # seconds: the configured per-request timeout in these tests
CAP = 1_000_000  # bytes: the configured response size cap in these tests
MB = 1024 * 1024
ARABIC = "<html><head><title>خبر</title></head><body><article><p>نص عربي سليم</p></article></body></html>"


# -- a raw HTTP server whose handlers write bytes by hand --------------------------------------------------------
RawHandler = Callable[["RawConn"], None]


class RawConn:
    def __init__(self, sock: socket.socket, server: RawServer, target: str, headers: dict[str, str]):
        self.sock, self.server, self.target, self.headers = sock, server, target, headers
        self.sent = 0

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)
        self.sent += len(data)
        self.server.sent[self.path] = self.server.sent.get(self.path, 0) + len(data)

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    def head(self, status: str = "200 OK", **headers: str) -> None:
        lines = [f"HTTP/1.1 {status}", "Connection: close"]
        lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def respond(self, body: bytes, status: str = "200 OK", **headers: str) -> None:
        headers.setdefault("Content_Type", "text/html; charset=utf-8")
        self.head(status, Content_Length=str(len(body)), **headers)
        self.send(body)

    def hang(self, seconds: float = 30.0) -> None:
        self.server.stop.wait(seconds)


class RawServer:
    def __init__(self, routes: dict[str, RawHandler]):
        self.routes = routes
        self.stop = threading.Event()
        self.targets: list[str] = []
        self.sent: dict[str, int] = {}
        outer = self

        class H(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                sock.settimeout(10)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = sock.recv(4096)
                        if not chunk:
                            return
                        data += chunk
                    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
                    target = head[0].split(" ")[1]
                    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
                    outer.targets.append(target)
                    conn = RawConn(sock, outer, target, headers)
                    route = outer.routes.get(conn.path) or outer.routes.get(target)
                    if route is None:
                        conn.respond(b"not found", "404 Not Found")
                    else:
                        route(conn)
                except OSError:
                    pass  # the client hung up: expected for every capped or timed-out case

        class S(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = S(("127.0.0.1", 0), H)
        self.port = self._server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, path: str) -> str:
        return self.base + path

    def paths(self) -> list[str]:
        return [urlsplit(t).path for t in self.targets]

    def close(self) -> None:
        self.stop.set()
        self._server.shutdown()
        self._server.server_close()


# -- the hostile behaviours --------------------------------------------------------------------------------------
def endless_chunked(c: RawConn) -> None:
    c.head(Content_Type="text/html; charset=utf-8", Transfer_Encoding="chunked")
    chunk = ("<p>" + "ا" * 30000 + "</p>").encode()
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    while not c.server.stop.is_set() and c.sent < 500 * MB:
        c.send(frame)


def fifty_mb_declared(c: RawConn) -> None:
    c.head(Content_Type="text/html", Content_Length=str(50 * MB))
    block = b"<p>" + b"x" * (64 * 1024 - 7) + b"</p>"
    while c.sent < 50 * MB and not c.server.stop.is_set():
        c.send(block)


def fifty_mb_undeclared(c: RawConn) -> None:  # close-delimited: no Content-Length, no chunking
    c.head(Content_Type="text/html")
    block = b"<p>" + b"x" * (64 * 1024 - 7) + b"</p>"
    while c.sent < 50 * MB and not c.server.stop.is_set():
        c.send(block)


def _bomb_parts() -> tuple[bytes, bytes]:
    """A gzip header and a ~1 KB deflate segment that inflates to 1 MiB of zeros; repeating the segment
    (full flushes make it byte-identical each time) builds a bomb of any size without compressing GBs."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MB)
    first = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    seg = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    assert first.endswith(seg) and comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH) == seg
    return first[: len(first) - len(seg)], seg


BOMB_HEADER, BOMB_SEGMENT = _bomb_parts()
BOMB_SEGMENTS = 10_000  # ~10 MB on the wire, ~10 GiB inflated


def gzip_bomb(segments: int, declare_length: bool) -> RawHandler:
    def handler(c: RawConn) -> None:
        length = {"Content_Length": str(len(BOMB_HEADER) + segments * len(BOMB_SEGMENT))} if declare_length else {}
        c.head(Content_Type="text/html; charset=utf-8", Content_Encoding="gzip", **length)
        c.send(BOMB_HEADER)
        for _ in range(segments):
            if c.server.stop.is_set():
                return
            c.send(BOMB_SEGMENT)
    return handler


def hang_after_headers(c: RawConn) -> None:
    c.head(Content_Type="text/html", Content_Length="100000")
    c.send(b"<html><body><p>")
    c.hang()


def trickle(c: RawConn) -> None:  # a byte every 0.1 s: no single read ever times out
    c.head(Content_Type="text/html", Content_Length="100000")
    while not c.server.stop.wait(0.1):
        c.send(b"a")


def no_headers(c: RawConn) -> None:  # accepts the request, never answers
    c.hang()


def redirect_to(location: str) -> RawHandler:
    return lambda c: c.respond(b"", "302 Found", Location=location)


def body(data: bytes, **headers: str) -> RawHandler:
    return lambda c: c.respond(data, **headers)


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
NUL_JUNK = b"".join(i.to_bytes(4, "little") for i in range(1024))  # int32 array: NULs everywhere
CP1256 = "<html><head><title>أخبار</title></head><body><p>مرحبا بالعالم</p></body></html>".encode("cp1256")
CP1256_META = ('<html><head><meta charset="windows-1256"><title>أخبار</title></head>'
               "<body><p>مرحبا</p></body></html>").encode("cp1256")
SCRIPT_ONLY = b"<html><head><script>document.write('<p>hi</p>')</script></head><body><script>var a=1;</script></body></html>"

ROUTES: dict[str, RawHandler] = {
    "/endless": endless_chunked,
    "/fifty": fifty_mb_declared,
    "/fifty-undeclared": fifty_mb_undeclared,
    "/bomb": gzip_bomb(BOMB_SEGMENTS, declare_length=False),  # ~10 MB sent, close-delimited: ~10 GiB inflated
    "/bomb-small": gzip_bomb(600, declare_length=True),  # ~620 KB, under the cap on the wire: ~600 MiB inflated
    "/hang": hang_after_headers,
    "/trickle": trickle,
    "/silent": no_headers,
    "/loop": redirect_to("/loop?utm_source=again"),  # the same canonical URL again
    "/loop-a": redirect_to("/loop-b"),
    "/loop-b": redirect_to("/loop-a"),
    "/redirect-long": redirect_to("/" + "a" * 3000),
    "/redirect-js": redirect_to("javascript:alert(1)"),
    "/redirect-badport": redirect_to("http://127.0.0.1:99999/x"),
    "/pdf": body(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\n" * 50, Content_Type="text/html"),
    "/png": body(PNG, Content_Type="text/html; charset=utf-8"),
    "/zip": body(b"PK\x03\x04" + bytes(2000), Content_Type="text/html"),
    "/gif": body(b"GIF89a" + bytes(range(256)) * 4, Content_Type="text/html"),
    "/jpeg": body(b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(range(256)) * 4, Content_Type="text/html"),
    "/nul": body(NUL_JUNK, Content_Type="text/html"),
    "/utf16": body("<html><body><p>نص</p></body></html>".encode("utf-16-le") * 20, Content_Type="text/html"),
    "/empty": body(b"", Content_Type="text/html"),
    "/script-only": body(SCRIPT_ONLY),
    "/cp1256-labelled-utf8": body(CP1256, Content_Type="text/html; charset=utf-8"),
    "/cp1256-no-charset": body(CP1256_META, Content_Type="text/html"),
    "/bad-gzip": body(b"\x1f\x8b\x08\x00garbage-not-deflate" * 10, Content_Type="text/html", Content_Encoding="gzip"),
    "/brotli": body(b"\x0b\x02\x80hello\x03", Content_Type="text/html", Content_Encoding="br"),
    "/image": body(PNG, Content_Type="image/png"),
    "/gzip-ok": body(zlib.compress(ARABIC.encode(), wbits=16 + zlib.MAX_WBITS), Content_Encoding="gzip"),
    "/deflate-raw": body(zlib.compress(ARABIC.encode(), wbits=-zlib.MAX_WBITS), Content_Encoding="deflate"),
    "/deflate-zlib": body(zlib.compress(ARABIC.encode()), Content_Encoding="deflate"),
}


@pytest.fixture
def raw():
    server = RawServer(dict(ROUTES))
    yield server
    server.close()


def crawl(**kw) -> CrawlSettings:
    return CrawlSettings(timeout_seconds=kw.pop("timeout_seconds", TIMEOUT), max_response_bytes=kw.pop("cap", CAP),
                         retries=kw.pop("retries", 1), **kw)


def run_fetch(urls, *, allow_private=True, settings=None, hosts=(), **kw):
    async def go():
        async with Fetcher(settings or crawl(), allow_private_addresses=allow_private, backoff_seconds=0.05,
                           **kw) as f:
            for base in hosts:
                f.set_host_limits(base, 0, 32)  # no delay between requests: the cases are independent
            return await f.fetch_many([DiscoveredURL(url=u, source="hostile") for u in urls])
    return asyncio.run(go())


def fetch_one(server: RawServer, path: str, **kw):
    (page,) = run_fetch([server.url(path)], hosts=[server.base], **kw)
    return page


# -- size caps, bombs, endless bodies -----------------------------------------------------------------------------
def test_endless_chunked_body_stops_at_the_cap(raw):
    t0 = time.monotonic()
    page = fetch_one(raw, "/endless")
    assert page.error == f"too large: body over the {CAP} byte cap" and page.status == 200 and page.body is None
    assert time.monotonic() - t0 < TIMEOUT


def test_fifty_mb_declared_body_is_refused_from_its_header(raw):
    page = fetch_one(raw, "/fifty")
    assert page.error == f"too large: Content-Length {50 * MB} bytes over the {CAP} byte cap"
    assert raw.sent["/fifty"] < 20 * MB  # we hung up long before the server was done


def test_fifty_mb_undeclared_body_stops_at_the_cap_without_holding_it(raw):
    tracemalloc.start()
    try:
        t0 = time.monotonic()
        page = fetch_one(raw, "/fifty-undeclared")
        elapsed = time.monotonic() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert page.error == f"too large: body over the {CAP} byte cap"
    assert elapsed < TIMEOUT and peak < 12 * MB, (elapsed, peak)


@pytest.mark.parametrize("path", ["/bomb", "/bomb-small"])
def test_gzip_bomb_stops_at_the_cap_and_memory_stays_low(raw, path):
    tracemalloc.start()
    try:
        t0 = time.monotonic()
        page = fetch_one(raw, path)
        elapsed = time.monotonic() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert page.error == f"too large: body over the {CAP} byte cap" and page.body is None
    # GiBs if inflated; we inflate at most cap + 1 bytes, never a whole network read's worth at once
    assert elapsed < TIMEOUT and peak < 12 * MB, (elapsed, peak)


def test_ordinary_gzip_and_deflate_bodies_are_decoded(raw):
    for path in ("/gzip-ok", "/deflate-raw", "/deflate-zlib"):
        page = fetch_one(raw, path)
        assert page.ok and page.body.decode("utf-8") == ARABIC, (path, page.error)


def test_broken_or_unsupported_content_encoding(raw):
    bad = fetch_one(raw, "/bad-gzip")
    assert bad.error.startswith("bad content encoding: Error -3 while decompressing data") and bad.status == 200
    br = fetch_one(raw, "/brotli")
    assert br.error == "bad content encoding: unsupported Content-Encoding 'br'" and br.status == 200


# -- time ------------------------------------------------------------------------------------------------------
def test_pages_that_never_finish_time_out_within_the_configured_timeout(raw):
    """Headers then silence, a byte every 0.1 s (no single read times out), and no answer at all: the total
    deadline ends each within the configured timeout, and a timed-out page is not retried."""
    t0 = time.monotonic()
    hang, drip, silent = run_fetch([raw.url("/hang"), raw.url("/trickle"), raw.url("/silent")], hosts=[raw.base])
    elapsed = time.monotonic() - t0
    reason = f"timeout: response not finished within {TIMEOUT:g}s"
    assert hang.error == reason and drip.error == reason and silent.error == reason
    assert hang.status is None and not hang.earlier_attempts
    assert elapsed < TIMEOUT + 1.0, elapsed
    assert raw.paths().count("/trickle") == 1


# -- redirects -------------------------------------------------------------------------------------------------
def test_redirect_loops_and_bad_redirect_targets(raw):
    loop, loop2, long, js, port = run_fetch(
        [raw.url(p) for p in ("/loop", "/loop-a", "/redirect-long", "/redirect-js", "/redirect-badport")],
        hosts=[raw.base])
    assert loop.error == "redirect loop" and loop.status == 302
    assert loop2.error == "redirect loop"
    assert long.error == "bad redirect target: URL longer than 2048 characters"
    assert js.error == "bad redirect target: unsupported scheme 'javascript' (only http and https)"
    assert port.error.startswith("bad redirect target: malformed URL: Port out of range")


# -- content that is not what it says -----------------------------------------------------------------------------
@pytest.mark.parametrize("path, what", [("/pdf", "PDF"), ("/png", "PNG"), ("/zip", "ZIP"), ("/gif", "GIF"),
                                        ("/jpeg", "JPEG"), ("/nul", "NUL bytes")])
def test_binary_content_labelled_html_is_skipped(raw, path, what):
    page = fetch_one(raw, path)
    assert page.error == f"skipped: binary content labelled text/html ({what})"
    assert page.status == 200 and page.body is None


def test_utf16_html_is_not_mistaken_for_binary(raw):
    page = fetch_one(raw, "/utf16")
    assert page.ok and page.body.startswith("<html>".encode("utf-16-le"))
    assert sniff_binary(b"\xff\xfe<\x00h\x00") is None and sniff_binary(b"<!doctype html><p>x</p>") is None


def test_empty_and_script_only_pages(raw):
    empty = fetch_one(raw, "/empty")
    assert empty.error == "empty body (HTTP 200)" and empty.status == 200
    script = fetch_one(raw, "/script-only")  # fetched fine; the extraction stage rejects it
    assert script.ok and script.body == SCRIPT_ONLY


def test_wrong_or_missing_charset_comes_through_untouched(raw):
    wrong = fetch_one(raw, "/cp1256-labelled-utf8")
    assert wrong.ok and wrong.body == CP1256 and wrong.encoding == "utf-8"
    missing = fetch_one(raw, "/cp1256-no-charset")
    assert missing.ok and missing.body == CP1256_META and missing.encoding is None
    assert missing.body.decode("cp1256").startswith('<html><head><meta charset="windows-1256"><title>أخبار')


# -- addresses and URLs --------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://10.0.0.1/x", "http://169.254.169.254/latest/meta-data",
                                 "http://[::1]:8080/x", "http://[fe80::1]/x", "http://localhost/x", "http://0.0.0.0/x",
                                 "http://[::ffff:127.0.0.1]/x"])
def test_private_loopback_and_link_local_addresses_are_refused(url):
    (page,) = run_fetch([url], allow_private=False)
    assert page.error.startswith("refused: ") and "private, loopback or link-local" in page.error
    assert page.status is None


class FakeDNS:
    """The resolver hook: public-looking names whose answers we choose (no DNS here)."""

    def __init__(self, table: dict[str, str]):
        self.table, self.asked = table, []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError("Name or service not known")
        return [self.table[host]]


def test_host_names_resolving_to_private_addresses_are_refused():
    dns = FakeDNS({"intranet.example.com": "10.1.2.3", "rebind.example.com": "::ffff:192.168.1.1"})
    intranet, rebind, unknown = run_fetch(
        ["http://intranet.example.com/a", "http://rebind.example.com/b", "http://nowhere.example.com/c"],
        allow_private=False, resolver=dns)
    assert intranet.error == ("refused: intranet.example.com is a private, loopback or link-local address "
                              "(pass --allow-private-addresses to allow it)")
    assert rebind.error.startswith("refused: rebind.example.com")
    assert unknown.error == "cannot resolve host nowhere.example.com: Name or service not known"


@pytest.fixture
def proxy():
    """A forward proxy on 127.0.0.1 pretending to be the Internet: a public address (and a public name) that
    redirect to loopback / private targets."""
    routes: dict[str, RawHandler] = {}
    server = RawServer(routes)
    yield server
    server.close()


def test_a_public_address_redirecting_to_loopback_is_refused_on_the_hop(proxy, site):
    site.routes["/secret"] = html("<p>internal</p>")
    proxy.routes.update({
        "http://93.184.216.34/start": redirect_to(site.url("/secret")),
        "http://news.example.com/start": redirect_to(f"http://localhost:{int(site.base.rsplit(':', 1)[1])}/secret"),
        "http://news.example.com/intranet": redirect_to("http://intranet.example.com/admin"),
        "http://news.example.com/fine": body(ARABIC.encode()),
    })
    dns = FakeDNS({"news.example.com": "93.184.216.35", "intranet.example.com": "10.0.0.7"})
    by_ip, by_name, to_private_name, fine = run_fetch(
        ["http://93.184.216.34/start", "http://news.example.com/start", "http://news.example.com/intranet",
         "http://news.example.com/fine"],
        allow_private=False, resolver=dns, settings=crawl(proxy=proxy.base), obey_robots=False,
        hosts=["http://93.184.216.34/", "http://news.example.com/"])
    assert fine.ok and fine.body == ARABIC.encode()  # the proxy route itself works
    assert by_ip.error.startswith("refused: 127.0.0.1 is a private, loopback or link-local address")
    assert by_name.error.startswith("refused: localhost is a private")
    assert to_private_name.error.startswith("refused: intranet.example.com is a private")
    assert site.paths() == []  # the internal target was never requested
    assert not any("secret" in t or "admin" in t for t in proxy.targets)


@pytest.mark.parametrize("url, reason", [
    ("http://e.com/" + "a" * 3000, "bad URL: URL longer than 2048 characters"),
    ("http://[::1", "bad URL: malformed URL: Invalid IPv6 URL"),
    ("http://e.com:99999/", "bad URL: malformed URL: Port out of range 0-65535"),
    ("http://e.com/a\nb", "bad URL: URL contains control characters"),
    ("http://e.com/\x00", "bad URL: URL contains control characters"),
    ("javascript:alert(1)", "bad URL: unsupported scheme 'javascript' (only http and https)"),
    ("file:///etc/passwd", "bad URL: unsupported scheme 'file' (only http and https)"),
    ("http://", "bad URL: URL has no host"),
    ("", "bad URL: empty URL"),
])
def test_long_and_invalid_urls_are_recorded_failures(url, reason):
    (page,) = run_fetch([url], allow_private=False)
    assert page.error == reason and page.status is None and len(page.url) <= 2048


# -- XML: external entities, entity expansion, malformed documents --------------------------------------------
XXE_FEED = """<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>&xxe;</title>
<item><title>&xxe;</title><link>https://e.com/a?x=&xxe;</link><description>&xxe;</description></item>
</channel></rss>"""
XXE_SITEMAP = """<?xml version="1.0"?>
<!DOCTYPE urlset [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://e.com/&xxe;</loc></url></urlset>"""
LAUGHS = ('<!DOCTYPE {root} [<!ENTITY lol "lol">'
          + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
                    for i in range(1, 10))
          + "]>")
LAUGHS_FEED = ('<?xml version="1.0"?>' + LAUGHS.format(root="rss")
               + '<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title>'
                 "<link>https://e.com/a</link></item></channel></rss>")
LAUGHS_SITEMAP = ('<?xml version="1.0"?>' + LAUGHS.format(root="urlset")
                  + '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://e.com/&lol9;</loc>'
                    "</url></urlset>")
PASSWD_MARKERS = ("root:", "/bin/", "nologin")


def _no_secrets(links) -> None:
    for link in links:
        text = f"{link.url} {link.title}"
        assert not any(m in text for m in PASSWD_MARKERS), text
        assert "lollollol" not in text


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
@pytest.mark.parametrize("doc", ["xxe", "laughs"])
def test_feed_parser_never_resolves_entities(doc, encoding):
    """Refused up front (also in UTF-16); and feedparser itself, given the document past our pre-check, must
    neither read the file nor expand the entities (defence in depth)."""
    text = XXE_FEED if doc == "xxe" else LAUGHS_FEED
    data = text.replace('<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding}"?>').encode(encoding)
    t0 = time.monotonic()
    with pytest.raises(DiscoveryError, match="declares entities"):
        parse_feed(data, "https://e.com/rss")
    import io

    import feedparser

    parsed = feedparser.parse(io.BytesIO(data))
    assert time.monotonic() - t0 < 2
    dump = repr(parsed.get("feed")) + repr(parsed.get("entries"))
    assert not any(m in dump for m in PASSWD_MARKERS) and "lollollol" not in dump


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
@pytest.mark.parametrize("doc", ["xxe", "laughs"])
def test_sitemap_parser_never_resolves_entities(doc, encoding, monkeypatch):
    text = XXE_SITEMAP if doc == "xxe" else LAUGHS_SITEMAP
    data = text.replace('<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding}"?>').encode(encoding)
    t0 = time.monotonic()
    with pytest.raises(DiscoveryError, match="declares entities"):
        parse_sitemap(data)
    import extractors.discover.feeds as d

    monkeypatch.setattr(d, "_refuse_entities", lambda body: None)  # past the pre-check: the parser itself
    try:
        content = parse_sitemap(data)
    except DiscoveryError:
        content = None
    assert time.monotonic() - t0 < 2
    if content is not None:
        _no_secrets(content.urls)


@pytest.mark.parametrize("data", [b"", b"\x00\x01\x02binary", b"<rss><channel><item><link>", b"<html><body>not a feed",
                                  b"\xff\xfe\x00garbage", b'<?xml version="1.0" encoding="klingon"?><rss/>'])
def test_malformed_feeds_raise_discovery_error(data):
    with pytest.raises(DiscoveryError):
        parse_feed(data, "https://e.com/rss")


@pytest.mark.parametrize("data", [b"", b"\x1f\x8b\x08\x00junk", b"<urlset><url><loc>https://e.com/a</loc>",
                                  b"<?xml version='1.0'?><feed/>", PNG])
def test_malformed_sitemaps_raise_discovery_error(data):
    with pytest.raises(DiscoveryError):
        parse_sitemap(data)


def test_gzipped_sitemap_bomb_is_refused():
    data = BOMB_HEADER + BOMB_SEGMENT * 60  # ~60 MiB inflated, over the 50 MB sitemap limit
    t0 = time.monotonic()
    with pytest.raises(DiscoveryError, match="expands beyond"):
        parse_sitemap(data)
    assert time.monotonic() - t0 < 2


# -- everything at once ------------------------------------------------------------------------------------------
def test_a_batch_of_every_hostile_case_still_returns_the_good_pages(raw, site):
    for i in range(3):
        site.routes[f"/good{i}.html"] = html(ARABIC)
    hostile = {
        "/endless": f"too large: body over the {CAP} byte cap",
        "/fifty": f"too large: Content-Length {50 * MB} bytes over the {CAP} byte cap",
        "/fifty-undeclared": f"too large: body over the {CAP} byte cap",
        "/bomb": f"too large: body over the {CAP} byte cap",
        "/hang": f"timeout: response not finished within {TIMEOUT:g}s",
        "/trickle": f"timeout: response not finished within {TIMEOUT:g}s",
        "/silent": f"timeout: response not finished within {TIMEOUT:g}s",
        "/loop-a": "redirect loop",
        "/redirect-long": "bad redirect target: URL longer than 2048 characters",
        "/pdf": "skipped: binary content labelled text/html (PDF)",
        "/png": "skipped: binary content labelled text/html (PNG)",
        "/nul": "skipped: binary content labelled text/html (NUL bytes)",
        "/empty": "empty body (HTTP 200)",
        "/bad-gzip": "bad content encoding: Error -3 while decompressing data",
        "/brotli": "bad content encoding: unsupported Content-Encoding 'br'",
        "/image": "skipped: content type image/png is not text/html/application/xhtml+xml",
        "/nothing-here": "HTTP 404",
    }
    fine = ["/script-only", "/cp1256-labelled-utf8", "/gzip-ok"]
    bad_urls = {"http://[::1": "bad URL: malformed URL: Invalid IPv6 URL", "javascript:x()":
                "bad URL: unsupported scheme 'javascript' (only http and https)",
                "http://e.com/" + "a" * 3000: "bad URL: URL longer than 2048 characters"}
    good = [site.url(f"/good{i}.html") for i in range(3)]
    urls = [good[0], *[raw.url(p) for p in hostile], good[1], *[raw.url(p) for p in fine], *bad_urls, good[2]]
    t0 = time.monotonic()
    pages = run_fetch(urls, hosts=[raw.base, site.base])
    assert time.monotonic() - t0 < TIMEOUT + 3
    by_url = dict(zip(urls, pages))
    for u in good:
        assert by_url[u].ok and by_url[u].body == ARABIC.encode() and by_url[u].status == 200
    for path, reason in hostile.items():
        assert by_url[raw.url(path)].error.startswith(reason), (path, by_url[raw.url(path)].error)
    for path in fine:
        assert by_url[raw.url(path)].ok, path
    for u, reason in bad_urls.items():
        assert by_url[u].error == reason
    assert [p.url for p in pages][: 1] == [good[0]]  # results in input order
