"""Where a run's rows go: the DuckDB warehouse, or a Parquet lake that `merge-lake` merges later.

The ingest flow chooses one sink when it starts and uses it for everything the run stores or asks about:
the run's start and end, the feed states and already stored article ids that discovery needs, each batch's
rows, and the feed states to keep for the next run. Each sink is built once per run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from extractors.config import CrawlSettings, Source
from extractors.discover.feed_state import FeedState
from extractors.records import FetchLogRow, ProcessedArticle
from flows.reporting import publish_html_report
from flows.run_summary import RunSummary
from warehouse.connection import verify_database
from warehouse.feed_states import load_feed_states, save_feed_states
from warehouse.lake import LakeWriter
from warehouse.loader import LoadCounts
from warehouse.retention import RetentionCounts, apply_retention
from warehouse.search import refresh_search_index
from warehouse.store import Warehouse, due_for_refetch, known_article_ids

Log = Callable[[str], None]


class RunSink(Protocol):
    """What the flows need from the place a run's rows go."""

    kind: str  # names the run's prepare task: prepare-warehouse or prepare-lake
    load_each_batch: bool  # True: load every processed batch at once rather than grouping batches into loads

    def start_run(self, sources: Sequence[Source], flow_name: str, parameters: dict[str, Any], *,
                  replace_sources: bool = True) -> None: ...

    def feed_states(self) -> dict[str, FeedState]: ...

    def known_article_ids(self, ids: Sequence[str]) -> set[str]: ...

    def due_for_refetch(self, ids: Sequence[str], before: datetime) -> set[str]: ...

    def apply_retention(self, crawl: CrawlSettings) -> RetentionCounts | None: ...

    def load(self, articles: Sequence[ProcessedArticle], fetch_rows: Sequence[FetchLogRow]) -> LoadCounts: ...

    def save_feed_states(self, states: Sequence[FeedState]) -> None: ...

    def finish_run(self, summary: RunSummary, status: str) -> None: ...

    def refresh_search(self) -> None: ...

    def describe(self) -> str: ...

    def publish_report(self) -> str | None: ...


class WarehouseSink:
    """The run's rows go straight into the DuckDB file (opened per call, so it is free between loads)."""

    kind = "warehouse"
    load_each_batch = False

    def __init__(self, db_path: str, run_id: str, *, log: Log | None = None) -> None:
        self.db_path = db_path
        self.run_id = run_id
        self.log = log
        self.warehouse = Warehouse(db_path, on_wait=log)

    def start_run(self, sources: Sequence[Source], flow_name: str, parameters: dict[str, Any], *,
                  replace_sources: bool = True) -> None:
        # a damaged file stops the run before anything is written into it (every block's checksum is read)
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
        with self.warehouse.transaction() as con:
            return apply_retention(con, now=datetime.now(UTC), keep_fetches_days=crawl.keep_fetches_days,
                                   keep_raw_days=crawl.keep_raw_days)

    def load(self, articles: Sequence[ProcessedArticle], fetch_rows: Sequence[FetchLogRow]) -> LoadCounts:
        return self.warehouse.load(articles, fetch_rows, self.run_id)

    def save_feed_states(self, states: Sequence[FeedState]) -> None:
        with self.warehouse.transaction() as con:
            save_feed_states(con, states)

    def finish_run(self, summary: RunSummary, status: str) -> None:
        self.warehouse.finish_run(self.run_id, discovered=summary.discovered, fetched=summary.fetched,
                                  stored=summary.stored, failed=summary.failed, status=status,
                                  ner_backend=summary.ner_backend, ner_model=summary.ner_model)

    def refresh_search(self) -> None:
        """Once per run, after loading: the full-text index does not follow inserts."""
        refresh_search_index(self.db_path, log=self.log)

    def describe(self) -> str:
        return f"db: {self.db_path}"

    def publish_report(self) -> str | None:
        """The HTML report next to the database (its path; None when it could not be written)."""
        return publish_html_report(self.db_path)


class LakeSink:
    """The run's rows go to a lake as Parquet files; the DuckDB file, if any, is only read, and only briefly.

    Each processed batch is one worker's file set, written as soon as it is ready. Feed states and stored article
    ids come from the database when there is one (read-only); without it every URL is new (the merge
    deduplicates whatever is fetched twice).
    """

    kind = "lake"
    load_each_batch = True

    def __init__(self, lake: str, db_path: str, run_id: str, *, log: Log | None = None) -> None:
        self.lake = lake
        self.db_path = db_path
        self.log = log
        self.writer = LakeWriter(lake, run_id)
        self.warehouse = Warehouse(db_path, on_wait=log)
        self.flow_name = ""
        self.parameters: dict[str, Any] = {}
        self.started_at = datetime.now(UTC)

    def start_run(self, sources: Sequence[Source], flow_name: str, parameters: dict[str, Any], *,
                  replace_sources: bool = True) -> None:
        """The run's sources and its `runs` row go to the lake (replace_sources: the merge always replaces)."""
        self.flow_name, self.parameters, self.started_at = flow_name, parameters, datetime.now(UTC)
        self.writer.write_sources(sources)
        self.writer.write_run(flow=flow_name, started_at=self.started_at, parameters=parameters)

    def _read_database(self, ids: Sequence[str], before: datetime | None = None
                       ) -> tuple[dict[str, FeedState], set[str], set[str]]:
        """Feed states, the known ids among `ids` and (with `before`) those due for a refetch."""
        if not Path(self.db_path).exists():
            return {}, set(), set()
        try:
            with self.warehouse.connection(read_only=True) as con:
                due = due_for_refetch(con, ids, before) if before is not None else set()
                return load_feed_states(con), known_article_ids(con, ids), due
        except Exception as exc:
            if self.log is not None:
                self.log(f"lake mode: could not read {self.db_path} ({exc}); treating every URL as new")
            return {}, set(), set()

    def feed_states(self) -> dict[str, FeedState]:
        return self._read_database([])[0]

    def known_article_ids(self, ids: Sequence[str]) -> set[str]:
        return self._read_database(ids)[1]

    def due_for_refetch(self, ids: Sequence[str], before: datetime) -> set[str]:
        return self._read_database(ids, before)[2]

    def apply_retention(self, crawl: CrawlSettings) -> RetentionCounts | None:
        """Nothing: a lake run only reads the database (retention applies to runs that write it)."""
        return None

    def load(self, articles: Sequence[ProcessedArticle], fetch_rows: Sequence[FetchLogRow]) -> LoadCounts:
        """Parquet files in the lake, merged into the database later by merge-lake."""
        return self.writer.write_batch(articles, fetch_rows)

    def save_feed_states(self, states: Sequence[FeedState]) -> None:
        self.writer.write_feed_states(states)

    def finish_run(self, summary: RunSummary, status: str) -> None:
        self.writer.write_run(
            flow=self.flow_name, started_at=self.started_at, parameters=self.parameters,
            finished_at=datetime.now(UTC), discovered=summary.discovered, fetched=summary.fetched,
            stored=summary.stored, failed=summary.failed, status=status, ner_backend=summary.ner_backend,
            ner_model=summary.ner_model)

    def refresh_search(self) -> None:
        """Nothing to index: the database changes when the lake is merged (merge-lake refreshes it)."""

    def describe(self) -> str:
        return f"lake: {self.lake}, merge it with merge-lake"

    def publish_report(self) -> str | None:
        """None: the database changes when the lake is merged (the merge-lake flow writes it with write_report)."""
        return None


def open_sink(db_path: str, run_id: str, lake: str | None = None, *, log: Log | None = None) -> RunSink:
    """The lake sink when a lake is given, else the warehouse sink."""
    if lake:
        return LakeSink(lake, db_path, run_id, log=log)
    return WarehouseSink(db_path, run_id, log=log)
