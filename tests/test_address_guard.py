"""The private-address guard against DNS rebinding and the special-purpose address ranges.

Rebinding: a resolver the test controls answers a public address first and 127.0.0.1 afterwards, and a real
HTTP server on 127.0.0.1 must never be asked, whether the name comes as a URL (as with `ingest-urls`), as a feed
in sources.toml, or as a redirect hop. Pinning: the connection goes to the address the guard checked (the
resolver's answer), with the name in the Host header and as the TLS server name.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from localsite import html
from test_hostile import ARABIC, RawServer, body, crawl, redirect_to

from extractors.config import CrawlSettings, load_config
from extractors.discover.feeds import discover_source
from extractors.fetch.address_guard import AddressGuard, is_private_host, refused_range
from extractors.fetch.errors import FetchError
from extractors.fetch.fetcher import Fetcher
from flows.sample_site import QuietHTTPServer

pytestmark = pytest.mark.timeout(60)

PUBLIC = "93.184.216.34"
REFUSED = "refused: {} is a private, loopback or link-local address (pass --allow-private-addresses to allow it)"


def loopback_alias() -> str:
    """A name the system resolver maps to 127.0.0.1 (from /etc/hosts) other than localhost, so that code which
    resolves again at connect time really reaches the test server; a made-up name where there is none."""
    for line in Path("/etc/hosts").read_text().splitlines():
        fields = line.split("#")[0].split()
        if fields[:1] == ["127.0.0.1"]:
            names = [n for n in fields[1:] if n != "localhost" and not n.endswith(".localhost")]
            if names:
                return names[0]
    return "rebind.example.com"


class RebindingDNS:
    """Answers `public` for the first `public_answers` questions about each name, then `later` (the rebind)."""

    def __init__(self, public_answers: int = 1, public: str = PUBLIC, later: str = "127.0.0.1"):
        self.public_answers, self.public, self.later = public_answers, public, later
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return [self.public if self.asked.count(host) <= self.public_answers else self.later]


class FixedDNS:
    def __init__(self, table: dict[str, list[str]]):
        self.table, self.asked = table, []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return self.table[host]


def fetch(urls: list[str], *, allow_private: bool, resolver, settings: CrawlSettings | None = None, **kw):
    async def go():
        async with Fetcher(settings or crawl(retries=0), allow_private_addresses=allow_private,
                           resolver=resolver, backoff_seconds=0.01, **kw) as f:
            return [await f.fetch(u, "rebinding") for u in urls]  # in order: the resolver counts questions
    return asyncio.run(go())


def port_of(site) -> int:
    return int(site.base.rsplit(":", 1)[1])


# -- DNS rebinding -------------------------------------------------------------------------------------------------
def test_a_name_rebinding_to_loopback_is_refused_when_fetched_directly(site):
    site.routes["/secret"] = html("<p>internal</p>")
    site.routes["/robots.txt"] = (200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n")
    name = loopback_alias()
    dns = RebindingDNS()
    (page,) = fetch([f"http://{name}:{port_of(site)}/secret"], allow_private=False, resolver=dns)
    assert page.error is not None and REFUSED.format(name) in page.error and page.body is None
    assert site.paths() == []  # neither robots.txt nor the page was requested from 127.0.0.1
    assert len(dns.asked) >= 2  # checked again for the request itself, not judged once per run


def test_a_feed_in_sources_toml_rebinding_to_loopback_is_refused(site, tmp_path):
    site.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"},
                                b"<rss><channel><item><link>http://example.com/a</link></item></channel></rss>")
    name = loopback_alias()
    feed = f"http://{name}:{port_of(site)}/feed.xml"
    (tmp_path / "sources.toml").write_text(f'[[sources]]\nname = "rebind"\nfeeds = ["{feed}"]\n')
    (source,) = load_config(tmp_path / "sources.toml").sources

    async def go():
        async with Fetcher(crawl(retries=0), allow_private_addresses=False, resolver=RebindingDNS(),
                           obey_robots=False) as f:
            return await discover_source(f, source)

    result = asyncio.run(go())
    assert result.urls == [] and result.errors == [f"{feed}: " + REFUSED.format(name)]
    assert site.paths() == []


def test_a_redirect_hop_to_a_name_that_rebound_is_refused():
    """The hop's name was public for an earlier request of the same run; by the hop it answers 127.0.0.1.
    (The "public" site is a proxy on 127.0.0.1: the only way to serve a public address here.)"""
    proxy = RawServer({
        "http://rebind.example.com/first": body(ARABIC.encode()),
        "http://news.example.com/start": redirect_to("http://rebind.example.com/secret"),
    })
    try:
        dns = RebindingDNS(public_answers=2)  # both checks of the first fetch see the public address
        first, hop = fetch(["http://rebind.example.com/first", "http://news.example.com/start"],
                           allow_private=False, resolver=dns, settings=crawl(retries=0, proxy=proxy.base),
                           obey_robots=False)
    finally:
        proxy.close()
    assert first.ok and first.body == ARABIC.encode()
    assert hop.error == REFUSED.format("rebind.example.com")
    assert not any("secret" in t for t in proxy.targets)


def test_the_connection_goes_to_the_checked_address_with_the_name_as_host(site):
    """No DNS knows these names: only a connection pinned to the resolver's answer reaches the server."""
    site.routes["/start"] = html("", 302, Location=f"http://hop.example.com:{port_of(site)}/page")
    site.routes["/page"] = html(ARABIC)
    dns = FixedDNS({"news.example.com": ["127.0.0.1"], "hop.example.com": ["127.0.0.1"]})
    (page,) = fetch([f"http://news.example.com:{port_of(site)}/start"], allow_private=True, resolver=dns,
                    obey_robots=False)
    assert page.ok and page.body == ARABIC.encode() and page.final_url == f"http://hop.example.com:{port_of(site)}/page"
    assert [(r.path, r.headers["host"]) for r in site.requests] == [
        ("/start", f"news.example.com:{port_of(site)}"), ("/page", f"hop.example.com:{port_of(site)}")]
    assert dns.asked == ["news.example.com", "news.example.com", "hop.example.com"]


def test_the_next_checked_address_is_tried_when_one_refuses_connections(site):
    site.routes["/page"] = html(ARABIC)
    dns = FixedDNS({"news.example.com": ["127.0.0.2", "127.0.0.1"]})  # the site listens on 127.0.0.1 only
    (page,) = fetch([f"http://news.example.com:{port_of(site)}/page"], allow_private=True, resolver=dns,
                    obey_robots=False)
    assert page.ok and page.body == ARABIC.encode() and site.paths() == ["/page"]


# -- TLS through a pinned connection -----------------------------------------------------------------------------
def issue_certificates(directory: Path, name: str) -> tuple[Path, Path, Path]:
    """A CA (trusted by the client through SSL_CERT_FILE) and a certificate for `name` only (no IP address)."""
    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject: str, key, issuer: str, issuer_key, *, ca: bool):
        builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            builder = builder.add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
                decipher_only=False), critical=True)
            builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        else:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
            builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                issuer_key.public_key()), False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_cert = certificate("akhbar test CA", ca_key, "akhbar test CA", ca_key, ca=True)
    leaf_cert = certificate(name, leaf_key, "akhbar test CA", ca_key, ca=False)
    paths = directory / "ca.pem", directory / "leaf.pem", directory / "leaf.key"
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf_cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    return paths


@pytest.fixture
def tls_site(tmp_path, monkeypatch):
    """An HTTPS server on 127.0.0.1 with a certificate for news.example.com; records SNI names and Host headers."""
    ca, leaf, key = issue_certificates(tmp_path, "news.example.com")
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # httpx trusts it (trust_env, no proxy configured)
    seen: dict[str, list[str]] = {"sni": [], "host": []}
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(leaf, key)
    context.sni_callback = lambda sock, server_name, ctx: seen["sni"].append(server_name)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: a verified connection must not serve another name

        def log_message(self, *a: object) -> None:
            pass

        def do_GET(self) -> None:
            seen["host"].append(self.headers["Host"])
            data = ARABIC.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = QuietHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()


def test_tls_to_a_pinned_address_uses_and_verifies_the_host_name(tls_site):
    port, seen = tls_site
    dns = FixedDNS({"news.example.com": ["127.0.0.1"], "other.example.com": ["127.0.0.1"]})
    good, wrong_name = fetch([f"https://news.example.com:{port}/", f"https://other.example.com:{port}/"],
                             allow_private=True, resolver=dns, obey_robots=False)
    assert good.ok and good.body == ARABIC.encode()
    assert seen["host"] == [f"news.example.com:{port}"]  # the other name never got past the handshake
    assert seen["sni"][:1] == ["news.example.com"] and "other.example.com" in seen["sni"]
    assert wrong_name.error is not None and wrong_name.error.startswith("TLS certificate not accepted: "), \
        wrong_name.error


# -- the special-purpose ranges ----------------------------------------------------------------------------------
@pytest.mark.parametrize("address, kind", [
    ("0.1.2.3", "this network"), ("10.1.2.3", "private-use"), ("172.20.0.1", "private-use"),
    ("192.168.1.1", "private-use"),
    ("100.64.0.1", "shared address space (carrier-grade NAT)"),
    ("100.100.100.200", "shared address space (carrier-grade NAT)"),  # a cloud metadata service
    ("127.0.0.1", "loopback"), ("127.255.255.254", "loopback"), ("169.254.169.254", "link-local"),
    ("192.0.0.8", "IETF protocol assignments"), ("192.0.0.170", "IETF protocol assignments"),
    ("192.0.2.1", "documentation"), ("198.51.100.7", "documentation"), ("203.0.113.9", "documentation"),
    ("192.31.196.1", "AS112 and AMT anycast"), ("192.52.193.1", "AS112 and AMT anycast"),
    ("192.175.48.1", "AS112 and AMT anycast"), ("192.88.99.1", "6to4 relay anycast (deprecated)"),
    ("198.18.0.1", "benchmarking"), ("198.19.255.1", "benchmarking"), ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"), ("240.0.0.1", "reserved"), ("255.255.255.255", "limited broadcast"),
    ("::", "unspecified and IPv4-compatible (deprecated)"), ("::1", "loopback"),
    ("::7f00:1", "unspecified and IPv4-compatible (deprecated)"),
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:100.100.100.200", "shared address space (carrier-grade NAT)"),
    ("64:ff9b::7f00:1", "loopback"), ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 127.0.0.1, 169.254.169.254
    ("64:ff9b::a00:1", "private-use"), ("64:ff9b:1::808:808", "local-use IPv4/IPv6 translation"),
    ("100::1", "discard-only"), ("2001::1", "IETF protocol assignments"),  # Teredo
    ("2001:2::1", "IETF protocol assignments"), ("2001:10::1", "IETF protocol assignments"),
    ("2001:db8::1", "documentation"), ("3fff::1", "documentation"),
    ("2002:7f00:1::1", "loopback"), ("2002:a00:1::1", "private-use"),  # 6to4 of 127.0.0.1, 10.0.0.1
    ("2002:6464:64c8::1", "shared address space (carrier-grade NAT)"),  # 6to4 of 100.100.100.200
    ("5f00::1", "SRv6 segment identifiers"), ("fc00::1", "unique local"), ("fd12:3456::1", "unique local"),
    ("fe80::1", "link-local"), ("fec0::1", "site-local (deprecated)"), ("feff::1", "site-local (deprecated)"),
    ("ff02::1", "multicast"), ("ff0e::1", "multicast"),
])
def test_special_purpose_addresses_are_refused(address, kind):
    assert refused_range(ipaddress.ip_address(address)) == kind
    assert is_private_host(address) is True and is_private_host(f"[{address}]") is True


@pytest.mark.parametrize("address", [
    "8.8.8.8", "93.184.216.34", "100.63.255.255", "100.128.0.1", "192.0.0.9", "192.0.0.10", "2606:4700::1111",
    "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:5db8:d822::1",  # IPv4-mapped, NAT64 and 6to4 of public IPv4
    "2001:1::1", "2001:3::1", "2001:4:112::1", "2001:20::1", "2001:30::1",  # the globally reachable sub-blocks
])
def test_public_addresses_are_allowed(address):
    assert refused_range(ipaddress.ip_address(address)) is None and is_private_host(address) is False


@pytest.mark.parametrize("answer", ["100.100.100.200", "64:ff9b::7f00:1", "2002:c0a8:101::1", "fec0::1"])
def test_names_resolving_into_a_new_range_are_refused(answer):
    guard = AddressGuard(allow_private=False, resolver=FixedDNS({"meta.example.com": [PUBLIC, answer]}),
                         timeout_seconds=5)
    with pytest.raises(FetchError, match="refused: meta.example.com is a private"):
        asyncio.run(guard.check("http://meta.example.com/latest"))


@pytest.mark.parametrize("url", ["http://100.100.100.200/latest/meta-data", "http://[64:ff9b::a9fe:a9fe]/",
                                 "http://[2002:a9fe:a9fe::1]/", "http://[fec0::1]:8080/"])
def test_literal_urls_in_a_new_range_are_refused_without_a_request(url):
    (page,) = fetch([url], allow_private=False, resolver=FixedDNS({}))
    assert page.error is not None and page.error.startswith("refused: ") and page.status is None
