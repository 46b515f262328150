"""The `feed_state` table (warehouse/schema/003_feed_state.sql): conditional-GET state of feeds and sitemaps.

The FeedState values and the logic that uses them live in extractors.discover.feed_state; these two functions
read and write them on an open connection, so the caller decides about transactions and locking.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import duckdb

from extractors.discover.feed_state import FeedState, state_key
from warehouse.tables import FEED_STATE

SELECT_STATES = f"SELECT {FEED_STATE.column_list()} FROM feed_state"
SELECT_STATES_OF = SELECT_STATES + " WHERE url IN (SELECT unnest(?::VARCHAR[]))"
# one row per state: the positional parameters are the columns, as arrays
STATES_GIVEN = "(SELECT " + ", ".join(f"unnest(?::{c.type.sql}[]) AS {c.name}" for c in FEED_STATE.columns) + ")"
UPSERT_STATES = FEED_STATE.merge(STATES_GIVEN, key=("url",))


def load_feed_states(con: duckdb.DuckDBPyConnection, urls: Iterable[str] | None = None) -> dict[str, FeedState]:
    """Stored states keyed by canonical URL: those of `urls` (canonicalised here), or all rows when None."""
    if urls is None:
        rows = con.execute(SELECT_STATES).fetchall()
    else:
        keys = sorted({state_key(u) for u in urls})
        if not keys:
            return {}
        rows = con.execute(SELECT_STATES_OF, [keys]).fetchall()
    out: dict[str, FeedState] = {}
    for url, etag, last_modified, sha, checked_at in rows:
        if isinstance(checked_at, datetime) and checked_at.tzinfo is not None:
            checked_at = checked_at.astimezone(UTC)
        out[url] = FeedState(url, etag, last_modified, sha, checked_at)
    return out


def save_feed_states(con: duckdb.DuckDBPyConnection, states: Iterable[FeedState]) -> int:
    """Insert or replace the given states in one parameterised statement; returns how many rows were written.

    When a URL appears twice, the last state given wins.
    """
    latest: dict[str, FeedState] = {}
    for st in states:
        latest[st.url] = st
    if not latest:
        return 0
    values = list(latest.values())
    con.execute(UPSERT_STATES, [[getattr(s, name) for s in values] for name in FEED_STATE.names])
    return len(latest)
