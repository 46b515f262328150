"""The batch pipeline the ingest and reprocess flows share: processed batches in flight, grouped into loads.

A flow submits one `process` task per batch to the task runner; the pipeline keeps at most
`batches_in_flight` of them pending (waiting for the oldest when full, so fetching overlaps processing without
holding a whole run in memory), counts each result into the run summary, and loads the results through the
run's sink in groups: one transaction of at least `every_pages` pages (stored or failed), or fewer once the
oldest waiting batch is `after_seconds` old (a slow, polite crawl still lands its articles regularly), and the
rest at the end of the run. Each transaction costs a fixed open + commit + checkpoint (about 0.14 s on the
benchmark machine, and checkpoints of small appends bloat the file), so 1,000-page loads take half the time of
200-page ones. The file is free between loads.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.utilities.annotations import quote

from extractors.batch import ProcessedBatch
from flows.local_api import raise_if_stop_requested
from flows.run_summary import RunSummary, loaded_event, notify_progress
from flows.sinks import WarehouseSink

LOAD_EVERY_PAGES = 1000
LOAD_AFTER_SECONDS = 60.0
MAX_BATCHES_IN_FLIGHT = 3
WAIT_TICK_SECONDS = 1.0  # how often `on_wait` is called while a processed batch is awaited

T = TypeVar("T")


def unwalked(value: T) -> T:
    """`value` for a task call, wrapped so Prefect does not walk it looking for futures (prefect's quote()).

    Prefect unwraps it before the task runs, so the task receives `value` itself, as the type says.
    """
    return cast(T, quote(value))


@dataclass(frozen=True, slots=True)
class LoadPolicy:
    """When the pipeline waits for a processed batch and when it loads what it has (see the module docstring)."""

    every_pages: int = LOAD_EVERY_PAGES
    after_seconds: float = LOAD_AFTER_SECONDS
    batches_in_flight: int = MAX_BATCHES_IN_FLIGHT


@task(name="load-batch", cache_policy=NO_CACHE)
def load_batch(sink: WarehouseSink, batch: ProcessedBatch) -> int:
    """One batch's rows into the run's sink; the number of mentions stored."""
    return sink.load(batch.articles, batch.fetch_rows).mentions


def merge_batches(batches: Sequence[ProcessedBatch]) -> ProcessedBatch:
    """Several processed batches as one, for one load transaction."""
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


class BatchPipeline:
    """Processed batches from the task runner, counted into `summary` and loaded through `sink` in groups.

    `on_loaded(summary)` is called after each load (progress reports), and the process's progress listeners are
    told (flows.run_summary.notify_progress); `on_wait()` every WAIT_TICK_SECONDS while a batch is awaited.
    """

    def __init__(self, sink: WarehouseSink, summary: RunSummary, *, policy: LoadPolicy = LoadPolicy(),
                 on_loaded: Callable[[RunSummary], None] | None = None,
                 on_wait: Callable[[], None] | None = None) -> None:
        self.sink = sink
        self.summary = summary
        self.policy = policy
        self.on_loaded = on_loaded
        self.on_wait = on_wait
        self._pending: deque[PrefectFuture[ProcessedBatch]] = deque()
        self._to_load: list[ProcessedBatch] = []
        self._waiting_since = 0.0  # when the oldest batch of _to_load came back

    def submit(self, future: PrefectFuture[ProcessedBatch]) -> None:
        """One more batch in flight; waits for the oldest while `batches_in_flight` are pending."""
        raise_if_stop_requested()
        self._pending.append(future)
        while len(self._pending) >= self.policy.batches_in_flight:
            self._drain_one()

    def drain(self) -> None:
        """Wait for every batch in flight (loading them as the policy says, not necessarily all)."""
        while self._pending:
            raise_if_stop_requested()
            self._drain_one()

    def flush(self) -> None:
        """One load transaction for the batches waiting to be loaded."""
        if not self._to_load:
            return
        batch = merge_batches(self._to_load)
        self._to_load.clear()
        t0 = time.perf_counter()
        # unwalked(): Prefect would otherwise walk every article, mention and fetch row of the batch looking for
        # futures (twice per call); the benchmark measured that walk at 60% of the load stage.
        mentions = load_batch(self.sink, unwalked(batch))
        self.summary.add_seconds("load", time.perf_counter() - t0)
        self.summary.count_loaded(batch, mentions)
        if self.on_loaded is not None:
            self.on_loaded(self.summary)
        notify_progress(loaded_event(self.summary))

    def _wait(self, future: PrefectFuture[ProcessedBatch]) -> ProcessedBatch:
        """The batch's result, calling on_wait() while it is not there yet."""
        if self.on_wait is not None:
            done = threading.Event()
            future.add_done_callback(lambda _: done.set())
            while not done.wait(WAIT_TICK_SECONDS):
                raise_if_stop_requested()
                self.on_wait()
        return future.result()

    def _drain_one(self) -> None:
        batch = self._wait(self._pending.popleft())
        self.summary.count_processed(batch)
        if not self._to_load:
            self._waiting_since = time.monotonic()
        self._to_load.append(batch)
        if self._load_due():
            self.flush()

    def _load_due(self) -> bool:
        waiting = sum(len(b.articles) + len(b.failures) for b in self._to_load)
        return (waiting >= self.policy.every_pages
                or time.monotonic() - self._waiting_since >= self.policy.after_seconds)

