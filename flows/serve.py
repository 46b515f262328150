"""`akhbar serve`: a local Prefect server plus the project's two deployments, served from this process.

Why serve rather than `prefect deploy` + a worker: one foreground process, nothing to configure first (no work
pool, no pull step, no `prefect deploy` run from the right directory), flows run from the installed package
with the same Python environment, and Ctrl+C stops everything. The deployments have the same schedule,
timezone, parameters and concurrency limit as prefect.yaml (read from it when it is there), so the UI shows the
same thing either way; prefect.yaml + a worker remains the path for running flows on other machines.

Offline and private: analytics and promotional UI content are off; the UI is served from the Prefect package,
its database is SQLite under PREFECT_HOME.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import flows  # noqa: F401  (telemetry defaults)
from flows.local_api import announce_served_api, prefect_home, served_api_file

PROJECT_DIR = Path(__file__).resolve().parents[1]
NIGHTLY, ADHOC = "nightly-ingest", "ingest-urls"

# Used when prefect.yaml cannot be read (an installed package without the project directory).
DEFAULTS: dict[str, dict[str, Any]] = {
    NIGHTLY: {
        "description": "Nightly ingest of every source in sources.toml.",
        "parameters": {"sources_file": "sources.toml", "db_path": "data/akhbar.duckdb"},
        "schedules": [{"cron": "30 2 * * *", "timezone": "Asia/Riyadh", "active": True}],
        "concurrency_limit": {"limit": 1, "collision_strategy": "CANCEL_NEW"},
    },
    ADHOC: {
        "description": "Fetch, extract, tag and store the given article URLs.",
        "parameters": {"urls": [], "db_path": "data/akhbar.duckdb", "source": "adhoc",
                       "allow_private_addresses": False},
    },
}

OFFLINE_ENV = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
    "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
}


class ServeError(RuntimeError):
    pass


class ServeUsageError(ServeError):
    """`akhbar serve` asked to do something unsafe without saying so (exit 2)."""


AUTH_VARS = ("PREFECT_SERVER_API_AUTH_STRING", "PREFECT_API_AUTH_STRING")  # server side, client side


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, insecure: bool) -> str | None:
    """Refuse to listen beyond this machine without Prefect's basic auth, unless `insecure`; the auth string
    to use (None: none)."""
    auth = next((os.environ[v] for v in AUTH_VARS if os.environ.get(v)), None)
    if not is_loopback(host) and auth is None and not insecure:
        raise ServeUsageError(
            f"--host {host} would let anyone who can reach the port start runs; set PREFECT_SERVER_API_AUTH_STRING="
            "user:password (Prefect's basic auth) or pass --insecure")
    return auth


@dataclass(frozen=True, slots=True)
class ServedPolicy:
    """What the served flow runs may ask for (flows/served_policy.py checks it in each run)."""

    project_dir: Path
    allow_any_path: bool = False
    allow_private_addresses: bool = False

    def environment(self) -> dict[str, str]:
        return {"AKHBAR_SERVE_PROJECT_DIR": str(self.project_dir),
                "AKHBAR_SERVE_ALLOW_ANY_PATH": "1" if self.allow_any_path else "0",
                "AKHBAR_SERVE_ALLOW_PRIVATE_ADDRESSES": "1" if self.allow_private_addresses else "0"}


@dataclass(slots=True)
class DeploymentSpec:
    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    concurrency_limit: dict[str, Any] | int | None = None


def schedule_text(schedules: list[dict[str, Any]]) -> str:
    """The schedules in words, each with its time zone: "cron 30 2 * * * in Asia/Riyadh" (a cron without a zone
    runs in UTC)."""
    return "; ".join(f"cron {s['cron']} in {s.get('timezone') or 'UTC'}"
                     + ("" if s.get("active", True) else " (paused)") for s in schedules if s.get("cron"))


def with_schedule(description: str, schedules: list[dict[str, Any]]) -> str:
    """The description, followed by its schedule and time zone unless it names them already (the UI shows the
    cron without its zone)."""
    text = schedule_text(schedules)
    if not text or all(s.get("timezone", "UTC") in description and s["cron"] in description
                       for s in schedules if s.get("cron")):
        return description
    return f"{description.rstrip()} Schedule: {text}."


def deployment_specs(prefect_yaml: Path | None = None) -> dict[str, DeploymentSpec]:
    """The two deployments as prefect.yaml describes them (falling back to DEFAULTS)."""
    path = prefect_yaml or PROJECT_DIR / "prefect.yaml"
    declared: dict[str, dict[str, Any]] = {}
    if path.is_file():
        import yaml

        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        declared = {d["name"]: d for d in data.get("deployments") or [] if isinstance(d, dict) and "name" in d}
    specs = {}
    for name, default in DEFAULTS.items():
        d = declared.get(name) or default
        schedules = list(d.get("schedules") or [])
        specs[name] = DeploymentSpec(
            name=name,
            description=with_schedule(d.get("description") or default.get("description", ""), schedules),
            parameters=dict(d.get("parameters") or default.get("parameters") or {}),
            schedules=schedules,
            concurrency_limit=d.get("concurrency_limit"),
        )
    return specs


def port_free(host: str, port: int) -> bool:
    """Whether a server could listen on the port now. SO_REUSEADDR as uvicorn sets it: connections of a server
    stopped a moment ago linger in TIME-WAIT for a minute and must not count as "in use"."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def wait_healthy(api_url: str, proc: subprocess.Popen | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServeError(f"the Prefect server exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise ServeError(f"the Prefect server did not answer at {api_url}/health within {timeout:.0f}s")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the server gets SIGTERM if `akhbar serve` dies without cleaning up (kill -9)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def start_server(host: str, port: int, log_path: Path, env: dict[str, str]) -> subprocess.Popen:
    """`prefect server start` as a child in its own session (Ctrl+C reaches us, and we stop it after the
    runner has shut down cleanly), its output in log_path."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - the child owns it
    prefect = shutil.which("prefect", path=str(Path(sys.executable).parent)) or "prefect"
    cmd = [prefect, "server", "start", "--host", host, "--port", str(port), "--analytics-off"]
    try:
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True,
                                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
    finally:
        log.close()


def stop_process(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def build_deployments(db_path: str | Path, sources_file: Path, specs: dict[str, DeploymentSpec],
                      data_path: str | None = None) -> list[Any]:
    """The served deployments with `akhbar serve`'s warehouse (`db_path`, and `data_path` for a new lake) and
    sources file as their parameters."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    from flows.ingest import ingest, ingest_urls

    def limit(value: dict[str, Any] | int | None) -> ConcurrencyLimitConfig | int | None:
        if isinstance(value, dict):
            return ConcurrencyLimitConfig(**value)
        return value

    out = []
    for flow_obj, spec in ((ingest, specs[NIGHTLY]), (ingest_urls, specs[ADHOC])):
        params = dict(spec.parameters)
        if "db_path" in params:
            params["db_path"] = str(db_path)
            if data_path:
                params["data_path"] = data_path
        if "sources_file" in params:
            params["sources_file"] = str(sources_file)
        schedules = [Cron(s["cron"], timezone=s.get("timezone"), active=s.get("active", True))
                     for s in spec.schedules if s.get("cron")]
        out.append(flow_obj.to_deployment(
            name=spec.name, description=spec.description, parameters=params, schedules=schedules or None,
            concurrency_limit=limit(spec.concurrency_limit), tags=["akhbar"],
            entrypoint_type=EntrypointType.MODULE_PATH,  # runs the installed code, whatever the cwd
        ))
    return out


def server_environment(host: str, port: int, api_url: str, auth: str | None, policy: ServedPolicy) -> dict[str, str]:
    """Set this process's environment for the served runs (offline, their policy, the auth they send), and return
    the server's: the same, plus where it listens and where its UI finds the API."""
    os.environ.update(OFFLINE_ENV)
    os.environ.update(policy.environment())  # inherited by the flow runs the runner starts
    if auth is not None:  # the server asks for it, and the runner and its flow runs send it
        os.environ.update(dict.fromkeys(AUTH_VARS, auth))
    os.environ.pop("PREFECT_API_URL", None)
    server_env = dict(os.environ)
    # The UI asks the server where the API is; without this it would say the default port 4200.
    if not (server_env.get("PREFECT_SERVER_UI_API_URL") or server_env.get("PREFECT_UI_API_URL")):
        server_env["PREFECT_SERVER_UI_API_URL"] = api_url
    server_env["PREFECT_SERVER_API_HOST"] = host
    server_env["PREFECT_SERVER_API_PORT"] = str(port)
    return server_env


def run_deployments(base: str, api_url: str, db: str, sources: Path, data_path: str | None) -> None:
    """Serve the deployments (build_deployments) with the server at `api_url`, in the foreground, until Ctrl+C
    (which ends it quietly)."""
    import asyncio

    from prefect.runner import Runner
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api_url}):
        deployments = build_deployments(db, sources, deployment_specs(), data_path)
        runner = Runner(name="akhbar-serve", pause_on_shutdown=True)
        for deployment in deployments:
            runner.add_deployment(deployment)
        print(f"akhbar: Prefect UI at {base} — deployments {NIGHTLY} and {ADHOC} are being served "
              f"(Ctrl+C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(runner.start())


def serve(host: str = "127.0.0.1", port: int = 4200, db_path: str = "data/akhbar.duckdb",
          sources_file: str = "sources.toml", startup_timeout: float = 120.0, *, insecure: bool = False,
          policy: ServedPolicy | None = None, data_path: str | None = None) -> int:
    """Start the server, serve the deployments in the foreground until Ctrl+C (or SIGTERM), stop the server.

    Another host than loopback needs Prefect's basic auth (PREFECT_SERVER_API_AUTH_STRING) or `insecure`; the
    served runs follow `policy` (default: paths under the working directory, no private addresses)."""
    auth = check_exposure(host, insecure)
    policy = policy or ServedPolicy(Path.cwd().resolve())
    if os.environ.get("PREFECT_API_URL"):
        print(f"akhbar: note: ignoring PREFECT_API_URL={os.environ['PREFECT_API_URL']}; starting a local server",
              file=sys.stderr)
    if not port_free(host, port):
        raise ServeError(f"{host}:{port} is already in use (another Prefect server?); stop it or pass --port")
    from flows.sinks import absolute_location

    # the served runs get absolute paths: a lake's catalog file and a local data path as much as a DuckDB file
    db = absolute_location(db_path)
    data = absolute_location(data_path) if data_path else None
    sources = Path(sources_file).expanduser().resolve()
    if not sources.is_file():
        print(f"akhbar: note: {sources} does not exist yet; the nightly deployment needs it", file=sys.stderr)
    base = f"http://{_url_host(host)}:{port}"
    api_url = f"{base}/api"
    home = prefect_home()
    log_path = home / "akhbar-server.log"
    server_env = server_environment(host, port, api_url, auth, policy)
    # Ctrl+C must work even when started from a shell that ignores SIGINT for background jobs, and SIGTERM
    # (systemd, a test's teardown) takes the same clean path.
    previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: os.kill(os.getpid(), signal.SIGINT))
    server = start_server(host, port, log_path, server_env)
    try:
        try:
            wait_healthy(api_url, server, startup_timeout)
        except ServeError as exc:
            raise ServeError(f"{exc}; its log ({log_path}) ends with:\n{_tail(log_path)}") from None
        os.environ["PREFECT_API_URL"] = api_url
        announce_served_api(home, api_url)
        run_deployments(base, api_url, db, sources, data)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
        served_api_file(home).unlink(missing_ok=True)
        stop_process(server)
        print("akhbar: stopped the Prefect server and the served deployments", file=sys.stderr, flush=True)
    return 0
