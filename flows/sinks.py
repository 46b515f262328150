"""Where a run's rows go: the warehouse, a DuckDB file or a DuckLake (`ducklake:<catalog>`, warehouse/connection.py).

The ingest and reprocess flows build one sink when they start and use it for everything the run stores or asks
about: the run's start and end, the feed states and already stored article ids that discovery needs, each batch's
rows, and the feed states to keep for the next run. Both forms of the warehouse go through the same `Warehouse`,
so there is one sink.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from extractors.config import CrawlSettings, Source
from extractors.discover.feed_state import FeedState
from extractors.fetch.claims import UrlClaims
from extractors.records import FetchLogRow, ProcessedArticle
from flows.reporting import publish_html_report
from flows.run_summary import RunSummary
from warehouse.connection import is_lake, verify_database
from warehouse.feed_states import load_feed_states, save_feed_states
from warehouse.lake_location import absolute_lake, catalog_file, display_location
from warehouse.loader import LoadCounts
from warehouse.retention import RetentionCounts, apply_retention
from warehouse.search import refresh_search_index
from warehouse.store import Warehouse

Log = Callable[[str], None]


class WarehouseSink:
    """The run's rows go straight into the warehouse (a DuckDB file is opened per call, so it is free between
    loads; a lake takes commits from several runs at once).

    `data_path` is where a lake's Parquet files go when this run creates the lake (None: DuckLake's default
    beside a file catalog, required for a PostgreSQL catalog). A lake that exists keeps the data path its catalog
    holds: leave `data_path` out, or give that same one; another one fails to open (WarehouseError naming both).
    Not for a DuckDB file (the CLI refuses the pair)."""

    def __init__(self, db_path: str, run_id: str, *, data_path: str | None = None, log: Log | None = None) -> None:
        self.db_path = db_path
        self.run_id = run_id
        self.log = log
        self.warehouse = Warehouse(db_path, data_path=data_path, on_wait=log)

    def start_run(self, sources: Sequence[Source], flow_name: str, parameters: dict[str, Any], *,
                  replace_sources: bool = True) -> None:
        # a damaged file stops the run before anything is written into it (every block's checksum is read); a
        # lake has no DuckDB file of its own to check
        if not is_lake(self.db_path):
            verify_database(self.db_path, on_wait=self.log)
        self.warehouse.migrate()
        self.warehouse.upsert_sources(sources, replace=replace_sources)
        self.warehouse.start_run(self.run_id, flow_name, parameters)

    def feed_states(self) -> dict[str, FeedState]:
        with self.warehouse.connection() as con:
            return load_feed_states(con)

    def known_article_ids(self, ids: Sequence[str]) -> set[str]:
        return self.warehouse.known_article_ids(ids)

    def due_for_refetch(self, ids: Sequence[str], before: datetime) -> set[str]:
        return self.warehouse.due_for_refetch(ids, before)

    def apply_retention(self, crawl: CrawlSettings) -> RetentionCounts | None:
        """Delete the fetch-log rows and raw pages past `keep_fetches_days` / `keep_raw_days` (None: none set)."""
        if crawl.keep_fetches_days is None and crawl.keep_raw_days is None:
            return None
        now = datetime.now(UTC)
        return self.warehouse.write(lambda con: apply_retention(con, now=now, keep_fetches_days=crawl.keep_fetches_days,
                                                                keep_raw_days=crawl.keep_raw_days), what="retention")

    def load(self, articles: Sequence[ProcessedArticle], fetch_rows: Sequence[FetchLogRow]) -> LoadCounts:
        return self.warehouse.load(articles, fetch_rows, self.run_id)

    def save_feed_states(self, states: Sequence[FeedState]) -> None:
        self.warehouse.write(lambda con: save_feed_states(con, states), what="feed states")

    def finish_run(self, summary: RunSummary, status: str) -> None:
        self.warehouse.finish_run(self.run_id, discovered=summary.discovered, fetched=summary.fetched,
                                  stored=summary.stored, failed=summary.failed, status=status,
                                  ner_backend=summary.ner_backend, ner_model=summary.ner_model)

    def refresh_search(self) -> None:
        """Once per run, after loading: the full-text index does not follow inserts."""
        refresh_search_index(self.db_path, log=self.log)

    def describe(self) -> str:
        return f"db: {display_location(self.db_path)}"

    def publish_report(self) -> str | None:
        """The HTML report next to the database (its path; None when it could not be written)."""
        return publish_html_report(self.db_path)


def absolute_location(location: str) -> str:
    """A warehouse or data path with its local file or directory made absolute, as `akhbar serve` hands them to the
    runs it serves; URLs and catalogs on a server unchanged."""
    if "://" in location:
        return location
    if not is_lake(location):
        return str(Path(location).expanduser().resolve())
    return absolute_lake(location)


def warehouse_name(db_path: str) -> str:
    """How a run names its warehouse: a DuckDB file's path as given (normalised), a lake's `ducklake:` string."""
    return db_path if is_lake(db_path) else str(Path(db_path))


def url_claims_for_warehouse(db_path: str) -> UrlClaims:
    """The claims on the URLs runs into this warehouse on this machine are fetching (extractors/fetch/claims.py),
    so two of them do not fetch one page twice (runs into other warehouses still fetch it): a `.claims` folder
    beside the DuckDB file or the lake's catalog file; for a catalog on a server, in the temporary directory under
    a name made from the catalog (its DSN may hold a password, so a hash of it). Runs on other machines do not see
    them; a page two machines fetch at once is stored once all the same (the loads upsert)."""
    local = catalog_file(db_path) if is_lake(db_path) else Path(db_path)
    if local is None:
        digest = hashlib.sha256(db_path.encode("utf-8")).hexdigest()[:16]
        local = Path(tempfile.gettempdir()) / f"akhbar-lake-{digest}"
    return UrlClaims(Path(f"{local}.claims"))
