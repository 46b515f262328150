"""Per-host limits shared by every akhbar run on one machine, through lock files (no server needed).

Two runs at once (a nightly run and one started from the UI, say) each keep their own in-process limits; without
sharing, a site would see twice its configured rate. `LocalHostGate` is a `host_gate` (see
extractors/fetch/politeness.py) that makes them share:

- concurrency: `max_concurrency` slot files per host; a request holds an exclusive `flock` on one of them for
  its duration. The kernel drops a lock when its process dies, so a crashed run never keeps a slot.
- rate: a file per host holds the wall-clock time the next request to that host may start; each request reads
  it and books the following start under a short `flock`, as `HostPoliteness.wait_turn` does in one process.

Locks are taken without blocking (the event loop keeps running) and asked again after a short sleep.
Linux and macOS (fcntl); on other systems the gate does nothing but the in-process limits stay in force.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

POLL_SECONDS = 0.02  # how often a busy slot or rate file is asked for again


def host_file_stem(host: str) -> str:
    """A file name for `host`: anything but [a-z0-9.-] replaced by `-` (a port `:8080` becomes `-8080`)."""
    return re.sub(r"[^a-z0-9.\-]+", "-", host.lower()).strip("-")[:150] or "unknown"


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


class LocalHostGate:
    """The `host_gate` of the Fetcher that shares each host's limits with other processes on this machine."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.waited_seconds = 0.0  # time spent waiting for other runs' requests (for the run log)

    @asynccontextmanager
    async def __call__(self, host: str, requests_per_second: float, max_concurrency: int) -> AsyncIterator[None]:
        if fcntl is None:
            yield
            return
        t0 = time.monotonic()
        slot = await self._take_slot(host_file_stem(host), max(1, max_concurrency))
        try:
            if requests_per_second > 0:
                await self._wait_turn(host_file_stem(host), 1.0 / requests_per_second)
            self.waited_seconds += time.monotonic() - t0
            yield
        finally:
            os.close(slot)  # closing the file releases its lock

    async def _take_slot(self, stem: str, slots: int) -> int:
        """An open, exclusively locked slot file of the host (waits while all are held)."""
        while True:
            for i in range(slots):
                fd = os.open(self.directory / f"{stem}.slot{i}", os.O_RDWR | os.O_CREAT, 0o600)
                if _try_lock(fd):
                    return fd
                os.close(fd)
            await asyncio.sleep(POLL_SECONDS)

    async def _wait_turn(self, stem: str, interval: float) -> None:
        """Book this request's start in the host's rate file, then sleep until then."""
        fd = os.open(self.directory / f"{stem}.next", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while not _try_lock(fd):
                await asyncio.sleep(POLL_SECONDS / 4)
            raw = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
            try:
                booked = float(raw)
            except ValueError:
                booked = 0.0  # a new (or damaged) file: no booking yet
            now = time.time()
            start = max(now, booked)
            data = f"{start + interval:.6f}".encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
        finally:
            os.close(fd)
        if start > now:
            await asyncio.sleep(start - now)
