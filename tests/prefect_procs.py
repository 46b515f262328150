"""Helpers for tests that start real Prefect servers and workers: private environments, free ports, and
process groups that are always killed (with a final sweep by the test's private PREFECT_HOME)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def private_env(home: Path, api_url: str | None = None, *, drop_prefixes: tuple[str, ...] = ("PREFECT_",),
                **settings: str) -> dict[str, str]:
    """The current environment without the given variable prefixes, with telemetry off and a private
    PREFECT_HOME; `settings` add or override variables (e.g. PREFECT_WORKER_QUERY_SECONDS="1")."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop_prefixes)}
    env.update(DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_HOME=str(home),
               PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT="false", PREFECT_LOGGING_LEVEL="INFO")
    env.update(settings)
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


class Processes:
    """Processes started by one fixture; each in its own session, killed as a group."""

    def __init__(self, home: Path, logs: Path) -> None:
        self.home, self.logs = home, logs
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.Popen:
        out = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                             cwd=cwd, start_new_session=True)
        out.close()
        self.procs.append((name, p))
        return p

    def log(self, name: str, tail: int = 60) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-tail:]) if path.exists() else ""

    def stop(self, name: str, sig: int = signal.SIGINT, timeout: float = 30.0) -> int | None:
        for n, p in self.procs:
            if n == name and p.poll() is None:
                p.send_signal(sig)  # the process itself first: its clean shutdown path
                try:
                    return p.wait(timeout)
                except subprocess.TimeoutExpired:
                    return None
        return None

    def close(self) -> list[str]:
        """Kill every group started here; returns the command lines of stragglers found by the sweep."""
        for _, p in reversed(self.procs):
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(p.pid, sig)
                except (ProcessLookupError, PermissionError):
                    break
                try:
                    p.wait(10)
                    break
                except subprocess.TimeoutExpired:
                    continue
            if p.poll() is None:
                p.kill()
        return sweep(self.home)


def sweep(home: Path) -> list[str]:
    """Kill (and report) any process still running with this test's private PREFECT_HOME (Linux /proc)."""
    leftovers: list[str] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return leftovers
    marker = f"PREFECT_HOME={home}".encode()
    for d in proc.iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            if marker in (d / "environ").read_bytes().split(b"\0"):
                leftovers.append((d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
                os.kill(int(d.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue
    return leftovers


def wait_for(predicate, timeout: float, what: str, diag=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{diag()}")


def healthy(api: str) -> bool:
    try:
        return httpx.get(f"{api}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def start_server(procs: Processes, env: dict[str, str]) -> str:
    """`prefect server start` on a free loopback port in `env` (see private_env); its API URL once healthy."""
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    procs.start("server", [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port),
                           "--analytics-off"], env)
    wait_for(lambda: healthy(api), 120, "the Prefect server", lambda: procs.log("server"))
    return api


def api_get(api: str, path: str):
    return httpx.get(api + path, timeout=10).json()
