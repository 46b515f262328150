"""Conditional GET state of feeds and sitemaps: what the server said last time, so an unchanged feed costs
one small request.

`discover_source(..., feed_states=...)` sends If-None-Match / If-Modified-Since from a FeedState and treats a
304, or a body whose SHA-256 equals the stored one (servers that ignore conditional headers), as "unchanged".
The table is `feed_state` (warehouse/schema/003_feed_state.sql); the two DuckDB functions take an open
connection so the caller decides about transactions and locking.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from extractors.discover.urls import BadURL, canonical_url

COLUMNS = ("url", "etag", "last_modified", "body_sha256", "checked_at")


@dataclass(frozen=True, slots=True)
class FeedState:
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


def load_feed_states(con: Any, urls: Iterable[str] | None = None) -> dict[str, FeedState]:
    """Stored states keyed by canonical URL: those of `urls` (canonicalised here), or all rows when None."""
    sql = f"SELECT {', '.join(COLUMNS)} FROM feed_state"
    if urls is None:
        rows = con.execute(sql).fetchall()
    else:
        keys = sorted({state_key(u) for u in urls})
        if not keys:
            return {}
        rows = con.execute(sql + " WHERE url IN (SELECT unnest(?::VARCHAR[]))", [keys]).fetchall()
    out: dict[str, FeedState] = {}
    for url, etag, last_modified, sha, checked_at in rows:
        if isinstance(checked_at, datetime) and checked_at.tzinfo is not None:
            checked_at = checked_at.astimezone(UTC)
        out[url] = FeedState(url, etag, last_modified, sha, checked_at)
    return out


def save_feed_states(con: Any, states: Iterable[FeedState]) -> int:
    """Insert or replace the given states in one parameterised statement; returns how many rows were written.

    When a URL appears twice, the last state given wins.
    """
    latest: dict[str, FeedState] = {}
    for st in states:
        latest[st.url] = st
    if not latest:
        return 0
    cols = list(zip(*((s.url, s.etag, s.last_modified, s.body_sha256, s.checked_at) for s in latest.values())))
    con.execute(
        """
        INSERT INTO feed_state (url, etag, last_modified, body_sha256, checked_at)
        SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]),
               unnest(?::TIMESTAMPTZ[])
        ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified,
            body_sha256 = excluded.body_sha256, checked_at = excluded.checked_at
        """,
        [list(c) for c in cols],
    )
    return len(latest)
