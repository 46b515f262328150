"""Per-host politeness shared by every worker: Prefect global concurrency and rate limits, kept by the server.

The in-process limits of `extractors.fetch.fetcher.Fetcher` (a semaphore and a request spacing per host) only know
about the requests of one process. When several Prefect workers (or several runs at once on one worker) can
fetch from the same host, enable shared politeness: each host then gets two global concurrency limits on the
Prefect server, created or updated at the start of a run from the sources' settings,

- `akhbar-host-<host>`: a concurrency limit, `limit = max_concurrency` (open requests to the host), and
- `akhbar-host-<host>-rate`: a rate limit, `limit = 1` with `slot_decay_per_second = requests_per_second`
  (only for hosts with `requests_per_second > 0`),

and every request attempt holds a slot of the first (with a lease, so a crashed worker's slot comes back when
the lease expires) and takes a token of the second before it starts; when no token is free the slot is given back
at once and both are asked for again, so no worker keeps the host's slots while it waits. No host sees more than
its limits across all workers. The in-process limits stay in force too; the stricter of the two wins.

When sources share a host, the strictest settings of a run's sources are used (the lower rate and the lower
concurrency), as `Fetcher.set_host_limits` does in one process. Runs with different settings for one host
overwrite each other's limits: the run that started last sets them. Keep one host's settings the same in every
sources file.

Enable it with the ingest flow's `shared_politeness=True` or `AKHBAR_SHARED_POLITENESS=1` (for example in a work
pool's environment). It needs a Prefect server that every worker talks to (`PREFECT_API_URL`); in the local
ephemeral mode one process runs everything and the in-process limits are enough. Cost: three small API calls
per request (slot, token, release), more while waiting; a Prefect server on PostgreSQL handles that easily at
crawling rates (see docs/SCALING.md).

Without shared politeness, runs on one machine still share each host's limits through lock files
(`local_host_gate`, extractors/fetch/host_locks.py), and runs into one database do not fetch a URL another is
fetching (`flows.sinks.url_claims_for_warehouse`, extractors/fetch/claims.py).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from extractors.config import Source
from extractors.discover.urls import BadURL, canonical_url, host_of
from extractors.fetch.errors import FetchError
from extractors.fetch.host_locks import LocalHostGate
from flows.settings import load_settings

PREFIX = "akhbar-host-"
MAX_NAME = 120
# Server leases are at least 60 s; a request never outlives `timeout_seconds` (one deadline per request).
MIN_LEASE_SECONDS = 60.0
# A denied slot is asked for again after the server's Retry-After, but at most this long: the server's estimate
# starts from a 2 s average occupancy, far above a page request's, and a crawler should not idle on it.
MAX_RETRY_SLEEP = 0.25
BUSY_STATUSES = frozenset({429, 502, 503, 504})


def host_locks_dir() -> Path:
    """Where runs on this machine share per-host limits through lock files (AKHBAR_HOST_LOCKS_DIR, or one
    directory per user in the temp directory: every run of this user on this machine meets there)."""
    configured = load_settings().host_locks_dir
    return Path(configured) if configured else Path(tempfile.gettempdir()) / f"akhbar-{os.getuid()}" / "hosts"


def local_host_gate() -> LocalHostGate:
    """Per-host limits shared with the other runs on this machine (used when there is no shared politeness)."""
    return LocalHostGate(host_locks_dir())


def shared_politeness_enabled(value: bool | None) -> bool:
    """The flow parameter when given, else the `AKHBAR_SHARED_POLITENESS` setting (flows/settings.py)."""
    if value is not None:
        return bool(value)
    return load_settings().shared_politeness


def limit_name(host: str) -> str:
    """`akhbar-host-<host>` with anything but [a-z0-9.-] replaced by `-` (a port `:8080` becomes `-8080`)."""
    safe = re.sub(r"[^a-z0-9.\-]+", "-", host.lower()).strip("-") or "unknown"
    return (PREFIX + safe)[:MAX_NAME]


def rate_limit_name(host: str) -> str:
    return limit_name(host)[: MAX_NAME - 5] + "-rate"


@dataclass(frozen=True, slots=True)
class HostLimits:
    host: str
    requests_per_second: float  # 0: no rate limit
    max_concurrency: int


def host_limits(sources: Iterable[Source]) -> dict[str, HostLimits]:
    """Per host (of every feed, sitemap and homepage of the sources), the strictest settings of its sources."""
    out: dict[str, HostLimits] = {}
    for s in sources:
        for url in (*s.feeds, *s.sitemaps, s.homepage or ""):
            if not url:
                continue
            try:
                host = host_of(canonical_url(url))
            except BadURL:
                continue
            old = out.get(host)
            rps, conc = float(s.requests_per_second), int(s.max_concurrency)
            if old is not None:
                rps = rps if old.requests_per_second <= 0 else (
                    old.requests_per_second if rps <= 0 else min(rps, old.requests_per_second))
                conc = min(conc, old.max_concurrency)
            out[host] = HostLimits(host, rps, conc)
    return out


def _upsert(client: Any, name: str, limit: int, decay: float | None) -> None:
    """Create or update one global limit; safe when several runs start at once (Prefect's own upsert is not)."""
    from prefect.exceptions import ObjectAlreadyExists

    for _attempt in range(3):
        try:
            client.upsert_global_concurrency_limit_by_name(name, limit, slot_decay_per_second=decay)
            return
        except ObjectAlreadyExists:  # another run created it between our read and our create: update it
            continue
    client.upsert_global_concurrency_limit_by_name(name, limit, slot_decay_per_second=decay)


def ensure_limits(limits: Iterable[HostLimits]) -> list[str]:
    """Create or update the global limits of these hosts on the Prefect server (idempotent); their names."""
    from prefect.client.orchestration import get_client

    names: list[str] = []
    with get_client(sync_client=True) as c:
        for lim in limits:
            _upsert(c, limit_name(lim.host), max(1, lim.max_concurrency), None)
            names.append(limit_name(lim.host))
            if lim.requests_per_second > 0:
                _upsert(c, rate_limit_name(lim.host), 1, lim.requests_per_second)
                names.append(rate_limit_name(lim.host))
    return names


class PrefectHostGate:
    """The `host_gate` of `extractors.fetch.fetcher.Fetcher`, backed by the Prefect server's global limits.

    Lives on the fetcher's event loop: one Prefect client, opened on first use and closed with the fetcher.
    A host whose limits do not exist on the server (a host no source declared, e.g. after a redirect to another
    site) is limited in-process only.
    """

    def __init__(self, *, lease_seconds: float = MIN_LEASE_SECONDS, api_deadline: float = 120.0) -> None:
        self.lease_seconds = max(MIN_LEASE_SECONDS, lease_seconds)
        self._client: Any = None
        self._open_lock: asyncio.Lock | None = None
        self._missing: set[str] = set()
        self.waited_seconds = 0.0  # time spent waiting for the server's permission (for the run log)
        self.requests = 0
        self.api_calls = 0
        self.api_retries = 0  # calls asked again because the server was busy or unreachable
        self.api_deadline = api_deadline
        self._retry_after = 0.1

    async def _get_client(self) -> Any:
        if self._client is None:
            if self._open_lock is None:
                self._open_lock = asyncio.Lock()
            async with self._open_lock:
                if self._client is None:
                    from prefect.client.orchestration import get_client

                    client = get_client()
                    await client.__aenter__()
                    self._client = client
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.__aexit__(None, None, None)

    async def _call(self, send: Callable[[Any], Awaitable[httpx.Response]]) -> httpx.Response | None:
        """One API call: its response, or None when the server denied a slot (HTTP 423).

        A busy server (429/502/503/504, e.g. SQLite locked) or a dropped connection is asked again after a short
        pause, up to `api_deadline` seconds: the Prefect client's own retries back off for seconds, which would
        leave the host idle while a slot is free.
        """
        from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings

        client = await self._get_client()
        deadline = time.monotonic() + self.api_deadline
        while True:
            self.api_calls += 1
            try:
                with temporary_settings(updates={PREFECT_CLIENT_MAX_RETRIES: 0}):
                    return await send(client)
            except httpx.HTTPStatusError as exc:
                code = exc.response.status_code
                if code == 423:
                    self._retry_after = float(exc.response.headers.get("Retry-After") or 0.1)
                    return None
                if code not in BUSY_STATUSES:
                    raise FetchError(f"shared politeness unavailable: Prefect API answered HTTP {code}",
                                     kind="pool") from None
                why, pause = f"HTTP {code}", float(exc.response.headers.get("Retry-After") or 0.2)
            except (httpx.TransportError, OSError) as exc:
                why, pause = type(exc).__name__, 0.5
            self.api_retries += 1
            if time.monotonic() > deadline:
                raise FetchError(f"shared politeness unavailable: Prefect API kept failing ({why})", kind="pool")
            await asyncio.sleep(min(pause, 1.0) * (0.5 + random.random()))

    async def _acquire(self, names: list[str], mode: str, lease: bool, *, wait: bool = True,
                       max_sleep: float = MAX_RETRY_SLEEP) -> Any:
        """One slot of each limit in `names`: the server's answer (JSON), or with `wait=False` None when denied.

        Denied slots (HTTP 423) are asked for again after the server's Retry-After, capped at `max_sleep`.
        """
        while True:
            if lease:
                resp = await self._call(lambda c: c.increment_concurrency_slots_with_lease(
                    names=names, slots=1, mode=mode, lease_duration=self.lease_seconds))
            else:
                resp = await self._call(lambda c: c.increment_concurrency_slots(names=names, slots=1, mode=mode))
            if resp is not None:
                return resp.json()
            if not wait:
                return None
            await asyncio.sleep(min(max(self._retry_after, 0.01), max_sleep) * (0.5 + random.random() / 2))

    async def _release(self, lease_id: UUID) -> None:
        with suppress(Exception):  # an unreleased slot comes back when its lease expires
            await self._call(lambda c: c.release_concurrency_slots_with_lease(lease_id=lease_id))

    @asynccontextmanager
    async def __call__(self, host: str, requests_per_second: float, max_concurrency: int) -> AsyncIterator[None]:
        """Hold a concurrency slot of the host, take a rate token, make the request, give the slot back.

        The slot is taken first so the request starts right after its token (the spacing holds), but a slot is
        never held while waiting for a token: when none is free the slot goes back at once and both are asked for
        again, so a busy worker cannot starve another by keeping the host's only slot while it waits.
        """
        conc = limit_name(host)
        if conc in self._missing:
            yield
            return
        t0 = time.monotonic()
        pause = min(MAX_RETRY_SLEEP, 1.0 / requests_per_second) if requests_per_second > 0 else MAX_RETRY_SLEEP
        while True:
            got = await self._acquire([conc], "concurrency", lease=True, max_sleep=min(0.1, pause))
            if not got.get("limits"):  # the limit does not exist: a host no source declared
                self._missing.add(conc)
                yield
                return
            lease_id = UUID(str(got["lease_id"]))
            # (a rate limit missing on the server answers [] at once: in-process spacing only)
            if requests_per_second <= 0 or await self._acquire([rate_limit_name(host)], "rate_limit", lease=False,
                                                               wait=False) is not None:
                break
            await self._release(lease_id)
            await asyncio.sleep(pause * (0.5 + random.random() / 2))
        try:
            self.waited_seconds += time.monotonic() - t0
            self.requests += 1
            yield
        finally:
            await self._release(lease_id)
