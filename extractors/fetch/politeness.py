"""Per-host politeness inside one process: request spacing, concurrency, and backing off a failing host.

Each host gets a HostPolicy: a minimum interval between request starts and a concurrency cap (from the
source's settings, made stricter by robots.txt Crawl-delay or a Retry-After), and a count of consecutive
failures after which the host is backed off for the rest of the run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass

from extractors.fetch.errors import FetchError

HOST_FAILURE_LIMIT = 5  # consecutive failures (after retries) before a host is backed off for the run
MAX_CRAWL_DELAY_SECONDS = 60.0  # a longer robots.txt Crawl-delay is capped to this
DEFAULT_INTERVAL_SECONDS = 1.0  # hosts no source configured
DEFAULT_CONCURRENCY = 2

# Politeness shared with other processes (e.g. flows/politeness.py: Prefect global concurrency and rate limits):
# called as `host_gate(host, requests_per_second, max_concurrency)` and entered around every request attempt,
# inside the in-process limits. It may raise FetchError (recorded like any failed attempt). An object with an
# `aclose()` coroutine method is closed with the Fetcher.
HostGate = Callable[[str, float, int], AbstractAsyncContextManager[object]]


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


class HostPoliteness:
    """The HostPolicy of every host seen in a run, and the rules that update them."""

    def __init__(self, *, failure_limit: int = HOST_FAILURE_LIMIT, host_gate: HostGate | None = None) -> None:
        self.failure_limit = failure_limit  # 0 or less: never back off
        self.host_gate = host_gate
        self._policies: dict[str, HostPolicy] = {}
        self._configured: dict[str, tuple[float, int]] = {}  # host -> (interval, concurrency) from sources

    def set_limits(self, host: str, requests_per_second: float, max_concurrency: int) -> None:
        interval = 0.0 if requests_per_second <= 0 else 1.0 / requests_per_second
        self._configured[host] = (interval, max_concurrency)
        if host in self._policies:  # keep the strictest if two sources share a host
            policy = self._policies[host]
            policy.min_interval = max(policy.min_interval, interval)

    def policy(self, host: str) -> HostPolicy:
        policy = self._policies.get(host)
        if policy is None:
            interval, concurrency = self._configured.get(host, (DEFAULT_INTERVAL_SECONDS, DEFAULT_CONCURRENCY))
            policy = HostPolicy(min_interval=interval, max_concurrency=concurrency,
                                semaphore=asyncio.Semaphore(concurrency), lock=asyncio.Lock())
            self._policies[host] = policy
        return policy

    def apply_crawl_delay(self, host: str, delay: float | None) -> None:
        if delay is not None:
            policy = self.policy(host)
            policy.min_interval = max(policy.min_interval, min(delay, MAX_CRAWL_DELAY_SECONDS))

    def pause_host(self, policy: HostPolicy, seconds: float) -> None:
        """No request to the host starts within `seconds` from now (a Retry-After for the whole host)."""
        policy.next_start = max(policy.next_start, time.monotonic() + seconds)

    def backed_off_hosts(self) -> dict[str, str]:
        return {host: policy.backed_off for host, policy in self._policies.items() if policy.backed_off}

    def gate(self, host: str, policy: HostPolicy) -> AbstractAsyncContextManager[object]:
        """The shared politeness gate of `host` (a no-op without a `host_gate`)."""
        if self.host_gate is None:
            return nullcontext()
        rps = 0.0 if policy.min_interval <= 0 else 1.0 / policy.min_interval
        return self.host_gate(host, rps, policy.max_concurrency)

    async def wait_turn(self, policy: HostPolicy) -> None:
        """Sleep until this request may start, and book the next start `min_interval` later."""
        assert policy.lock is not None
        async with policy.lock:
            now = time.monotonic()
            wait = policy.next_start - now
            policy.next_start = max(now, policy.next_start) + policy.min_interval
        if wait > 0:
            await asyncio.sleep(wait)

    def record_outcome(self, host: str, policy: HostPolicy, err: FetchError | None) -> None:
        """Count a host failure (or reset the count); back the host off after `failure_limit` in a row."""
        if err is None or not err.host_failure:
            policy.consecutive_failures = 0
            return
        policy.consecutive_failures += 1
        policy.last_failure = err.reason
        if (self.failure_limit > 0 and policy.backed_off is None
                and policy.consecutive_failures >= self.failure_limit):
            policy.backed_off = (f"host {host} backed off after {policy.consecutive_failures} consecutive failures "
                                 f"(last: {err.reason})")

    async def aclose(self) -> None:
        close_gate = getattr(self.host_gate, "aclose", None)
        if close_gate is not None:
            await close_gate()
