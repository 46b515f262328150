"""The reprocess flow: re-extract and re-tag archived pages without fetching (e.g. after a better model ships)."""

from __future__ import annotations

import time
from collections import deque
from typing import Literal

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from extractors.batch import ProcessedBatch, page_from_raw, process_pages
from extractors.records import RawPage
from flows.ingest import MAX_BATCHES_IN_FLIGHT, RunSummary, _run_id, load_batch
from flows.reporting import publish_run_artifacts
from flows.runners import configured_task_runner
from warehouse.store import DEFAULT_DB_PATH, Warehouse


@task(name="reprocess-batch", cache_policy=NO_CACHE)
def reprocess_batch(raws: list[RawPage], backend: str, timezones: dict[str, str]) -> ProcessedBatch:
    pages = [page_from_raw(r) for r in raws]
    return process_pages(pages, backend_name=backend, timezones=timezones, archive=False, log_fetches=False)


@flow(name="reprocess", log_prints=True, task_runner=configured_task_runner())
def reprocess(
    db_path: str = DEFAULT_DB_PATH,
    backend: Literal["auto", "crf", "camel"] = "auto",
    source: str | None = None,
    batch_size: int = 200,
) -> RunSummary:
    """Re-extract and re-tag every archived page (or one source's) from the raw archive, without fetching.

    Articles are updated in place and their mentions replaced; row counts do not grow.

    Args:
        db_path: Path of the DuckDB file.
        backend: Entity recogniser: auto, crf or camel.
        source: Only this source's pages (default: all).
        batch_size: Pages per batch.
    """
    started = time.perf_counter()
    logger = get_run_logger()
    run_id = _run_id()
    wh = Warehouse(db_path, on_wait=logger.warning)
    wh.migrate()
    wh.start_run(run_id, "reprocess", {"db_path": db_path, "backend": backend, "source": source})
    summary = RunSummary(run_id=run_id, db_path=db_path)
    timezones = wh.source_timezones()
    pending: deque = deque()
    status = "failed"

    def drain() -> None:
        batch: ProcessedBatch = pending.popleft().result()
        summary.mentions += load_batch(db_path, quote(batch), run_id)
        summary.stored += len(batch.articles)
        summary.failed += len(batch.failures)
        summary.failures.extend(batch.failures)
        logger.info("reprocessed %d pages (%d failed)", summary.stored + summary.failed, summary.failed)

    try:
        for raws in wh.raw_pages(source=source, batch_size=batch_size):
            summary.discovered += len(raws)
            summary.fetched += len(raws)
            pending.append(reprocess_batch.submit(raws, backend, timezones))
            while len(pending) >= MAX_BATCHES_IN_FLIGHT:
                drain()
        while pending:
            drain()
        status = "completed"
    finally:
        summary.seconds = time.perf_counter() - started
        wh.finish_run(run_id, discovered=summary.discovered, fetched=summary.fetched, stored=summary.stored,
                      failed=summary.failed, status=status)
        publish_run_artifacts(summary, "reprocess")
    return summary
