"""The private-address guard: requests to loopback, private, link-local or reserved addresses are refused.

IP literals and localhost names are judged without DNS; other host names are resolved once per run (through
a `Resolver`, the system resolver unless a test passes its own) and refused if any address is private.
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


def is_private_host(host: str) -> bool | None:
    """True when `host` is an IP literal in a private, loopback, link-local or reserved range.

    Returns None for host names (they must be resolved first; see AddressGuard).
    """
    h = host.strip("[]")
    try:
        ip = ipaddress.ip_address(h)
    except ValueError:
        if h in ("localhost",) or h.endswith(".localhost"):
            return True
        return None
    return is_private_ip(ip)


def is_private_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
        or ip.is_unspecified
    )


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class AddressGuard:
    """Checks the host of every URL (and every redirect hop) before it is requested; verdicts cached per host."""

    def __init__(self, *, allow_private: bool, resolver: Resolver | None, timeout_seconds: float) -> None:
        self.allow_private = allow_private
        self._resolver = resolver or system_resolver
        self._timeout_seconds = timeout_seconds
        self._public_by_host: dict[str, bool] = {}

    async def check(self, url: str) -> None:
        """Raise FetchError when the host of `url` is private (or cannot be resolved)."""
        if self.allow_private:
            return
        parts = urlsplit(url)
        host = (parts.hostname or "").strip("[]")
        if host not in self._public_by_host:
            self._public_by_host[host] = await self._is_public(host, parts.port or 80)
        if not self._public_by_host[host]:
            raise FetchError(f"refused: {host} is a private, loopback or link-local address "
                             "(pass --allow-private-addresses to allow it)")

    async def _is_public(self, host: str, port: int) -> bool:
        literal = is_private_host(host)  # IP literals and localhost names, without DNS
        if literal is not None:
            return not literal
        try:
            addrs = await asyncio.wait_for(self._resolver(host, port), timeout=self._timeout_seconds)
            ips = [ipaddress.ip_address(a.split("%")[0]) for a in addrs]
        except (TimeoutError, OSError, ValueError) as exc:
            raise FetchError(f"cannot resolve host {host}: {exc or 'timeout'}", kind="dns") from None
        if not ips:
            raise FetchError(f"cannot resolve host {host}: no address", kind="dns")
        return not any(is_private_ip(ip) for ip in ips)
