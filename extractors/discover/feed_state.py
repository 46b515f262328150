"""Conditional GET state of feeds and sitemaps: what the server said last time, so an unchanged feed costs
one small request.

`discover_source(..., feed_states=...)` sends If-None-Match / If-Modified-Since from a FeedState and treats a
304, or a body whose SHA-256 equals the stored one (servers that ignore conditional headers), as "unchanged".
The states are stored in the `feed_state` table by warehouse.feed_states; this module knows nothing of it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from extractors.discover.urls import BadURL, canonical_url


@dataclass(frozen=True, slots=True)
class FeedState:
    """What a feed's or sitemap's server said last time: its validators and a hash of the body."""

    url: str  # canonical feed or sitemap URL
    etag: str | None = None
    last_modified: str | None = None
    body_sha256: str | None = None
    checked_at: datetime | None = None


def state_key(url: str) -> str:
    """The key a feed URL is stored under: its canonical form (the raw string when it has none)."""
    try:
        return canonical_url(url)
    except BadURL:
        return url


def body_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def conditional_headers(state: FeedState | None) -> dict[str, str]:
    """If-None-Match / If-Modified-Since for a request, from what the server said last time."""
    headers: dict[str, str] = {}
    if state is None:
        return headers
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def _clean(value: Any, limit: int = 1024) -> str | None:
    """A header value safe to store and send back: a short string without control characters."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > limit or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return None
    return value


def new_state(url: str, *, etag: str | None, last_modified: str | None, sha256: str | None,
              checked_at: datetime | None = None) -> FeedState:
    return FeedState(url=state_key(url), etag=_clean(etag), last_modified=_clean(last_modified),
                     body_sha256=sha256, checked_at=checked_at or datetime.now(UTC))
