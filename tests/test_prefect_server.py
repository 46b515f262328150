"""End to end with a real Prefect server on a free loopback port (private PREFECT_HOME, SQLite, telemetry off).

1. `akhbar serve` (server + served deployments, as a user starts it); the ad-hoc deployment is triggered through
   the REST API exactly as the UI's "Run" button does (POST /deployments/{id}/create_flow_run), and the rows
   land in DuckDB; a run asking for a db_path outside the project directory is refused; the nightly deployment
   refuses to overlap itself.
2. prefect.yaml as the README says: `prefect work-pool create akhbar-local --type process`, `prefect deploy
   --all` from the project directory, read back, and one run through `prefect worker start`.

Every process is started in its own session and its whole group is killed in teardown; a final sweep kills
anything still carrying this test's private PREFECT_HOME and fails the test if there was any.
Deselect with `-m "not e2e"`.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import pytest
from conftest import REPO
from prefect_procs import TERMINAL, Processes, free_port, healthy, start_server, wait_for
from prefect_procs import private_env as procs_env

from flows.sample_site import StaticSite

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
GOLD = json.loads((REPO / "samples" / "expected.json").read_text(encoding="utf-8"))
ARTICLES = sorted(p for p, g in GOLD.items() if "expect" not in g)


def private_env(home: Path, api_url: str | None = None) -> dict[str, str]:
    return procs_env(home, api_url, PREFECT_RUNNER_POLL_FREQUENCY="2", PREFECT_WORKER_QUERY_SECONDS="2")


class Api:
    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=30)

    def _send(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        # 503 is the server's "retry" answer (SQLite busy); Prefect's own client retries it the same way
        for attempt in range(8):
            r = self.http.request(method, path, json=body)
            if r.status_code != 503:
                break
            time.sleep(0.25 * 2 ** attempt)
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text[:500]}"
        return r

    def get(self, path: str):
        return self._send("GET", path).json()

    def post(self, path: str, body: dict):
        return self._send("POST", path, body).json()

    def deployment(self, flow: str, name: str) -> dict:
        return self.get(f"/deployments/name/{flow}/{name}")

    def run_like_the_ui(self, deployment_id: str, parameters: dict) -> dict:
        """What the UI's Run > Custom run sends."""
        return self.post(f"/deployments/{deployment_id}/create_flow_run", {
            "parameters": parameters, "tags": [], "job_variables": {},
            "state": {"type": "SCHEDULED", "message": "Run from the Prefect UI", "state_details": {}},
        })

    def state(self, run_id: str) -> str:
        return self.get(f"/flow_runs/{run_id}")["state"]["type"]

    def wait_terminal(self, run_id: str, timeout: float, diag=lambda: "") -> str:
        return wait_for(lambda: (s := self.state(run_id)) in TERMINAL and s, timeout, f"flow run {run_id}", diag)


def sample_sources(site: StaticSite, path: Path, requests_per_second: float = 0) -> Path:
    toml = site.sources_toml().replace("requests_per_second = 0", f"requests_per_second = {requests_per_second}")
    path.write_text(toml, encoding="utf-8")
    return path


def db_rows(db: Path, sql: str, params=None):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------------------
# 1. akhbar serve


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    started = time.monotonic()
    tmp = tmp_path_factory.mktemp("serve")
    home = tmp / "prefect-home"
    procs = Processes(home, tmp)
    port = free_port()
    env = private_env(home)
    # the tests fetch the sample site on 127.0.0.1: served runs may ask for private addresses
    procs.start("akhbar-serve", [str(BIN / "akhbar"), "serve", "--host", "127.0.0.1", "--port", str(port),
                                 "--db", str(tmp / "served.duckdb"), "--allow-private-addresses"], env, cwd=tmp)
    try:
        line = wait_for(lambda: next((ln for ln in procs.log("akhbar-serve", 400).splitlines()
                                      if "Prefect UI at" in ln), None),
                        120, "akhbar serve to print its UI line", lambda: procs.log("akhbar-serve"))
        yield dict(api=Api(f"http://127.0.0.1:{port}/api"), base=f"http://127.0.0.1:{port}", line=line, tmp=tmp,
                   procs=procs, home=home)
        code = procs.stop("akhbar-serve", signal.SIGINT, timeout=40)
        assert code == 0, f"akhbar serve did not stop cleanly on Ctrl+C (exit {code}):\n{procs.log('akhbar-serve')}"
        assert not healthy(f"http://127.0.0.1:{port}/api"), "the Prefect server is still up after akhbar serve stopped"
    finally:
        leftovers = procs.close()
        print(f"\n[akhbar serve e2e: {time.monotonic() - started:.1f}s including server start and stop]")
    assert not leftovers, f"processes left running: {leftovers}"


def test_serve_prints_one_clear_line_and_serves_both_deployments(served):
    api = served["api"]
    assert served["line"] == (f"akhbar: Prefect UI at {served['base']} — deployments nightly-ingest and ingest-urls "
                              "are being served (Ctrl+C to stop)")
    assert sum("Prefect UI at" in ln for ln in served["procs"].log("akhbar-serve", 400).splitlines()) == 1
    # the UI is served, it points at this server, and analytics are off
    assert "<html" in httpx.get(served["base"] + "/", timeout=10).text.lower()
    ui = httpx.get(served["base"] + "/ui-settings", timeout=10).json()
    assert ui["api_url"] == served["base"] + "/api"
    nightly = api.deployment("ingest", "nightly-ingest")
    assert [s["schedule"]["cron"] for s in nightly["schedules"]] == ["30 2 * * *"]
    assert nightly["schedules"][0]["schedule"]["timezone"] == "Asia/Riyadh" and not nightly["paused"]
    assert nightly["global_concurrency_limit"]["limit"] == 1
    assert nightly["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
    assert nightly["parameters"]["db_path"] == str(served["tmp"] / "served.duckdb")
    assert nightly["parameters"]["sources_file"] == str(served["tmp"] / "sources.toml")
    adhoc = api.deployment("ingest-urls", "ingest-urls")
    assert adhoc["schedules"] == []
    assert set(adhoc["parameters"]) == {"urls", "db_path", "source", "allow_private_addresses"}
    # typed parameters with descriptions: the UI renders a form from this schema
    props = adhoc["parameter_openapi_schema"]["properties"]
    assert props["urls"]["type"] == "array" and props["urls"]["items"]["type"] == "string"
    assert all(p.get("description") for p in props.values())


def test_ui_run_of_ingest_urls_lands_in_duckdb(served):
    api, tmp, procs = served["api"], served["tmp"], served["procs"]
    db = tmp / "adhoc.duckdb"
    dep = api.deployment("ingest-urls", "ingest-urls")
    t0 = time.monotonic()
    with StaticSite() as site:
        urls = [site.base_url + p for p in ARTICLES[:3]]
        run = api.run_like_the_ui(dep["id"], {"urls": urls, "db_path": str(db), "allow_private_addresses": True})
        state = api.wait_terminal(run["id"], 120, lambda: procs.log("akhbar-serve"))
    print(f"\n[ingest-urls through the API: {time.monotonic() - t0:.1f}s from Run to {state}]")
    assert state == "COMPLETED", procs.log("akhbar-serve")
    assert db_rows(db, "SELECT count(*) FROM articles")[0][0] == len(urls)
    assert db_rows(db, "SELECT count(*) FROM mentions")[0][0] > 0
    assert db_rows(db, "SELECT flow, status, stored FROM runs WHERE run_id = ?", [run["id"]]) == [
        ("ingest-urls", "completed", len(urls))]
    arts = api.post("/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run["id"]]}}})
    keys = {a["key"]: a["type"] for a in arts if a.get("key")}
    assert keys.get("ingest-urls-summary") == "table", arts


def test_a_served_run_cannot_write_outside_the_project_directory(served, tmp_path):
    api, procs = served["api"], served["procs"]
    outside = tmp_path / "outside.duckdb"  # not under the directory akhbar serve was started in
    dep = api.deployment("ingest-urls", "ingest-urls")
    run = api.run_like_the_ui(dep["id"], {"urls": ["http://127.0.0.1:9/x.html"], "db_path": str(outside),
                                          "allow_private_addresses": True})
    state = api.wait_terminal(run["id"], 120, lambda: procs.log("akhbar-serve"))
    assert state == "FAILED"
    message = api.get(f"/flow_runs/{run['id']}")["state"]["message"]
    assert "outside the project directory" in message and "--allow-any-path" in message, message
    assert not outside.exists()


def test_nightly_deployment_never_overlaps_itself(served):
    api, tmp, procs = served["api"], served["tmp"], served["procs"]
    dep = api.deployment("ingest", "nightly-ingest")
    with StaticSite() as site:
        # a polite rate makes the first run last several seconds
        params = {"sources_file": str(sample_sources(site, tmp / "slow-sources.toml", requests_per_second=3)),
                  "db_path": str(tmp / "nightly.duckdb"), "allow_private_addresses": True}
        first = api.run_like_the_ui(dep["id"], params)
        wait_for(lambda: api.state(first["id"]) == "RUNNING", 60, "the first nightly run to start",
                 lambda: procs.log("akhbar-serve"))
        second = api.run_like_the_ui(dep["id"], params)
        second_state = api.wait_terminal(second["id"], 60, lambda: procs.log("akhbar-serve"))
        still_running = api.state(first["id"])
        first_state = api.wait_terminal(first["id"], 120, lambda: procs.log("akhbar-serve"))
    assert second_state == "CANCELLED" and still_running == "RUNNING", (second_state, still_running)
    assert first_state == "COMPLETED", procs.log("akhbar-serve")
    assert db_rows(tmp / "nightly.duckdb", "SELECT count(*) FROM runs")[0][0] == 1
    assert db_rows(tmp / "nightly.duckdb", "SELECT count(*) FROM articles")[0][0] == len(ARTICLES)


# ---------------------------------------------------------------------------------------------------------
# 2. prefect.yaml with `prefect deploy --all` and a process worker


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory):
    started = time.monotonic()
    tmp = tmp_path_factory.mktemp("deploy")
    home = tmp / "prefect-home"
    procs = Processes(home, tmp)
    try:
        api_url = start_server(procs, private_env(home))
        yield dict(api=Api(api_url), api_url=api_url, tmp=tmp, procs=procs, home=home)
    finally:
        leftovers = procs.close()
        print(f"\n[prefect deploy e2e: {time.monotonic() - started:.1f}s including server start and stop]")
    assert not leftovers, f"processes left running: {leftovers}"


def project_copy(tmp: Path) -> Path:
    """The project directory as a user has it: prefect.yaml, sources.toml and the code (linked)."""
    proj = tmp / "project"
    proj.mkdir()
    shutil.copy(REPO / "prefect.yaml", proj / "prefect.yaml")
    shutil.copy(REPO / "sources.toml", proj / "sources.toml")
    for name in ("flows", "extractors", "warehouse", "samples"):
        (proj / name).symlink_to(REPO / name, target_is_directory=True)
    return proj


def test_prefect_yaml_deploys_and_a_worker_runs_it(plain_server):
    api, tmp, procs = plain_server["api"], plain_server["tmp"], plain_server["procs"]
    proj = project_copy(tmp)
    env = private_env(plain_server["home"], plain_server["api_url"])
    env["PWD"] = str(tmp)  # a stale PWD (as from an IDE or a script): the real working directory must win
    prefect = str(BIN / "prefect")

    def run(*args: str) -> subprocess.CompletedProcess:
        r = subprocess.run([prefect, *args], cwd=proj, env=env, capture_output=True, text=True, timeout=180,
                           stdin=subprocess.DEVNULL)
        assert r.returncode == 0, f"prefect {' '.join(args)}: exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        return r

    run("work-pool", "create", "akhbar-local", "--type", "process")
    run("--no-prompt", "deploy", "--all")

    nightly = api.deployment("ingest", "nightly-ingest")
    adhoc = api.deployment("ingest-urls", "ingest-urls")
    assert nightly["work_pool_name"] == adhoc["work_pool_name"] == "akhbar-local"
    assert api.get("/work_pools/akhbar-local")["type"] == "process"
    sched = nightly["schedules"][0]["schedule"]
    assert sched["cron"] and sched["timezone"] and nightly["schedules"][0]["active"]
    assert nightly["global_concurrency_limit"]["limit"] == 1
    assert nightly["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
    assert nightly["parameters"]["sources_file"] == "sources.toml" and nightly["parameters"]["db_path"]
    assert adhoc["schedules"] == []
    assert {"urls", "db_path", "source", "allow_private_addresses"} <= set(adhoc["parameters"])
    assert adhoc["parameter_openapi_schema"]["properties"]["urls"]["type"] == "array"
    # flows run in the project directory, whatever directory the worker was started from
    steps = [s for s in adhoc["pull_steps"] if "prefect.deployments.steps.set_working_directory" in s]
    assert steps and steps[0]["prefect.deployments.steps.set_working_directory"]["directory"] == str(proj)

    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    worker_env = {**env, "PWD": str(elsewhere)}
    procs.start("worker", [prefect, "worker", "start", "--pool", "akhbar-local", "--type", "process"],
                worker_env, cwd=elsewhere)
    t0 = time.monotonic()
    with StaticSite() as site:
        urls = [site.base_url + ARTICLES[0]]
        run_ = api.run_like_the_ui(adhoc["id"], {"urls": urls, "db_path": "data/worker.duckdb",
                                                 "allow_private_addresses": True})
        state = api.wait_terminal(run_["id"], 150, lambda: procs.log("worker"))
    print(f"\n[ingest-urls through a process worker: {time.monotonic() - t0:.1f}s from Run to {state}]")
    assert state == "COMPLETED", procs.log("worker")
    db = proj / "data" / "worker.duckdb"  # the relative db_path resolved against the project directory
    assert db.exists(), procs.log("worker")
    assert db_rows(db, "SELECT count(*) FROM articles")[0][0] == 1
    assert db_rows(db, "SELECT run_id FROM runs") == [(run_["id"],)]


def test_cli_runs_use_a_running_akhbar_serve_instead_of_a_temporary_server(served):
    """No second server to start: the run goes to the served API (and shows in its UI)."""
    tmp, api = served["tmp"], served["api"]
    db = tmp / "via-serve.duckdb"
    with StaticSite() as site:
        r = subprocess.run([str(BIN / "akhbar"), "ingest-urls", site.base_url + ARTICLES[0], "--db", str(db),
                            "--allow-private-addresses"], capture_output=True, text=True, timeout=300, cwd=tmp,
                           env={**private_env(served["home"]), "PREFECT_LOGGING_LEVEL": "INFO"})
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Starting temporary server" not in r.stdout + r.stderr
    run_id = db_rows(db, "SELECT run_id FROM runs")[0][0]
    assert api.get(f"/flow_runs/{run_id}")["state"]["type"] == "COMPLETED"
