"""The retry policy: which failed attempts are tried again, after how long, and how Retry-After is honoured."""

from __future__ import annotations

import email.utils
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from extractors.fetch.errors import FetchError

# A server asking for a longer wait than this is not waited for: the URL fails now, the host is backed off.
MAX_RETRY_AFTER_SECONDS = 120.0


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
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Up to `retries` more attempts on retryable failures, with jittered exponential backoff."""

    retries: int
    backoff_seconds: float

    def should_retry(self, err: FetchError, attempt: int) -> bool:
        """Whether attempt number `attempt` (1 for the first), which failed with `err`, is tried again."""
        return err.retryable and attempt <= self.retries

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before the next attempt: the backoff, or the server's Retry-After if longer."""
        backoff = self.backoff_seconds * (2 ** (attempt - 1)) * (0.75 + random.random() / 2)
        return backoff if retry_after is None else max(backoff, retry_after)


def retry_after_too_long(retry_after: float | None) -> bool:
    return retry_after is not None and retry_after > MAX_RETRY_AFTER_SECONDS


def host_wait_seconds(retry_after: float) -> float:
    """How long the whole host is paused after a Retry-After answer (capped)."""
    return min(retry_after, MAX_RETRY_AFTER_SECONDS)
