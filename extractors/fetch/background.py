"""BackgroundFetcher: a Fetcher on its own event loop thread, for synchronous callers (Prefect tasks)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

from extractors.config import CrawlSettings
from extractors.fetch.fetcher import Fetcher
from extractors.records import DiscoveredURL, FetchedPage

T = TypeVar("T")


class BackgroundFetcher:
    """A Fetcher living on its own event loop thread, callable from synchronous code (Prefect tasks).

    One instance per run keeps one httpx client, one robots cache and one politeness state for every batch.
    Keyword arguments are the Fetcher's.
    """

    def __init__(self, crawl: CrawlSettings | None = None, **fetcher_options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="akhbar-fetcher", daemon=True)
        self._thread.start()
        self.fetcher = Fetcher(crawl, **fetcher_options)
        self.run(self.fetcher.__aenter__())

    def run(self, coro: Coroutine[Any, Any, T], *, tick: Callable[[], None] | None = None,
            tick_seconds: float = 1.0) -> T:
        """Run `coro` on the fetcher's loop and wait for its result, calling `tick()` every `tick_seconds` while
        it runs (progress reports from the waiting thread)."""
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        while True:
            try:
                return future.result(timeout=tick_seconds if tick is not None else None)
            except TimeoutError:
                if future.done():  # finished meanwhile: its result, or its own exception (a TimeoutError too)
                    return future.result()
                if tick is not None:
                    try:
                        tick()
                    except BaseException:
                        future.cancel()  # a failed progress report must not leave the batch running unseen
                        raise

    def fetch_many(self, items: Iterable[DiscoveredURL], *, kind: str = "article",
                   tick: Callable[[], None] | None = None) -> list[FetchedPage]:
        return self.run(self.fetcher.fetch_many(list(items), kind=kind), tick=tick)

    @property
    def finished(self) -> int:
        """URLs of fetch_many calls finished so far (see Fetcher.finished)."""
        return self.fetcher.finished

    def backed_off_hosts(self) -> dict[str, str]:
        """See Fetcher.backed_off_hosts (read on the fetcher's own loop)."""
        async def read() -> dict[str, str]:
            return self.fetcher.backed_off_hosts()
        return self.run(read())

    def take_robots_fetches(self) -> list[FetchedPage]:
        """See Fetcher.take_robots_fetches (taken on the fetcher's own loop)."""
        async def take() -> list[FetchedPage]:
            return self.fetcher.take_robots_fetches()
        return self.run(take())

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self.run(self.fetcher.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> BackgroundFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
