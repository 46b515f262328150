"""The private-address guard: requests to loopback, private, link-local or special-purpose addresses are refused.

IP literals and localhost names are judged without DNS; other host names are resolved once per request (every
hop of a redirect is a request), through a `Resolver` (the system resolver unless a test passes its own), and
refused if any address is private. The addresses checked are the ones the connection then uses (the HTTP client
pins them), so a name that answers a public address to the check and 127.0.0.1 afterwards (DNS rebinding)
cannot reach loopback. Through a proxy the proxy resolves names itself: the check then judges the name's
addresses as we see them, and nothing can be pinned.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from extractors.fetch.errors import FetchError

# Resolves a host name to its IP address strings (a test hook; the default uses the system resolver).
Resolver = Callable[[str, int], Awaitable[list[str]]]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_net = ipaddress.ip_network

# The IANA IPv4 and IPv6 special-purpose address registries (RFC 6890 and its updates) plus multicast and the
# deprecated site-local and IPv4-compatible blocks: never a news site, often a way into the machine's own
# network (loopback, a cloud metadata service on 169.254.169.254 or 100.100.100.200, an intranet). A few blocks
# the registry marks globally reachable (AS112, AMT) are refused too: they hold infrastructure, not pages.
# ipaddress's `is_global` is a second net (it knows the registry as of the running Python); the embedded-IPv4
# forms (IPv4-mapped, NAT64, 6to4) are judged by the IPv4 address they carry, see embedded_ipv4.
REFUSED_NETWORKS: dict[str, tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]] = {
    "this network": (_net("0.0.0.0/8"),),
    "private-use": (_net("10.0.0.0/8"), _net("172.16.0.0/12"), _net("192.168.0.0/16")),
    "shared address space (carrier-grade NAT)": (_net("100.64.0.0/10"),),
    "loopback": (_net("127.0.0.0/8"), _net("::1/128")),
    "link-local": (_net("169.254.0.0/16"), _net("fe80::/10")),
    "IETF protocol assignments": (_net("192.0.0.0/24"), _net("2001::/23")),
    "documentation": (_net("192.0.2.0/24"), _net("198.51.100.0/24"), _net("203.0.113.0/24"),
                      _net("2001:db8::/32"), _net("3fff::/20")),
    "AS112 and AMT anycast": (_net("192.31.196.0/24"), _net("192.52.193.0/24"), _net("192.175.48.0/24")),
    "6to4 relay anycast (deprecated)": (_net("192.88.99.0/24"),),
    "benchmarking": (_net("198.18.0.0/15"),),
    "multicast": (_net("224.0.0.0/4"), _net("ff00::/8")),
    "limited broadcast": (_net("255.255.255.255/32"),),  # before "reserved", which holds it
    "reserved": (_net("240.0.0.0/4"),),
    "unspecified and IPv4-compatible (deprecated)": (_net("::/96"),),
    "local-use IPv4/IPv6 translation": (_net("64:ff9b:1::/48"),),
    "discard-only": (_net("100::/64"),),
    "SRv6 segment identifiers": (_net("5f00::/16"),),
    "unique local": (_net("fc00::/7"),),
    "site-local (deprecated)": (_net("fec0::/10"),),
}

# Globally reachable sub-blocks of the refused ones (anycast services the registries mark reachable).
GLOBAL_EXCEPTIONS = tuple(_net(n) for n in (
    "192.0.0.9/32", "192.0.0.10/32",  # PCP and TURN anycast
    "2001:1::1/128", "2001:1::2/128", "2001:3::/32", "2001:4:112::/48", "2001:20::/28", "2001:30::/28",
))

NAT64_WELL_KNOWN = _net("64:ff9b::/96")  # RFC 6052: the last 32 bits are the IPv4 address reached


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (IPv4-mapped, NAT64 well-known prefix, 6to4), or None."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def refused_range(ip: IPAddress) -> str | None:
    """The name of the special-purpose range `ip` lies in (so it is refused), or None for a public address."""
    embedded = embedded_ipv4(ip)
    if embedded is not None:
        return refused_range(embedded)
    if any(ip in net for net in GLOBAL_EXCEPTIONS if net.version == ip.version):
        return None
    for name, networks in REFUSED_NETWORKS.items():
        if any(ip in net for net in networks if net.version == ip.version):
            return name
    return None if ip.is_global else "not globally reachable"


def is_private_ip(ip: IPAddress) -> bool:
    return refused_range(ip) is not None


def is_private_host(host: str) -> bool | None:
    """True when `host` is an IP literal in a private, loopback, link-local or special-purpose range.

    Returns None for host names (they must be resolved first; see AddressGuard).
    """
    h = host.strip("[]")
    try:
        ip = ipaddress.ip_address(h.split("%")[0])
    except ValueError:
        if h in ("localhost",) or h.endswith(".localhost"):
            return True
        return None
    return is_private_ip(ip)


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class AddressGuard:
    """Checks the host of every request (and every redirect hop) and gives the addresses to connect to."""

    def __init__(self, *, allow_private: bool, resolver: Resolver | None, timeout_seconds: float) -> None:
        self.allow_private = allow_private
        self._resolver = resolver or system_resolver
        self._timeout_seconds = timeout_seconds

    async def check(self, url: str) -> list[IPAddress]:
        """The addresses of the host of `url`, resolved now and all checked: the only ones to connect to.

        Raises FetchError when one is private (unless private addresses are allowed) or the name does not
        resolve."""
        parts = urlsplit(url)
        host = (parts.hostname or "").strip("[]")
        if not self.allow_private and is_private_host(host):  # IP literals and localhost names, without DNS
            raise _refusal(host)
        addresses = await self._resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
        if not self.allow_private and any(is_private_ip(ip) for ip in addresses):
            raise _refusal(host)
        return addresses

    async def _resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            return [ipaddress.ip_address(host.split("%")[0])]
        except ValueError:
            pass  # a name
        try:
            answers = await asyncio.wait_for(self._resolver(host, port), timeout=self._timeout_seconds)
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in answers]
        except (TimeoutError, OSError, ValueError) as exc:
            raise FetchError(f"cannot resolve host {host}: {exc or 'timeout'}", kind="dns") from None
        if not addresses:
            raise FetchError(f"cannot resolve host {host}: no address", kind="dns")
        return list(dict.fromkeys(addresses))  # getaddrinfo's order (RFC 6724), duplicates dropped


def _refusal(host: str) -> FetchError:
    return FetchError(f"refused: {host} is a private, loopback or link-local address "
                      "(pass --allow-private-addresses to allow it)")
