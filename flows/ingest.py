"""The ingest flows: thin Prefect orchestration over the plain library in `extractors/` and `warehouse/`.

Per run: one discover task per source, then batches of URLs go fetch (I/O, in the flow's process, one shared
httpx client) -> process (extract + entities, CPU, submitted to the task runner so it overlaps the next
fetch) -> load (one writer, bulk, DuckDB open only while writing; flows/batch_pipeline.py). A run of 5,000
articles has tens of task runs, not thousands.

Where the rows go is the run's sink (flows/sinks.py), built once when the run starts: the warehouse, a DuckDB file
or a DuckLake (`db_path` = `ducklake:<catalog>`, its Parquet files under `data_path`) that runs on several workers
write to at once.

Scale-out (docs/SCALING.md): the CPU stages run on the configured task runner (flows/runners.py, e.g. a Dask
cluster); `shared_politeness` keeps each host's limits across several workers through the Prefect server's global
concurrency and rate limits (flows/politeness.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from itertools import zip_longest
from logging import Logger, LoggerAdapter
from typing import Annotated, Any, Literal

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed
from pydantic import Field

from extractors.batch import ProcessedBatch, fetch_log_rows, process_pages
from extractors.config import Config, CrawlSettings, Source, load_config
from extractors.discover.feed_state import FeedState
from extractors.discover.feeds import discover_source
from extractors.discover.urls import BadURL, article_id, canonical_url, host_of, without_userinfo
from extractors.fetch.background import BackgroundFetcher
from extractors.records import DiscoveredURL, FetchedPage, FetchLogRow
from flows.batch_pipeline import LOAD_EVERY_PAGES, BatchPipeline, LoadPolicy, unwalked
from flows.local_api import raise_if_stop_requested
from flows.politeness import (
    PrefectHostGate,
    ensure_limits,
    host_limits,
    local_host_gate,
    shared_politeness_enabled,
)
from flows.reporting import Progress, publish_run_artifacts
from flows.run_summary import (
    ProgressEvent,
    RunOutcome,
    RunSummary,
    new_run_id,
    nothing_fetched_message,
    notify_progress,
)
from flows.runners import ConfiguredTaskRunner, workers_share_this_api
from flows.served_policy import check_served_run
from flows.sinks import WarehouseSink, url_claims_for_warehouse, warehouse_name
from warehouse.connection import DEFAULT_DB_PATH

DEFAULT_BATCH_SIZE = 200
# While a run fetches or waits for processing, its progress (log line, the UI's progress artifact, the command
# line's bar) is reported at least this often: checked every second, reported once this much has passed.
PROGRESS_EVERY_SECONDS = 4.0

Backend = Literal["auto", "crf", "camel"]
RunLogger = Logger | LoggerAdapter[Any]


@dataclass(slots=True)
class Discovered:
    urls: list[DiscoveredURL]
    feed_states: list[FeedState]  # to save once the run has completed
    unchanged: int = 0


@task(name="prepare-run", cache_policy=NO_CACHE, task_run_name="prepare-warehouse")
def prepare_run(sink: WarehouseSink, sources: Sequence[Source], flow_name: str, parameters: dict[str, Any],
                replace_sources: bool = True) -> None:
    """The run's sources and its `runs` row, in the sink (migrating the database first)."""
    sink.start_run(sources, flow_name, parameters, replace_sources=replace_sources)


def failed(reason: str) -> Any:
    """A Failed state with `reason` as its message, for a task or flow to return: Prefect makes a returned state
    the run's final state, with no traceback in the log. A failed discover task skips its source (the run goes on
    without it); calling a failed flow raises prefect.exceptions.FailedRun with this message."""
    return Failed(message=reason)


def articles_per_run(source: Source, limit: int | None, since: datetime | None) -> int | None:
    """How many URLs a source may fetch in this run: `limit` (at most max_articles), or max_articles; a backfill
    (`since`) is capped by `limit` alone (None: everything since that date)."""
    if since is not None:
        return limit
    return source.max_articles if limit is None else min(limit, source.max_articles)


def refetch_before(source: Source) -> datetime | None:
    """Stored articles fetched before this moment are fetched again (None: the source never refetches)."""
    if source.refetch_after_days is None:
        return None
    return datetime.now(UTC) - timedelta(days=source.refetch_after_days)


@task(name="discover", cache_policy=NO_CACHE, task_run_name="discover-{source.name}")
def discover_task(fetcher: BackgroundFetcher, source: Source, sink: WarehouseSink, limit: int | None,
                  since: datetime | None = None) -> Discovered:
    """Feeds and sitemaps of one source -> new article URLs, newest first, at most max_articles/limit, then the
    stored ones due for a refetch (refetch_after_days).

    Feeds and sitemaps unchanged since the last run (304, or the same body) cost one request and yield nothing;
    a backfill (`since`) and a source that refetches read them in full (the stored articles they list matter).
    """
    logger = get_run_logger()
    before = refetch_before(source)
    states = sink.feed_states() if since is None and before is None else {}
    result = fetcher.run(discover_source(fetcher.fetcher, source, feed_states=states, since=since))
    for err in result.errors:
        logger.warning("%s: %s", source.name, err)
    ids = [article_id(u.url) for u in result.urls]
    known = sink.known_article_ids(ids)
    due = sink.due_for_refetch([i for i in ids if i in known], before) if before is not None else set()
    new = [u for u in result.urls if article_id(u.url) not in known]
    again = [u for u in result.urls if article_id(u.url) in due]
    cap = articles_per_run(source, limit, since)
    chosen = (new + again)[:cap]
    sink.load([], [row for page in result.fetches for row in fetch_log_rows(page, kind="feed")]
              + robots_log_rows(fetcher, source.name))
    logger.info("%s: %d URLs found, %d already stored (%d due for a refetch), %d to fetch now%s%s", source.name,
                len(result.urls), len(result.urls) - len(new), len(again), len(chosen),
                f" ({len(result.unchanged)} feeds/sitemaps unchanged)" if result.unchanged else "",
                f"; since {since:%Y-%m-%d}: {result.before_since} older and {result.undated} undated links left out"
                if since is not None else "")
    if not result.urls and result.errors and not result.unchanged:
        return failed(f"nothing discovered: {'; '.join(result.errors[:3])}")
    if not result.urls and not result.fetches and source.homepage:
        return failed(f"nothing discovered: {homepage_only_reason(fetcher, source.homepage)}")
    # When the cap left URLs for later runs, keep the old state so the next run reads these feeds again.
    save = list(result.feed_states.values()) if len(chosen) == len(new) + len(again) else []
    return Discovered(urls=chosen, feed_states=save, unchanged=len(result.unchanged))


def robots_log_rows(fetcher: BackgroundFetcher, source: str) -> list[FetchLogRow]:
    """Fetch-log rows (kind 'robots') of the robots.txt requests made since the last call."""
    return [row for page in fetcher.take_robots_fetches()
            for row in fetch_log_rows(replace(page, source=page.source or source), kind="robots")]


def homepage_only_reason(fetcher: BackgroundFetcher, homepage: str) -> str:
    """Why a source with only a homepage found nothing: its robots.txt refused, or named no sitemap."""
    rules = fetcher.run(fetcher.fetcher.robots(canonical_url(homepage)))
    if rules.error:
        return f"{homepage}: {rules.error}"
    return f"the robots.txt of {homepage} names no sitemap, and the source lists no feeds or sitemaps"


@task(name="fetch-batch", cache_policy=NO_CACHE)
def fetch_batch(fetcher: BackgroundFetcher, items: list[DiscoveredURL],
                tick: Callable[[], None] | None = None) -> list[FetchedPage]:
    """One batch's pages; `tick()` is called every second while they are being fetched (progress)."""
    return fetcher.fetch_many(items, tick=tick)


@task(name="process-batch", cache_policy=NO_CACHE)
def process_batch(pages: list[FetchedPage], backend: str, timezones: dict[str, str]) -> ProcessedBatch:
    return process_pages(pages, backend_name=backend, timezones=timezones)


def interleave(lists: Sequence[Sequence[DiscoveredURL]]) -> list[DiscoveredURL]:
    """Round-robin over sources so per-host delays overlap instead of queueing one host at a time."""
    seen: set[str] = set()
    out: list[DiscoveredURL] = []
    for group in zip_longest(*lists):
        for item in group:
            if item is not None and item.url not in seen:
                seen.add(item.url)
                out.append(item)
    return out


def chunks(items: Sequence[DiscoveredURL], size: int) -> Iterator[list[DiscoveredURL]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


class RunProgress:
    """A run's progress over its URLs: a log line, the UI's progress bar (half for fetching, half for loading)
    and the process's progress listeners, after each load and every PROGRESS_EVERY_SECONDS while fetching or
    waiting for processed batches."""

    def __init__(self, total: int, summary: RunSummary, fetcher: BackgroundFetcher) -> None:
        self.total = total
        self.summary = summary
        self.fetcher = fetcher
        self.logger = get_run_logger()
        self.bar = Progress(2 * total) if total else None  # created only when there is something to do
        self.fetched_before = fetcher.finished  # the fetcher may have fetched for an earlier run
        self.reported_at = time.monotonic()

    def fetched(self) -> int:
        return self.fetcher.finished - self.fetched_before

    def tick(self) -> None:
        """Called every second or so while the run waits; reports when it is due."""
        if time.monotonic() - self.reported_at >= PROGRESS_EVERY_SECONDS:
            self.report("fetching")

    def loaded(self, summary: RunSummary) -> None:
        self.report("loaded")

    def report(self, stage: str) -> None:
        self.reported_at = time.monotonic()
        fetched, loaded = self.fetched(), self.summary.stored + self.summary.failed
        self.logger.info("progress: %d/%d URLs fetched, %d loaded (%d stored, %d failed)", fetched, self.total,
                         loaded, self.summary.stored, self.summary.failed)
        if self.bar is not None:
            self.bar.update(fetched + loaded)
        if stage == "fetching":  # after a load, the pipeline tells the listeners itself
            notify_progress(ProgressEvent("fetching", fetched, self.total, self.summary.stored, self.summary.failed))


def run_batches(fetcher: BackgroundFetcher, items: Sequence[DiscoveredURL], *, sink: WarehouseSink, backend: str,
                timezones: dict[str, str], batch_size: int, summary: RunSummary,
                policy: LoadPolicy = LoadPolicy()) -> None:
    """Stream URLs through fetch -> process -> load, keeping a few batches in flight."""
    progress = RunProgress(len(items), summary, fetcher)
    pipeline = BatchPipeline(sink, summary, policy=policy, on_loaded=progress.loaded, on_wait=progress.tick)
    with workers_share_this_api():
        for chunk in chunks(items, batch_size):
            t0 = time.perf_counter()
            pages = fetch_batch(fetcher, unwalked(chunk), progress.tick)
            summary.add_seconds("fetch", time.perf_counter() - t0)
            robots_rows = robots_log_rows(fetcher, chunk[0].source)
            if robots_rows:  # hosts met for the first time in this batch (e.g. after a redirect)
                sink.load([], robots_rows)
            # not unwalked(): a quoted parameter does not survive Dask's serialization (it arrives as a tuple)
            processing = process_batch.submit(pages, backend, timezones)
            del pages
            pipeline.submit(processing)
        pipeline.drain()
    pipeline.flush()


def discover_all(fetcher: BackgroundFetcher, sources: Sequence[Source], sink: WarehouseSink, limit: int | None,
                 summary: RunSummary, since: datetime | None = None) -> tuple[list[DiscoveredURL], list[FeedState]]:
    """Every source's new URLs, interleaved, and the feed states to save when the run completes."""
    logger = get_run_logger()
    found: list[list[DiscoveredURL]] = []
    feed_states: list[FeedState] = []
    for source in sources:
        raise_if_stop_requested()
        stats = summary.source(source.name)
        state = discover_task(fetcher, source, sink, limit, since, return_state=True)
        if state.is_completed():
            got: Discovered = state.result()
            stats.discovered = len(got.urls)
            found.append(got.urls)
            feed_states.extend(got.feed_states)
        else:  # one dead source must not fail the run
            stats.errors.append(str(state.message or "discovery failed"))
            logger.error("source %s skipped: %s", source.name, state.message)
    return interleave(found), feed_states


def report_backed_off(fetcher: BackgroundFetcher, sources: Sequence[Source], summary: RunSummary) -> None:
    """Name the hosts the fetcher stopped asking this run (they kept failing) under their sources."""
    backed_off = fetcher.backed_off_hosts()
    if not backed_off:
        return
    logger = get_run_logger()
    for host, reason in backed_off.items():
        logger.warning("%s", reason)
        names = [s.name for s in sources
                 if any(host_of(canonical_url(u)) == host for u in (*s.feeds, *s.sitemaps, s.homepage or "") if u)]
        for name in names or ["?"]:
            summary.source(name).errors.append(reason)


def shared_gate(config: Config, logger: RunLogger) -> PrefectHostGate:
    """Make sure the Prefect server has this run's per-host limits; the gate the fetcher asks before each request."""
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:
        logger.warning("shared politeness asked for, but no Prefect server is configured (PREFECT_API_URL): the "
                       "limits are kept by this process's temporary server only")
    limits = host_limits(config.sources)
    names = ensure_limits(limits.values())
    logger.info("shared politeness: %d global concurrency/rate limits on the Prefect server (%s)", len(names),
                ", ".join(names[:6]) + (" ..." if len(names) > 6 else ""))
    return PrefectHostGate(lease_seconds=max(60.0, 2 * config.crawl.timeout_seconds + 10))


def crawl(config: Config, sink: WarehouseSink, summary: RunSummary, *, limit: int | None, allow_private_addresses: bool,
          backend: str, batch_size: int, shared_politeness: bool, policy: LoadPolicy,
          since: datetime | None = None) -> None:
    """Discover, fetch, process and load every source of `config`; the feed states are saved only at the end,
    so a crashed run reads its feeds again next time."""
    logger = get_run_logger()
    gate = shared_gate(config, logger) if shared_politeness else local_host_gate()
    with BackgroundFetcher(config.crawl, allow_private_addresses=allow_private_addresses, host_gate=gate,
                           url_claims=url_claims_for_warehouse(summary.db_path)) as fetcher:
        items, feed_states = discover_all(fetcher, config.sources, sink, limit, summary, since)
        summary.discovered = len(items)
        run_batches(fetcher, items, sink=sink, backend=backend, timezones={s.name: s.timezone for s in config.sources},
                    batch_size=batch_size, summary=summary, policy=policy)
        report_backed_off(fetcher, config.sources, summary)
        if isinstance(gate, PrefectHostGate):
            logger.info("shared politeness: %d requests waited %.1fs in total for the Prefect server's "
                        "per-host limits (%d API calls, %d asked again because the server was busy)",
                        gate.requests, gate.waited_seconds, gate.api_calls, gate.api_retries)
    if feed_states:
        sink.save_feed_states(feed_states)


@task(name="retention", cache_policy=NO_CACHE)
def retention_task(sink: WarehouseSink, crawl_settings: CrawlSettings) -> None:
    """Old fetch-log rows and raw pages out ([crawl] keep_fetches_days, keep_raw_days); articles stay.

    Housekeeping only: when it cannot run (the file locked too long, a full disk) the run that stored its
    articles still completed; the next run tries again."""
    try:
        deleted = sink.apply_retention(crawl_settings)
    except Exception as exc:
        get_run_logger().warning("retention not applied this run (%s: %s); the next run tries again",
                                 type(exc).__name__, exc)
        return
    if deleted is not None:
        get_run_logger().info("retention: deleted %s (keep_fetches_days=%s, keep_raw_days=%s)", deleted.describe(),
                              crawl_settings.keep_fetches_days, crawl_settings.keep_raw_days)


def since_moment(since: date | None) -> datetime | None:
    """The start of the UTC day `since` (days are UTC days), or None."""
    return None if since is None else datetime(since.year, since.month, since.day, tzinfo=UTC)


def finish(sink: WarehouseSink, summary: RunSummary, started: float, status: str, flow_name: str) -> RunSummary:
    """Close the run in the sink, refresh the search index, show the run in the UI and log its totals."""
    summary.seconds = time.perf_counter() - started
    sink.finish_run(summary, status)
    sink.refresh_search()
    publish_run_artifacts(summary, flow_name)
    get_run_logger().info(
        "run %s: discovered %d, fetched %d, stored %d, failed %d, mentions %d in %.1fs (%s)",
        summary.run_id, summary.discovered, summary.fetched, summary.stored, summary.failed, summary.mentions,
        summary.seconds, sink.describe())
    return summary


def optional_parameters(*, data_path: str | None, shared_politeness: bool = False,
                        since: date | None = None) -> dict[str, Any]:
    """The run's parameters worth recording only when set (the `runs.parameters` of most runs stay short)."""
    params: dict[str, Any] = {}
    if data_path:
        params["data_path"] = data_path
    if shared_politeness:
        params["shared_politeness"] = True
    if since is not None:
        params["since"] = since.isoformat()
    return params


@flow(name="ingest", log_prints=True, task_runner=ConfiguredTaskRunner())
def ingest(
    sources_file: str = "sources.toml",
    db_path: str = DEFAULT_DB_PATH,
    limit: Annotated[int, Field(ge=1)] | None = None,
    allow_private_addresses: bool = False,
    backend: Backend = "auto",
    batch_size: Annotated[int, Field(ge=1, le=5000)] = DEFAULT_BATCH_SIZE,
    write_report: bool = True,
    data_path: str | None = None,
    shared_politeness: bool | None = None,
    load_every_pages: Annotated[int, Field(ge=1)] = LOAD_EVERY_PAGES,
    since: date | None = None,
) -> RunSummary:
    """Discover, fetch, extract, tag and store the articles of every source in a sources.toml file.

    Args:
        sources_file: Path of the sources.toml file (relative to the working directory).
        db_path: The warehouse to load into: a DuckDB file, or `ducklake:<catalog>` (a .ducklake file,
            sqlite:PATH or postgres:DSN) that several runs may write at once.
        limit: At most this many new articles per source in this run (default: each source's max_articles).
        allow_private_addresses: Allow fetching from private, loopback and link-local addresses.
        backend: Entity recogniser: auto, crf or camel.
        batch_size: URLs per fetch/process/load batch.
        write_report: Write the HTML report next to the database after the run.
        data_path: Where a new lake's Parquet files go (a directory or a URL such as s3://bucket/prefix; needed
            only when the run creates the lake: default beside a file catalog, required for PostgreSQL).
        shared_politeness: Keep each host's limits across all workers with the Prefect server's global
            concurrency and rate limits (default: the AKHBAR_SHARED_POLITENESS environment variable, else off).
        load_every_pages: Load processed pages into the database in transactions of at least this many pages
            (fewer once the oldest has waited a minute, and at the end of the run).
        since: Backfill: only feed and sitemap entries dated on or after this UTC day (YYYY-MM-DD), following
            every child of a sitemap index from that day on; max_articles does not apply (limit does).
    """
    started = time.perf_counter()
    check_served_run(db_path=db_path, sources_file=sources_file, data_path=data_path,
                     allow_private_addresses=allow_private_addresses)
    config: Config = load_config(sources_file)
    run_id = new_run_id()
    summary = RunSummary(run_id=run_id, db_path=warehouse_name(db_path))
    shared = shared_politeness_enabled(shared_politeness)
    params = {"sources_file": sources_file, "db_path": db_path, "limit": limit,
              "allow_private_addresses": allow_private_addresses, "backend": backend,
              **optional_parameters(data_path=data_path, shared_politeness=shared, since=since)}
    sink = WarehouseSink(db_path, run_id, data_path=data_path, log=get_run_logger().warning)
    prepare_run(sink, config.sources, "ingest", params)
    outcome = RunOutcome()
    try:
        with outcome:
            crawl(config, sink, summary, limit=limit, allow_private_addresses=allow_private_addresses,
                  backend=backend, batch_size=batch_size, shared_politeness=shared,
                  policy=LoadPolicy(every_pages=load_every_pages), since=since_moment(since))
            retention_task(sink, config.crawl)
            outcome.fail_if(nothing_fetched_message(summary))
    finally:
        finish(sink, summary, started, outcome.status, "ingest")
    if outcome.failure:
        return failed(outcome.failure)  # fetched nothing: everything it tried failed
    if write_report:
        summary.report_path = sink.publish_report()
    return summary


def parse_urls(urls: Sequence[str], source: str) -> tuple[list[DiscoveredURL], list[FetchLogRow]]:
    """The URLs to fetch, and a fetch-log row for each one that is not a usable URL."""
    items: list[DiscoveredURL] = []
    bad: list[FetchLogRow] = []
    for raw in urls:
        try:
            items.append(DiscoveredURL(url=canonical_url(raw), source=source))
        except BadURL as exc:
            bad.append(FetchLogRow(url=without_userinfo(str(raw))[:2048], source=source, kind="article", status=None,
                                   error=f"bad URL: {exc}", fetched_at=datetime.now(UTC)))
    return interleave([items]), bad


@flow(name="ingest-urls", log_prints=True, task_runner=ConfiguredTaskRunner())
def ingest_urls(
    urls: list[str],
    db_path: str = DEFAULT_DB_PATH,
    source: Annotated[str, Field(min_length=1)] = "adhoc",
    allow_private_addresses: bool = False,
    backend: Backend = "auto",
    data_path: str | None = None,
) -> RunSummary:
    """Fetch, extract, tag and store the given article URLs (already stored ones are refreshed).

    Args:
        urls: Article URLs to fetch.
        db_path: The warehouse to load into: a DuckDB file, or `ducklake:<catalog>`.
        source: Source name recorded for these articles.
        allow_private_addresses: Allow fetching from private, loopback and link-local addresses.
        backend: Entity recogniser: auto, crf or camel.
        data_path: Where a new lake's Parquet files go (see the ingest flow).
    """
    started = time.perf_counter()
    check_served_run(db_path=db_path, data_path=data_path, allow_private_addresses=allow_private_addresses)
    run_id = new_run_id()
    summary = RunSummary(run_id=run_id, db_path=warehouse_name(db_path))
    params = {"urls": [without_userinfo(str(u)) for u in urls], "db_path": db_path, "source": source,
              "allow_private_addresses": allow_private_addresses, "backend": backend,
              **optional_parameters(data_path=data_path)}
    sink = WarehouseSink(db_path, run_id, data_path=data_path, log=get_run_logger().warning)
    # the name may be a configured source: keep its settings
    prepare_run(sink, [Source(name=source, feeds=())], "ingest-urls", params, replace_sources=False)
    items, bad = parse_urls(urls, source)
    summary.failures.extend((row.url[:200], row.error or "") for row in bad)
    summary.failed = len(bad)
    if bad:
        sink.load([], bad)
    summary.discovered = len(items)
    outcome = RunOutcome()
    try:
        with outcome, BackgroundFetcher(CrawlSettings(), allow_private_addresses=allow_private_addresses,
                                        host_gate=local_host_gate(),
                                        url_claims=url_claims_for_warehouse(db_path)) as fetcher:
            run_batches(fetcher, items, sink=sink, backend=backend, timezones={}, batch_size=DEFAULT_BATCH_SIZE,
                        summary=summary)
            outcome.fail_if(nothing_fetched_message(summary))
    finally:
        finish(sink, summary, started, outcome.status, "ingest-urls")
    if outcome.failure:
        return failed(outcome.failure)  # fetched nothing: everything it tried failed
    return summary
