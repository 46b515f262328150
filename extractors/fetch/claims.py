"""Claims on article URLs, so that two runs at once into one database do not both fetch the same page.

A run claims a URL before fetching it by creating a small file named after the URL's hash in the claims
directory (beside the database); the file says which run holds it (a token, the process id and the time). The
claim is kept until the run ends (its pages are loaded by then), so another run that meets the URL skips it
("skipped: being fetched by another run"). Claims never outlive their use for long: one whose process is gone,
or older than `ttl_seconds`, is stale and taken over.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from pathlib import Path

CLAIMED_ELSEWHERE = "skipped: being fetched by another run"  # the start of a claimed page's error
DEFAULT_TTL_SECONDS = 6 * 3600.0  # longer than any run; a claim this old belongs to a run that is gone


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


class UrlClaims:
    """The URL claims of one run in one claims directory."""

    def __init__(self, directory: str | Path, *, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ttl_seconds = ttl_seconds
        self.token = uuid.uuid4().hex
        self._mine: set[Path] = set()

    def _path(self, url: str) -> Path:
        return self.directory / (hashlib.sha256(url.encode("utf-8")).hexdigest()[:40] + ".claim")

    def claim(self, url: str) -> str | None:
        """None when this run may fetch `url` (claimed now, or already by this run); else why not."""
        path = self._path(url)
        if path in self._mine:
            return None
        content = f"{self.token} {os.getpid()} {time.time():.3f}"
        tmp = path.with_name(f"{path.name}.{self.token}")
        tmp.write_text(content, encoding="ascii")
        try:
            os.link(tmp, path)  # creates the claim with its content at once, or fails when it exists
        except FileExistsError:
            return self._claimed_elsewhere(path, tmp)
        finally:
            tmp.unlink(missing_ok=True)
        self._mine.add(path)
        return None

    def _claimed_elsewhere(self, path: Path, tmp: Path) -> str | None:
        """The reason when another live run holds the claim; a stale claim is taken over (None)."""
        holder = self._read(path)
        if holder is not None:
            token, pid, at = holder
            if token == self.token:
                self._mine.add(path)
                return None
            if _process_alive(pid) and time.time() - at < self.ttl_seconds:
                return f"{CLAIMED_ELSEWHERE} (process {pid})"
        os.link(tmp, path.with_name(f"{tmp.name}.new"))  # a copy for os.replace, which consumes its source
        os.replace(path.with_name(f"{tmp.name}.new"), path)  # atomic; of two runs taking over, the last wins
        won = self._read(path)
        if won is None or won[0] != self.token:
            return CLAIMED_ELSEWHERE
        self._mine.add(path)
        return None

    @staticmethod
    def _read(path: Path) -> tuple[str, int, float] | None:
        try:
            token, pid, at = path.read_text(encoding="ascii").split()
            return token, int(pid), float(at)
        except (OSError, ValueError):
            return None  # gone or damaged: treated as stale

    def release_all(self) -> None:
        """Give back every claim of this run (at its end)."""
        for path in self._mine:
            holder = self._read(path)
            if holder is not None and holder[0] == self.token:
                path.unlink(missing_ok=True)
        self._mine.clear()
