"""The Prefect API a CLI run talks to, and how a run stops when the user stops it.

Without `PREFECT_API_URL`, Prefect starts a temporary API server as a child process. A terminal's Ctrl-C goes to
the whole foreground process group, so that child died at once while the run still needed it: the CLI then spent
minutes retrying it and printing tracebacks. Here the temporary server runs in a session of its own, the run
stops on its own terms (the `runs` row and the Prefect run marked, what was loaded kept), and the server is
stopped last, on Ctrl-C and on SIGTERM alike.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import Any

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so that the same clean stop runs (Prefect and our flows
    treat KeyboardInterrupt as an interruption, not as a failure of the code)."""


_stop_requested: list[int] = []  # the signal that asked this process to stop, once one has


def _stop_error(signum: int) -> KeyboardInterrupt:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _on_stop_signal(signum: int, frame: FrameType | None) -> None:
    _stop_requested.append(signum)
    raise _stop_error(signum)


def stop_signal() -> int | None:
    """The signal that asked this process to stop, or None."""
    return _stop_requested[0] if _stop_requested else None


def raise_if_stop_requested() -> None:
    """Raise again at a safe point if a stop signal arrived: Python raises the signal's exception wherever the
    main thread happens to be, and there it can be swallowed (in a `__del__`, say) while the run goes on."""
    if _stop_requested:
        raise _stop_error(_stop_requested[0])


@contextmanager
def stop_signals() -> Iterator[None]:
    """Ctrl-C and SIGTERM stop the run the same way (Python's default for SIGTERM kills the process at once: no
    cleanup, temporary server left running)."""
    previous = {sig: signal.signal(sig, _on_stop_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _detached_server_class() -> type[Any]:
    from prefect.server.api.server import SubprocessASGIServer

    class DetachedASGIServer(SubprocessASGIServer):
        """Prefect's temporary API server, started in its own session: the terminal's Ctrl-C reaches the CLI,
        which stops the run and then this server, instead of killing the server under the running flow."""

        def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
            import prefect
            from prefect.settings import get_current_settings

            # the command and environment of SubprocessASGIServer._run_uvicorn_command (Prefect 3.9)
            return subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--app-dir", str(prefect.__module_path__.parent), "--factory",
                 "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(self.port),
                 "--log-level", "error", "--lifespan", "on"],
                env={**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
                     "PREFECT__SERVER_FINAL": "1",
                     **get_current_settings().to_environment_variables(exclude_unset=True)},
                start_new_session=True,
            )

    return DetachedASGIServer


class PrefectUnavailable(RuntimeError):
    """No Prefect API to run flows on: a one-line error for the CLI."""


EPHEMERAL_STARTUP_SECONDS = 90  # Prefect's own default (20 s) is too short on a busy 2-core machine


def _startup_timeout() -> int:
    """Prefect's setting when the user set it, else a wait long enough for a loaded machine."""
    try:
        return int(float(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"]))
    except (KeyError, ValueError):
        return EPHEMERAL_STARTUP_SECONDS


@contextmanager
def prefect_api() -> Iterator[str | None]:
    """The API for this process's flow runs: `PREFECT_API_URL` (your own server), else a running `akhbar serve`,
    else a temporary local server that lives exactly as long as this block. Yields its URL.

    A served URL is put in the environment before Prefect is first imported: Prefect reads its settings then,
    and threads it starts later see only those (a thread without the URL would start a server of its own)."""
    served = None if os.environ.get("PREFECT_API_URL") else running_served_api()
    if served:
        os.environ["PREFECT_API_URL"] = served
    from prefect.settings import get_current_settings

    configured = get_current_settings().api.url
    if configured:
        try:
            yield configured
        finally:
            _drain_prefect_workers()
            if served:
                os.environ.pop("PREFECT_API_URL", None)
        return
    server = _detached_server_class()()
    try:
        server.start(timeout=_startup_timeout())
    except RuntimeError:  # Prefect's "Timed out while attempting to connect to ephemeral Prefect API server"
        server.stop()
        raise PrefectUnavailable(
            f"the temporary Prefect server did not answer within {_startup_timeout()} s; start one with "
            "`akhbar serve` in another terminal, or allow more time with "
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS") from None
    try:
        with _using(server.api_url):
            yield server.api_url
    finally:
        server.stop()


@contextmanager
def _using(api_url: str) -> Iterator[None]:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    os.environ["PREFECT_API_URL"] = api_url  # process-pool workers started by this run inherit it
    try:
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            yield
    finally:
        _drain_prefect_workers()
        os.environ.pop("PREFECT_API_URL", None)


def prefect_home() -> Path:
    """PREFECT_HOME as Prefect resolves it by default, without importing Prefect."""
    return Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()


def served_api_file(home: Path) -> Path:
    """Where a running `akhbar serve` leaves its API URL, so that CLI runs use it instead of starting a temporary
    server of their own (seconds saved per command, and the runs show in that server's UI)."""
    return home / "akhbar-serve.url"


def announce_served_api(home: Path, api_url: str) -> None:
    served_api_file(home).write_text(api_url, encoding="utf-8")


def running_served_api() -> str | None:
    """The API of an `akhbar serve` running on this machine for this PREFECT_HOME, if it answers at once."""
    import httpx

    announced = served_api_file(prefect_home())
    if not announced.is_file():
        return None
    url = announced.read_text(encoding="utf-8").strip()
    try:
        healthy = httpx.get(f"{url}/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        healthy = False
    return url if healthy else None


def _drain_prefect_workers(timeout: float = 5.0) -> None:
    """Send the logs and events still queued while the server is up (as Prefect's own test harness does before
    stopping its server): queued later, they would retry a stopped server for minutes at exit."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        with suppress(RuntimeError):  # never started in this process
            worker.drain_all(timeout=timeout)
