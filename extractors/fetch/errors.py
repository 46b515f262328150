"""The one error of the fetch stage, and how a failure is classified (worth retrying? is the host failing?)."""

from __future__ import annotations

# Answers that may change on a later attempt: rate limited, or the server (or a gateway) failing for now.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


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
