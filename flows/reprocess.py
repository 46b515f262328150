"""The reprocess flow: re-extract and re-tag archived pages without fetching (e.g. after a better model ships)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from extractors.batch import ProcessedBatch, page_from_raw, process_pages
from extractors.records import RawPage
from flows.batch_pipeline import BatchPipeline, LoadPolicy
from flows.reporting import publish_run_artifacts
from flows.run_summary import RunOutcome, RunSummary, new_run_id
from flows.runners import ConfiguredTaskRunner, workers_share_this_api
from flows.sinks import WarehouseSink, warehouse_name
from warehouse.connection import DEFAULT_DB_PATH

# Each reprocessed batch is loaded as soon as it is back: the pages are already archived, so there is no crawl
# to wait for and a long reprocess shows its progress batch by batch.
EACH_BATCH = LoadPolicy(every_pages=1)


@task(name="reprocess-batch", cache_policy=NO_CACHE)
def reprocess_batch(raws: list[RawPage], backend: str, timezones: dict[str, str]) -> ProcessedBatch:
    pages = [page_from_raw(r) for r in raws]
    return process_pages(pages, backend_name=backend, timezones=timezones, archive=False, log_fetches=False)


def log_reprocessed() -> Callable[[RunSummary], None]:
    logger = get_run_logger()

    def report(summary: RunSummary) -> None:
        logger.info("reprocessed %d pages (%d failed)", summary.stored + summary.failed, summary.failed)

    return report


@flow(name="reprocess", log_prints=True, task_runner=ConfiguredTaskRunner())
def reprocess(
    db_path: str = DEFAULT_DB_PATH,
    backend: Literal["auto", "crf", "camel"] = "auto",
    source: str | None = None,
    batch_size: int = 200,
    data_path: str | None = None,
) -> RunSummary:
    """Re-extract and re-tag every archived page (or one source's) from the raw archive, without fetching.

    Articles are updated in place and their mentions replaced; row counts do not grow.

    Args:
        db_path: The warehouse: a DuckDB file, or `ducklake:<catalog>`.
        backend: Entity recogniser: auto, crf or camel.
        source: Only this source's pages (default: all).
        batch_size: Pages per batch.
        data_path: Where the lake's Parquet files go if this run creates it (see the ingest flow).
    """
    started = time.perf_counter()
    run_id = new_run_id()
    sink = WarehouseSink(db_path, run_id, data_path=data_path, log=get_run_logger().warning)
    sink.start_run([], "reprocess", {"db_path": db_path, "backend": backend, "source": source})
    summary = RunSummary(run_id=run_id, db_path=warehouse_name(db_path))
    timezones = sink.warehouse.source_timezones()
    pipeline = BatchPipeline(sink, summary, policy=EACH_BATCH, on_loaded=log_reprocessed())
    outcome = RunOutcome()
    try:
        with outcome, workers_share_this_api():
            for raws in sink.warehouse.raw_pages(source=source, batch_size=batch_size):
                summary.discovered += len(raws)
                pipeline.submit(reprocess_batch.submit(raws, backend, timezones))
            pipeline.drain()
            pipeline.flush()
    finally:
        summary.seconds = time.perf_counter() - started
        sink.finish_run(summary, outcome.status)
        publish_run_artifacts(summary, "reprocess")
    return summary
