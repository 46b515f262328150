"""Retention: how long the logs of a database are kept (`[crawl] keep_fetches_days`, `keep_raw_days`).

Each ingest run deletes the `fetches` rows and the archived raw pages (`raw_pages`) fetched before its cut-off.
Articles, their mentions and entities are never deleted: a raw page past its age only means `akhbar reprocess`
cannot re-extract that article any more (a refetch archives it again). The statements run on an open
connection inside the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

DELETE_OLD_FETCHES = "DELETE FROM fetches WHERE fetched_at < $before"
DELETE_OLD_RAW_PAGES = "DELETE FROM raw_pages WHERE fetched_at < $before"


@dataclass(frozen=True, slots=True)
class RetentionCounts:
    """Rows one retention pass deleted."""

    fetches: int = 0
    raw_pages: int = 0

    def describe(self) -> str:
        return f"{self.fetches} fetch-log rows and {self.raw_pages} archived raw pages"


def cutoff(now: datetime, days: float | None) -> datetime | None:
    """The moment before which rows go, for a retention of `days` (None: kept for ever)."""
    return None if days is None else now - timedelta(days=days)


def _delete(con: duckdb.DuckDBPyConnection, statement: str, before: datetime | None) -> int:
    if before is None:
        return 0
    row = con.execute(statement, {"before": before}).fetchone()
    return int(row[0]) if row else 0


def apply_retention(con: duckdb.DuckDBPyConnection, *, now: datetime, keep_fetches_days: float | None,
                    keep_raw_days: float | None) -> RetentionCounts:
    """Delete the fetch-log rows and raw pages older than their retention (each None: kept)."""
    return RetentionCounts(
        fetches=_delete(con, DELETE_OLD_FETCHES, cutoff(now, keep_fetches_days)),
        raw_pages=_delete(con, DELETE_OLD_RAW_PAGES, cutoff(now, keep_raw_days)),
    )
