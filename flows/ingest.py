"""The ingest flows: thin Prefect orchestration over the plain library in `extractors/` and `warehouse/`.

Per run: one discover task per source, then batches of URLs go fetch (I/O, in the flow's process, one shared
httpx client) -> process (extract + entities, CPU, submitted to the task runner so it overlaps the next
fetch) -> load (one writer, bulk, DuckDB open only while writing). A run of 5,000 articles has tens of task
runs, not thousands.

Scale-out (docs/SCALING.md): the CPU stages run on the configured task runner (flows/runners.py, e.g. a Dask
cluster); `shared_politeness` keeps each host's limits across several workers through the Prefect server's global
concurrency and rate limits (flows/politeness.py); `lake` makes each batch land as Parquet files in a lake
(warehouse/lake.py) instead of the DuckDB file, for `merge-lake` (flows/merge.py) to merge.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import zip_longest
from pathlib import Path
from typing import Annotated, Literal

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.utilities.annotations import quote
from pydantic import Field

from extractors.batch import ProcessedBatch, fetch_log_rows, process_pages
from extractors.config import Config, CrawlSettings, Source, load_config
from extractors.discover.feed_state import FeedState, load_feed_states, save_feed_states
from extractors.discover.feeds import discover_source
from extractors.discover.urls import BadURL, article_id, canonical_url, host_of
from extractors.fetch.http import BackgroundFetcher
from extractors.records import DiscoveredURL, FetchedPage, FetchLogRow
from flows.politeness import PrefectHostGate, ensure_limits, host_limits, shared_politeness_enabled
from flows.reporting import Progress, publish_html_report, publish_run_artifacts
from flows.runners import configured_task_runner, workers_share_this_api
from warehouse.lake import LakeWriter
from warehouse.search import refresh_search_index
from warehouse.store import DEFAULT_DB_PATH, KNOWN_ARTICLES, Warehouse

DEFAULT_BATCH_SIZE = 200
MAX_BATCHES_IN_FLIGHT = 3
# Processed batches are gathered into one load transaction of at least LOAD_EVERY_PAGES pages (stored or
# failed), or fewer once the oldest waiting batch is LOAD_AFTER_SECONDS old (a slow, polite crawl still lands
# its articles regularly), and at the end of the run. Each transaction costs a fixed open + commit +
# checkpoint (about 0.14 s on the benchmark machine, and checkpoints of small appends bloat the file), so
# 1,000-page loads take half the time of 200-page ones. The file is free between loads.
LOAD_EVERY_PAGES = 1000
LOAD_AFTER_SECONDS = 60.0


@dataclass(slots=True)
class SourceStats:
    discovered: int = 0
    fetched: int = 0
    stored: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RunSummary:
    run_id: str
    db_path: str
    discovered: int = 0
    fetched: int = 0
    stored: int = 0
    failed: int = 0
    mentions: int = 0
    seconds: float = 0.0
    per_source: dict[str, SourceStats] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (url, reason), all of them
    stage_seconds: dict[str, float] = field(default_factory=dict)
    report_path: str | None = None
    lake: str | None = None  # set when the run wrote to a lake instead of the database


def _run_id() -> str:
    rid = flow_run.id
    return str(rid) if rid else f"local-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"


@task(name="prepare-warehouse", cache_policy=NO_CACHE)
def prepare_warehouse(db_path: str, sources: Sequence[Source], run_id: str, flow_name: str,
                      parameters: dict[str, object], replace_sources: bool = True) -> None:
    wh = Warehouse(db_path, on_wait=get_run_logger().warning)
    wh.migrate()
    wh.upsert_sources(sources, replace=replace_sources)
    wh.start_run(run_id, flow_name, parameters)


@task(name="prepare-lake", cache_policy=NO_CACHE)
def prepare_lake(lake: str, sources: Sequence[Source], run_id: str, flow_name: str,
                 parameters: dict[str, object]) -> datetime:
    """Lake mode: the run's sources and its `runs` row go to the lake; the DuckDB file is not touched."""
    started_at = datetime.now(UTC)
    writer = LakeWriter(lake, run_id)
    writer.write_sources(sources)
    writer.write_run(flow=flow_name, started_at=started_at, parameters=parameters)
    return started_at


def _read_state(db_path: str, ids: Sequence[str], logger) -> tuple[dict[str, FeedState], set[str]]:
    """Lake mode: feed states and already stored article ids from the database if there is one (read-only, held
    for a moment); none otherwise (the merge deduplicates whatever is fetched twice)."""
    if not Path(db_path).exists():
        return {}, set()
    try:
        with Warehouse(db_path, on_wait=logger.warning).connection(read_only=True) as con:
            states = load_feed_states(con)
            known = {r[0] for r in con.execute(KNOWN_ARTICLES, {"ids": list(ids)}).fetchall()} if ids else set()
        return states, known
    except Exception as exc:
        logger.warning("lake mode: could not read %s (%s); treating every URL as new", db_path, exc)
        return {}, set()


@dataclass(slots=True)
class Discovered:
    urls: list[DiscoveredURL]
    feed_states: list[FeedState]  # to save once the run has completed
    unchanged: int = 0


@task(name="discover", cache_policy=NO_CACHE, task_run_name="discover-{source.name}")
def discover_task(fetcher: BackgroundFetcher, source: Source, db_path: str, limit: int | None,
                  run_id: str, lake: str | None = None) -> Discovered:
    """Feeds and sitemaps of one source -> new article URLs, newest first, at most max_articles/limit.

    Feeds and sitemaps unchanged since the last run (304, or the same body) cost one request and yield nothing.
    """
    logger = get_run_logger()
    wh = Warehouse(db_path, on_wait=logger.warning)
    if lake:
        states, _ = _read_state(db_path, [], logger)
    else:
        with wh.connection() as con:
            states = load_feed_states(con)
    result = fetcher.run(discover_source(fetcher.fetcher, source, feed_states=states))
    for err in result.errors:
        logger.warning("%s: %s", source.name, err)
    ids = [article_id(u.url) for u in result.urls]
    known = _read_state(db_path, ids, logger)[1] if lake else wh.known_article_ids(ids)
    new = [u for u in result.urls if article_id(u.url) not in known]
    cap = source.max_articles if limit is None else min(limit, source.max_articles)
    chosen = new[:cap]
    rows: list[FetchLogRow] = []
    for page in result.fetches:
        rows.extend(fetch_log_rows(page, kind="feed"))
    if lake:
        LakeWriter(lake, run_id).write_batch([], rows)
    else:
        wh.load([], rows, run_id)
    logger.info("%s: %d URLs found, %d already stored, %d to fetch now%s", source.name, len(result.urls),
                len(result.urls) - len(new), len(chosen),
                f" ({len(result.unchanged)} feeds/sitemaps unchanged)" if result.unchanged else "")
    if not result.urls and result.errors and not result.unchanged:
        raise SourceUnavailable(f"{source.name}: nothing discovered ({'; '.join(result.errors[:3])})")
    # When the cap left URLs for later runs, keep the old state so the next run reads these feeds again.
    save = list(result.feed_states.values()) if len(chosen) == len(new) else []
    return Discovered(urls=chosen, feed_states=save, unchanged=len(result.unchanged))


class SourceUnavailable(RuntimeError):
    pass


@task(name="fetch-batch", cache_policy=NO_CACHE)
def fetch_batch(fetcher: BackgroundFetcher, items: list[DiscoveredURL]) -> list[FetchedPage]:
    return fetcher.fetch_many(items)


@task(name="process-batch", cache_policy=NO_CACHE)
def process_batch(pages: list[FetchedPage], backend: str, timezones: dict[str, str]) -> ProcessedBatch:
    return process_pages(pages, backend_name=backend, timezones=timezones)


@task(name="load-batch", cache_policy=NO_CACHE)
def load_batch(db_path: str, batch: ProcessedBatch, run_id: str, lake: str | None = None) -> int:
    if lake:  # Parquet files in the lake, merged into the database later by merge-lake
        return LakeWriter(lake, run_id).write_batch(batch.articles, batch.fetch_rows).mentions
    wh = Warehouse(db_path, on_wait=get_run_logger().warning)
    return wh.load(batch.articles, batch.fetch_rows, run_id).mentions


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


def run_batches(
    fetcher: BackgroundFetcher,
    items: Sequence[DiscoveredURL],
    *,
    db_path: str,
    run_id: str,
    backend: str,
    timezones: dict[str, str],
    batch_size: int,
    summary: RunSummary,
    lake: str | None = None,
) -> None:
    """Stream URLs through fetch -> process -> load, keeping a few batches in flight."""
    logger = get_run_logger()
    pending: deque = deque()
    stage = summary.stage_seconds
    progress = Progress(len(items)) if items else None

    to_load: list[ProcessedBatch] = []
    waiting_since = 0.0  # when the oldest batch of to_load was processed

    def load_now() -> None:
        """One transaction for the waiting processed batches (see LOAD_EVERY_PAGES)."""
        if not to_load:
            return
        batch = merge_batches(to_load)
        to_load.clear()
        t0 = time.perf_counter()
        # quote(): Prefect would otherwise walk every article, mention and fetch row of the batch looking for
        # futures (twice per call); the benchmark measured that walk at 60% of the load stage.
        summary.mentions += load_batch(db_path, quote(batch), run_id, lake)
        stage["load"] = stage.get("load", 0.0) + time.perf_counter() - t0
        summary.stored += len(batch.articles)
        summary.failed += len(batch.failures)
        summary.failures.extend(batch.failures)
        for art in batch.articles:
            summary.per_source.setdefault(art.source, SourceStats()).stored += 1
        for row in batch.fetch_rows:
            st = summary.per_source.setdefault(row.source or "?", SourceStats())
            if row.error is None:
                st.fetched += 1
            elif not row.error.endswith("(retried)"):
                st.failed += 1
        done = summary.stored + summary.failed
        logger.info("progress: %d/%d URLs done, %d stored, %d failed", done, len(items), summary.stored,
                    summary.failed)
        if progress is not None:
            progress.update(done)

    def drain_one() -> None:
        nonlocal waiting_since
        batch: ProcessedBatch = pending.popleft().result()
        stage["extract"] = stage.get("extract", 0.0) + batch.seconds_extract
        stage["entities"] = stage.get("entities", 0.0) + batch.seconds_entities
        summary.fetched += batch.fetched
        if not to_load:
            waiting_since = time.monotonic()
        to_load.append(batch)
        waiting = sum(len(b.articles) + len(b.failures) for b in to_load)
        # a lake batch is one worker's file set: written as soon as it is ready
        if lake or waiting >= LOAD_EVERY_PAGES or time.monotonic() - waiting_since >= LOAD_AFTER_SECONDS:
            load_now()

    with workers_share_this_api():
        for chunk in chunks(items, batch_size):
            t0 = time.perf_counter()
            pages = fetch_batch(fetcher, quote(chunk))
            stage["fetch"] = stage.get("fetch", 0.0) + time.perf_counter() - t0
            # not quote()d: a quoted parameter does not survive Dask's serialization (it arrives as a tuple)
            pending.append(process_batch.submit(pages, backend, timezones))
            del pages
            while len(pending) >= MAX_BATCHES_IN_FLIGHT:
                drain_one()
        while pending:
            drain_one()
    load_now()


def merge_batches(batches: Sequence[ProcessedBatch]) -> ProcessedBatch:
    if len(batches) == 1:
        return batches[0]
    out = ProcessedBatch()
    for b in batches:
        out.articles.extend(b.articles)
        out.fetch_rows.extend(b.fetch_rows)
        out.failures.extend(b.failures)
        out.fetched += b.fetched
        out.seconds_extract += b.seconds_extract
        out.seconds_entities += b.seconds_entities
    return out


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
            summary.per_source.setdefault(name, SourceStats()).errors.append(reason)


def _finish(db_path: str, summary: RunSummary, started: float, status: str, flow_name: str,
            lake_run: tuple[datetime, dict[str, object]] | None = None) -> RunSummary:
    summary.seconds = time.perf_counter() - started
    if summary.lake and lake_run is not None:
        LakeWriter(summary.lake, summary.run_id).write_run(
            flow=flow_name, started_at=lake_run[0], parameters=lake_run[1], finished_at=datetime.now(UTC),
            discovered=summary.discovered, fetched=summary.fetched, stored=summary.stored, failed=summary.failed,
            status=status)
    else:
        Warehouse(db_path, on_wait=get_run_logger().warning).finish_run(
            summary.run_id, discovered=summary.discovered, fetched=summary.fetched, stored=summary.stored,
            failed=summary.failed, status=status)
        refresh_search_index(db_path, log=get_run_logger().warning)  # once per run, after loading
    publish_run_artifacts(summary, flow_name)
    get_run_logger().info(
        "run %s: discovered %d, fetched %d, stored %d, failed %d, mentions %d in %.1fs (%s)",
        summary.run_id, summary.discovered, summary.fetched, summary.stored, summary.failed, summary.mentions,
        summary.seconds, f"lake: {summary.lake}, merge it with merge-lake" if summary.lake else f"db: {db_path}")
    return summary


Backend = Literal["auto", "crf", "camel"]


@flow(name="ingest", log_prints=True, task_runner=configured_task_runner())
def ingest(
    sources_file: str = "sources.toml",
    db_path: str = DEFAULT_DB_PATH,
    limit: Annotated[int, Field(ge=1)] | None = None,
    allow_private_addresses: bool = False,
    backend: Backend = "auto",
    batch_size: Annotated[int, Field(ge=1, le=5000)] = DEFAULT_BATCH_SIZE,
    write_report: bool = True,
    lake: str | None = None,
    shared_politeness: bool | None = None,
) -> RunSummary:
    """Discover, fetch, extract, tag and store the articles of every source in a sources.toml file.

    Args:
        sources_file: Path of the sources.toml file (relative to the working directory).
        db_path: Path of the DuckDB file to load into.
        limit: At most this many new articles per source in this run (default: each source's max_articles).
        allow_private_addresses: Allow fetching from private, loopback and link-local addresses.
        backend: Entity recogniser: auto, crf or camel.
        batch_size: URLs per fetch/process/load batch.
        write_report: Write the HTML report next to the database after the run.
        lake: Write each batch as Parquet files to this lake (a directory or an fsspec URL such as
            s3://bucket/akhbar) instead of the database; merge them with the merge-lake flow.
        shared_politeness: Keep each host's limits across all workers with the Prefect server's global
            concurrency and rate limits (default: the AKHBAR_SHARED_POLITENESS environment variable, else off).
    """
    started = time.perf_counter()
    config: Config = load_config(sources_file)
    run_id = _run_id()
    summary = RunSummary(run_id=run_id, db_path=str(Path(db_path)), lake=lake or None)
    params = {"sources_file": sources_file, "db_path": db_path, "limit": limit,
              "allow_private_addresses": allow_private_addresses, "backend": backend}
    if lake:
        params["lake"] = lake
    shared = shared_politeness_enabled(shared_politeness)
    if shared:
        params["shared_politeness"] = True
    lake_run = None
    if lake:
        lake_run = (prepare_lake(lake, config.sources, run_id, "ingest", params), params)
    else:
        prepare_warehouse(db_path, config.sources, run_id, "ingest", params)
    logger = get_run_logger()
    status = "failed"
    try:
        gate = _shared_gate(config, logger) if shared else None
        with BackgroundFetcher(config.crawl, allow_private_addresses=allow_private_addresses,
                               host_gate=gate) as fetcher:
            found: list[list[DiscoveredURL]] = []
            feed_states: list[FeedState] = []
            for source in config.sources:
                st = summary.per_source.setdefault(source.name, SourceStats())
                state = discover_task(fetcher, source, db_path, limit, run_id, lake, return_state=True)
                if state.is_completed():
                    got: Discovered = state.result()
                    st.discovered = len(got.urls)
                    found.append(got.urls)
                    feed_states.extend(got.feed_states)
                else:  # one dead source must not fail the run
                    st.errors.append(str(state.message or "discovery failed"))
                    logger.error("source %s skipped: %s", source.name, state.message)
            items = interleave(found)
            summary.discovered = len(items)
            run_batches(fetcher, items, db_path=db_path, run_id=run_id, backend=backend,
                        timezones={s.name: s.timezone for s in config.sources}, batch_size=batch_size,
                        summary=summary, lake=lake)
            report_backed_off(fetcher, config.sources, summary)
            if gate is not None:
                logger.info("shared politeness: %d requests waited %.1fs in total for the Prefect server's "
                            "per-host limits (%d API calls, %d asked again because the server was busy)",
                            gate.requests, gate.waited_seconds, gate.api_calls, gate.api_retries)
        if feed_states:  # only now: a crashed run reads its feeds again next time
            if lake:
                LakeWriter(lake, run_id).write_feed_states(feed_states)
            else:
                with Warehouse(db_path, on_wait=logger.warning).transaction() as con:
                    save_feed_states(con, feed_states)
        status = "completed"
    finally:
        _finish(db_path, summary, started, status, "ingest", lake_run)
    if write_report and not lake:  # in lake mode the database changes when the lake is merged
        summary.report_path = publish_html_report(db_path)
    return summary


def _shared_gate(config: Config, logger) -> PrefectHostGate:
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


@flow(name="ingest-urls", log_prints=True, task_runner=configured_task_runner())
def ingest_urls(
    urls: list[str],
    db_path: str = DEFAULT_DB_PATH,
    source: Annotated[str, Field(min_length=1)] = "adhoc",
    allow_private_addresses: bool = False,
    backend: Backend = "auto",
) -> RunSummary:
    """Fetch, extract, tag and store the given article URLs (already stored ones are refreshed).

    Args:
        urls: Article URLs to fetch.
        db_path: Path of the DuckDB file to load into.
        source: Source name recorded for these articles.
        allow_private_addresses: Allow fetching from private, loopback and link-local addresses.
        backend: Entity recogniser: auto, crf or camel.
    """
    started = time.perf_counter()
    run_id = _run_id()
    summary = RunSummary(run_id=run_id, db_path=str(Path(db_path)))
    src = Source(name=source, feeds=())
    params = {"urls": list(urls), "db_path": db_path, "source": source,
              "allow_private_addresses": allow_private_addresses, "backend": backend}
    # the name may be a configured source: keep its settings
    prepare_warehouse(db_path, [src], run_id, "ingest-urls", params, replace_sources=False)
    items: list[DiscoveredURL] = []
    bad: list[FetchLogRow] = []
    for raw in urls:
        try:
            items.append(DiscoveredURL(url=canonical_url(raw), source=source))
        except BadURL as exc:
            bad.append(FetchLogRow(url=str(raw)[:2048], source=source, kind="article", status=None,
                                   error=f"bad URL: {exc}", fetched_at=datetime.now(UTC)))
            summary.failures.append((str(raw)[:200], f"bad URL: {exc}"))
    summary.failed = len(bad)
    if bad:
        Warehouse(db_path).load([], bad, run_id)
    items = interleave([items])
    summary.discovered = len(items)
    status = "failed"
    try:
        with BackgroundFetcher(CrawlSettings(), allow_private_addresses=allow_private_addresses) as fetcher:
            run_batches(fetcher, items, db_path=db_path, run_id=run_id, backend=backend, timezones={},
                        batch_size=DEFAULT_BATCH_SIZE, summary=summary)
        status = "completed"
    finally:
        _finish(db_path, summary, started, status, "ingest-urls")
    return summary
