"""The warehouse as the flows use it: `Warehouse` opens it (a DuckDB file or a `ducklake:` catalog) for each
call and closes it after, so people can query between loads.

Every write is one transaction (`Warehouse.write`). On a lake, many processes write at once: each write first
takes the writer turn (migration 017), so writes that would insert the same keys are ordered rather than
merged side by side, and a commit that lost the race is run again (warehouse.connection.lake_retrying).

Besides loading batches (warehouse.loader), it records sources and runs and answers the few reads the flows
need (known article ids, archived pages, source time zones).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from extractors.config import Source
from extractors.records import FetchLogRow, ProcessedArticle, RawPage
from warehouse.arrow_records import raw_page_of
from warehouse.connection import (
    DEFAULT_DB_PATH,
    LAKE_SETUP_RACE,
    LOAD_ROW_GROUP_ROWS,
    connect,
    lake_retrying,
    migrate,
    transaction,
    write_transaction,
    writing,
)
from warehouse.lake_location import is_lake
from warehouse.loader import LoadCounts, load_batch, responsive_gil
from warehouse.recovery import Repair, begin_load, finish_load, pause_point, repair_unfinished_loads
from warehouse.tables import RAW_PAGES, SOURCES

log = logging.getLogger("akhbar.warehouse")
T = TypeVar("T")

SOURCE_GIVEN = SOURCES.parameter_row(given={"updated_at": "now()"})
UPSERT_SOURCE = SOURCES.merge(SOURCE_GIVEN, key=("name",))
# A source name used by ingest-urls: recorded if new, never overwriting a configured source's settings.
ENSURE_SOURCE = SOURCES.merge(SOURCE_GIVEN, key=("name",), update=False)

START_RUN = """
MERGE INTO runs AS t USING (SELECT $run_id AS run_id) AS s ON t.run_id = s.run_id
WHEN MATCHED THEN UPDATE SET status = 'running'
WHEN NOT MATCHED THEN INSERT (run_id, flow, started_at, status, parameters)
    VALUES ($run_id, $flow, $started_at, 'running', $parameters)
"""

FINISH_RUN = """
UPDATE runs SET finished_at = ?, discovered = ?, fetched = ?, stored = ?, failed = ?, status = ?,
    ner_backend = ?, ner_model = ?
WHERE run_id = ?
"""

RAW_PAGES_PAGE = f"""
SELECT {RAW_PAGES.column_list()}
FROM raw_pages
WHERE article_id > $after AND ($source = '' OR source = $source)
ORDER BY article_id
LIMIT $limit
"""

SOURCE_TIMEZONES = "SELECT name, timezone FROM sources"

KNOWN_ARTICLES = """
SELECT article_id FROM articles WHERE article_id IN (SELECT unnest($ids))
UNION
SELECT alias_id FROM url_aliases WHERE alias_id IN (SELECT unnest($ids))
"""

# Those of $ids stored (as an article or as another URL of one) by a fetch older than $before.
DUE_FOR_REFETCH = """
SELECT article_id FROM articles WHERE article_id IN (SELECT unnest($ids)) AND fetched_at < $before
UNION
SELECT u.alias_id FROM url_aliases u JOIN articles a USING (article_id)
WHERE u.alias_id IN (SELECT unnest($ids)) AND a.fetched_at < $before
"""


def upsert_sources(con: duckdb.DuckDBPyConnection, sources: Sequence[Source], *, replace: bool = True) -> None:
    """Record the sources' settings; with replace=False only names not known yet are added."""
    for source in sources:
        con.execute(UPSERT_SOURCE if replace else ENSURE_SOURCE, source.settings_dict())


def known_article_ids(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> set[str]:
    """Those of `ids` stored as an article or as another URL of a stored article."""
    if not ids:
        return set()
    return {r[0] for r in con.execute(KNOWN_ARTICLES, {"ids": list(ids)}).fetchall()}


def due_for_refetch(con: duckdb.DuckDBPyConnection, ids: Sequence[str], before: datetime) -> set[str]:
    """Those of `ids` whose stored article was fetched before `before` (refetch_after_days)."""
    if not ids:
        return set()
    return {r[0] for r in con.execute(DUE_FOR_REFETCH, {"ids": list(ids), "before": before}).fetchall()}


class Warehouse:
    """The akhbar warehouse, a DuckDB file or a `ducklake:` catalog. Every method opens it, does its work in one
    transaction and closes it. `data_path`: where a new lake puts its Parquet files."""

    def __init__(self, path: str | Path = DEFAULT_DB_PATH, *, data_path: str | None = None,
                 wait_seconds: float = 300.0, on_wait: Callable[[str], None] | None = None,
                 load_row_group_rows: int = LOAD_ROW_GROUP_ROWS) -> None:
        self.lake = is_lake(path)
        self.path: str | Path = str(path) if self.lake else Path(path)
        self.data_path = data_path
        self.wait_seconds = wait_seconds
        self.on_wait = on_wait
        self.load_row_group_rows = load_row_group_rows  # row groups of the data each load appends to a file

    @contextmanager
    def connection(self, *, read_only: bool = False,
                   row_group_rows: int | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        con = connect(self.path, read_only=read_only, data_path=self.data_path, wait_seconds=self.wait_seconds,
                      on_wait=self.on_wait, row_group_rows=row_group_rows)
        try:
            yield con
        finally:
            con.close()

    def transaction(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """One write transaction (appends to a file in row groups of `load_row_group_rows`; on a lake it takes
        the writer turn first). A commit that loses a race raises: `write` runs it again."""
        return writing(self.path, data_path=self.data_path, wait_seconds=self.wait_seconds, on_wait=self.on_wait,
                       row_group_rows=self.load_row_group_rows)

    def write(self, work: Callable[[duckdb.DuckDBPyConnection], T], *, what: str = "write") -> T:
        """`work(con)` in one write transaction, run again on a lake when its commit loses a race."""
        return write_transaction(self.path, work, what=what, data_path=self.data_path,
                                 wait_seconds=self.wait_seconds, on_wait=self.on_wait,
                                 row_group_rows=self.load_row_group_rows)

    def migrate(self) -> list[int]:
        def once() -> list[int]:
            with self.connection() as con:
                return migrate(con)

        return lake_retrying(once, what="migrate", transient=LAKE_SETUP_RACE) if self.lake else once()

    def upsert_sources(self, sources: Sequence[Source], *, replace: bool = True) -> None:
        """Record the sources' settings; with replace=False only names not known yet are added."""
        self.write(lambda con: upsert_sources(con, sources, replace=replace), what="sources")

    def start_run(self, run_id: str, flow: str, parameters: dict[str, Any]) -> None:
        given = {"run_id": run_id, "flow": flow, "started_at": datetime.now(UTC),
                 "parameters": json.dumps(parameters, ensure_ascii=False, default=str)}
        self.write(lambda con: con.execute(START_RUN, given), what="run start")

    def finish_run(self, run_id: str, *, discovered: int, fetched: int, stored: int, failed: int,
                   status: str = "completed", ner_backend: str | None = None, ner_model: str | None = None) -> None:
        values = [datetime.now(UTC), discovered, fetched, stored, failed, status, ner_backend, ner_model, run_id]
        self.write(lambda con: con.execute(FINISH_RUN, values), what="run end")

    def known_article_ids(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        with self.connection() as con:
            return known_article_ids(con, ids)

    def due_for_refetch(self, ids: Sequence[str], before: datetime) -> set[str]:
        if not ids:
            return set()
        with self.connection() as con:
            return due_for_refetch(con, ids, before)

    def raw_pages(self, *, source: str | None = None, batch_size: int = 200) -> Iterator[list[RawPage]]:
        """Archived pages in batches (the file is opened per batch, so loads can happen in between)."""
        after = ""
        while True:
            with self.connection() as con:
                cursor = con.execute(RAW_PAGES_PAGE, {"after": after, "source": source or "", "limit": batch_size})
                names = [d[0] for d in cursor.description or ()]
                rows = [dict(zip(names, r)) for r in cursor.fetchall()]
            if not rows:
                return
            after = rows[-1]["article_id"]
            yield [raw_page_of(r) for r in rows]

    def source_timezones(self) -> dict[str, str]:
        with self.connection() as con:
            return {name: tz for name, tz in con.execute(SOURCE_TIMEZONES).fetchall() if tz}

    def load(self, articles: Sequence[ProcessedArticle], fetch_rows: Sequence[FetchLogRow],
             run_id: str | None) -> LoadCounts:
        """Upsert articles, replace their mentions, refresh their entities and append the fetch log in one
        transaction, journaled (warehouse/recovery.py): DuckDB can recover a transaction killed in its WAL write
        half-applied, so what an unfinished load left is repaired first, by this load or the next one."""
        if self.lake:  # a lake commit is whole or absent: no journal, no repair
            with responsive_gil():
                return self.write(lambda con: load_batch(con, articles, fetch_rows, run_id), what="load")
        unique_ids = list(dict.fromkeys(a.article_id for a in articles))
        pause_point("load-start")
        with responsive_gil(), self.connection(row_group_rows=self.load_row_group_rows) as con:
            self._repair(con)
            load_id = begin_load(con, unique_ids) if unique_ids else None
            pause_point("load-begun")
            with transaction(con):
                counts = load_batch(con, articles, fetch_rows, run_id)
                if load_id:
                    finish_load(con, load_id)
                pause_point("load-commit")
            pause_point("load-committed")
            return counts

    def repair(self) -> Repair | None:
        """Repair what loads killed half-way left in the file (warehouse/recovery.py); None when none did (and
        always on a lake, whose commits are whole)."""
        if self.lake:
            return None
        with self.connection() as con:
            return self._repair(con)

    def _repair(self, con: duckdb.DuckDBPyConnection) -> Repair | None:
        done = repair_unfinished_loads(con)
        if done is not None:
            log.warning("%s: repaired %d unfinished load(s) left by a crash: %d mention and %d story-band rows "
                        "removed, entity counts recounted", self.path, done.loads, done.mentions_removed,
                        done.bands_removed)
        return done
