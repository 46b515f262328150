"""Politeness shared across workers: two process workers, two ingest runs at once, one host, its limits kept.

A real `prefect server start` (SQLite, private PREFECT_HOME, free loopback port), a process work pool with two
`prefect worker start --limit 1` processes (so each takes one run), and the `ingest` flow deployed with
`flow.from_source(...).deploy(...)`. Two runs start at once for two sources on the same host (the local site below,
`requests_per_second = 5`, `max_concurrency = 1`), with `shared_politeness=True`; both write to one DuckLake
warehouse (a SQLite catalog) at the same time. The site records when each request started and ended, and the test checks, across both runs
and both workers, that no two gated requests (feeds and articles) overlapped and that no one-second window held
more than 5 request starts (+1 for clock edges).

Each run's sources file gives it its own User-Agent, and the site holds its robots.txt answers until both runs have
asked (or 45 s passed), so the two runs are ready to fetch at the same moment however late one worker started its
process (robots.txt itself is outside the gate, and a run may ask for it more than once). With both runs lined
up, unshared limits would show as twice the rate.

Every process is started in its own session and its group is killed in teardown; a final sweep kills anything
still carrying this test's PREFECT_HOME and fails the test if there was any. Deselect with `-m "not e2e"` (the
two small unit tests of the hook and the limit names stay).
"""

from __future__ import annotations

import bisect
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import REPO
from localsite import LocalSite, html, xml
from prefect_procs import TERMINAL, Processes, api_get, start_server, wait_for
from prefect_procs import private_env as procs_env

BIN = Path(sys.executable).parent
RATE, CONCURRENCY, PER_SOURCE = 5.0, 1, 20
PAGE_DELAY = 0.05  # seconds each article answer takes, so overlapping requests would show
SAMPLE_PAGES = sorted(p for p in (REPO / "samples" / "site").glob("[enw]*/*.html"))

DEPLOY = """
import sys
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.workers.process import ProcessWorker

repo, pool = sys.argv[1], sys.argv[2]
with get_client(sync_client=True) as client:
    client.create_work_pool(WorkPoolCreate(name=pool, type="process",
                                           base_job_template=ProcessWorker.get_default_base_job_template()))
dep = flow.from_source(source=repo, entrypoint="flows/ingest.py:ingest").deploy(
    name="scale-ingest", work_pool_name=pool, build=False, push=False, print_next_steps=False)
print("DEPLOYMENT", dep)
"""


def private_env(home: Path, api_url: str | None = None) -> dict[str, str]:
    return procs_env(home, api_url, drop_prefixes=("PREFECT_", "AKHBAR_"), PREFECT_WORKER_QUERY_SECONDS="1",
                     PREFECT_WORKER_PREFETCH_SECONDS="1")


class PoliteSite:
    """Two feeds of PER_SOURCE articles each on one host; records [start, end] of every request."""

    def __init__(self) -> None:
        self.site = LocalSite()
        self.base = self.site.base
        self.log: list[tuple[str, float, float]] = []  # (path, start, end), time.monotonic()
        self._lock = threading.Lock()
        self._robots_agents: set[str] = set()
        self._both = threading.Event()
        self.lined_up = False  # both runs asked for robots.txt before the 45 s fallback
        self.site.routes["/robots.txt"] = self._robots
        for feed in ("a", "b"):
            items = "".join(f"<item><title>{feed}{i}</title><link>{self.base}/{feed}/{i}.html</link></item>"
                            for i in range(PER_SOURCE))
            body = xml(f'<?xml version="1.0"?><rss version="2.0"><channel><title>{feed}</title>{items}</channel></rss>',
                       "application/rss+xml")
            self.site.routes[f"/feed-{feed}.xml"] = self._timed(lambda req, body=body: body)
            for i in range(PER_SOURCE):
                page = SAMPLE_PAGES[(i + (PER_SOURCE if feed == "b" else 0)) % len(SAMPLE_PAGES)]
                text = page.read_text(encoding="utf-8").replace("{{BASE}}", self.base)
                text = re.sub(r'<link rel="canonical"[^>]*>', f'<link rel="canonical" href="{self.base}/{feed}/{i}.html">',
                              text)
                self.site.routes[f"/{feed}/{i}.html"] = self._timed(lambda req, text=text: (time.sleep(PAGE_DELAY),
                                                                                             html(text))[1])

    def _robots(self, req):
        with self._lock:
            self._robots_agents.add(req.headers.get("user-agent", ""))
            if len(self._robots_agents) >= 2 and not self._both.is_set():
                self.lined_up = True
                self._both.set()
        self._both.wait(45)  # line both runs up before they fetch anything else
        return 200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n"

    def _timed(self, handler):
        def run(req):
            start = time.monotonic()
            out = handler(req)
            with self._lock:
                self.log.append((req.path, start, time.monotonic()))
            return out
        return run

    def sources(self, feed: str) -> str:
        return (f"[crawl]\ntimeout_seconds = 60\nuser_agent = \"akhbar-test-{feed}\"\n\n[[sources]]\nname = \"host-{feed}\"\n"
                f"feeds = [\"{self.base}/feed-{feed}.xml\"]\nsitemaps = []\nmax_articles = 100\n"
                f"requests_per_second = {RATE}\nmax_concurrency = {CONCURRENCY}\n")

    def close(self) -> None:
        self._both.set()
        self.site.close()


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1]))
    cur = best = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    return best


def max_in_window(starts: list[float], window: float) -> int:
    """The most request starts in any half-open window [t, t + window)."""
    starts = sorted(starts)
    return max(bisect.bisect_left(starts, t + window) - i for i, t in enumerate(starts))


def test_limit_names_and_the_strictest_settings_per_host():
    from extractors.config import Source
    from flows.politeness import host_limits, limit_name, rate_limit_name, shared_politeness_enabled

    assert limit_name("127.0.0.1:8080") == "akhbar-host-127.0.0.1-8080"
    assert limit_name("www.BBC.com") == "akhbar-host-www.bbc.com"
    assert rate_limit_name("[::1]:80") == "akhbar-host-1-80-rate"
    limits = host_limits([
        Source(name="a", feeds=("https://news.example/rss",), requests_per_second=2.0, max_concurrency=3),
        Source(name="b", sitemaps=("https://news.example/sitemap.xml",), requests_per_second=0.5, max_concurrency=4),
        Source(name="c", homepage="https://other.example/", requests_per_second=0, max_concurrency=2),
    ])
    assert {h: (x.requests_per_second, x.max_concurrency) for h, x in limits.items()} == {
        "news.example": (0.5, 3), "other.example": (0, 2)}
    assert shared_politeness_enabled(True) and not shared_politeness_enabled(False)


def test_fetcher_asks_the_host_gate_before_every_attempt(site):
    import asyncio
    from contextlib import asynccontextmanager

    from extractors.config import CrawlSettings
    from extractors.fetch.errors import FetchError
    from extractors.fetch.fetcher import Fetcher

    calls, inside = [], []
    hits = []

    def flaky(req):
        hits.append(req)
        return html("busy", 503, **{"Retry-After": "0"}) if len(hits) == 1 else html("<p>ok</p>" * 20)

    site.routes["/robots.txt"] = (200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n")
    site.routes["/flaky.html"] = flaky

    @asynccontextmanager
    async def gate(host, rps, conc):
        calls.append((host, rps, conc))
        inside.append(1)
        try:
            yield
        finally:  # given back whether the attempt succeeded or not
            inside.pop()

    @asynccontextmanager
    async def closed_gate(host, rps, conc):
        raise FetchError("shared politeness unavailable: test")
        yield

    async def main():
        async with Fetcher(CrawlSettings(), allow_private_addresses=True, backoff_seconds=0.01,
                           host_gate=gate) as f:
            f.set_host_limits(site.url("/"), 4.0, 3)
            page = await f.fetch(site.url("/flaky.html"), "s")
        async with Fetcher(CrawlSettings(), allow_private_addresses=True, backoff_seconds=0.01, obey_robots=False,
                           host_gate=closed_gate) as f:
            refused = await f.fetch(site.url("/flaky.html"), "s")
        return page, refused

    page, refused = asyncio.run(main())
    host = site.base.removeprefix("http://")
    assert page.ok and page.status == 200 and len(page.earlier_attempts) == 1
    assert calls == [(host, 4.0, 3), (host, 4.0, 3)] and not inside  # both attempts, robots.txt not gated
    assert refused.error and "shared politeness unavailable" in refused.error and len(hits) == 2


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    started = time.monotonic()
    tmp = tmp_path_factory.mktemp("scale")
    home = tmp / "prefect-home"
    procs = Processes(home, tmp)
    try:
        api = start_server(procs, private_env(home))
        env = private_env(home, api)
        r = subprocess.run([sys.executable, "-c", DEPLOY, str(REPO), "scale-pool"], env=env, cwd=tmp,
                           capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert r.returncode == 0 and "DEPLOYMENT" in r.stdout, f"deploy failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        for name in ("worker-1", "worker-2"):
            procs.start(name, [str(BIN / "prefect"), "worker", "start", "--pool", "scale-pool", "--type", "process",
                               "--name", name, "--limit", "1"], env, cwd=tmp)
        yield dict(api=api, tmp=tmp, procs=procs, started=started)
    finally:
        leftovers = procs.close()
        print(f"\n[two-worker e2e: {time.monotonic() - started:.1f}s including server start and stop]")
    assert not leftovers, f"processes left running: {leftovers}"


@pytest.mark.e2e
def test_two_workers_keep_each_hosts_limits(two_workers):
    api, tmp, procs = two_workers["api"], two_workers["tmp"], two_workers["procs"]
    dep = api_get(api, "/deployments/name/ingest/scale-ingest")
    site = PoliteSite()
    lake = f"ducklake:sqlite:{tmp / 'lake.sqlite'}"
    try:
        runs = {}
        for feed in ("a", "b"):
            (tmp / f"{feed}.toml").write_text(site.sources(feed), encoding="utf-8")
            params = {"sources_file": str(tmp / f"{feed}.toml"), "db_path": lake,
                      "allow_private_addresses": True, "shared_politeness": True, "write_report": False}
            r = httpx.post(f"{api}/deployments/{dep['id']}/create_flow_run", json={"parameters": params}, timeout=30)
            assert r.status_code < 300, r.text
            runs[feed] = r.json()["id"]

        def diag() -> str:
            return "\n".join(f"--- {n}\n{procs.log(n, 80)}" for n in ("worker-1", "worker-2"))

        states = {}
        for feed, run_id in runs.items():
            states[feed] = wait_for(lambda rid=run_id: (s := api_get(api, f"/flow_runs/{rid}")["state"]["type"])
                                    in TERMINAL and s, 150, f"flow run {feed}", diag)
    finally:
        site.close()
    assert states == {"a": "COMPLETED", "b": "COMPLETED"}, diag()

    # the limits live on the Prefect server, named per host, with the sources' settings
    host = site.base.removeprefix("http://")
    name = "akhbar-host-" + host.replace(":", "-")
    conc = api_get(api, f"/v2/concurrency_limits/{name}")
    rate = api_get(api, f"/v2/concurrency_limits/{name}-rate")
    assert (conc["limit"], conc["slot_decay_per_second"]) == (CONCURRENCY, 0.0), conc
    assert (rate["limit"], rate["slot_decay_per_second"]) == (1, RATE), rate
    assert conc["active_slots"] == 0, "a slot was not given back"

    # each worker ran one of the two runs
    logs = {n: (tmp / f"{n}.log").read_text(encoding="utf-8", errors="replace") for n in ("worker-1", "worker-2")}
    took = {n: sorted(f for f, rid in runs.items()
                      if f"submitting flow run '{rid}'" in text and f"Aborted submission of flow run '{rid}'" not in text)
            for n, text in logs.items()}
    assert sorted(took.values()) == [["a"], ["b"]], took

    gated = [(p, s, e) for p, s, e in site.log if p.endswith((".html", ".xml"))]
    articles = [x for x in gated if x[0].endswith(".html")]
    assert len(articles) == 2 * PER_SOURCE, sorted(p for p, _, _ in gated)
    per_run = {f: [s for p, s, _ in articles if p.startswith(f"/{f}/")] for f in ("a", "b")}
    # (kept for diagnosis: every gated request with its start and end, time.monotonic())
    (tmp / "site-log.txt").write_text("\n".join(f"{p} {s:.3f} {e:.3f}" for p, s, e in site.log))
    # the two runs were ready to fetch at the same moment (their interleaving is up to the server's slot lottery)
    assert site.lined_up, "the second run never asked for robots.txt while the first waited"
    starts = sorted(s for _, s, _ in gated)
    span = starts[-1] - starts[0]
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    overlap = max_overlap([(s, e) for _, s, e in gated])
    in_1s, in_2s = max_in_window(starts, 1.0), max_in_window(starts, 2.0)
    overlap_window = (max(min(v) for v in per_run.values()), min(max(v) for v in per_run.values()))
    print(f"\n[shared politeness, host {host}, limits {RATE:g} req/s and {CONCURRENCY} open: {len(gated)} gated requests "
          f"({len(articles)} articles, runs a/b on two workers) in {span:.2f}s = {(len(gated) - 1) / span:.2f} req/s; "
          f"most in any 1 s window {in_1s}, in any 2 s window {in_2s}; smallest gap between starts {min(gaps):.3f}s; "
          f"most open at once {overlap}; both runs fetching together for "
          f"{max(0.0, overlap_window[1] - overlap_window[0]):.1f}s]")
    assert overlap <= CONCURRENCY
    assert in_1s <= RATE * 1 + 1 and in_2s <= RATE * 2 + 1
    assert (len(gated) - 1) / span <= RATE * 1.05

    # both runs wrote their articles and runs into the one lake, at the same time
    from warehouse.connection import connect

    con = connect(lake, read_only=True)
    try:
        stored = con.execute("SELECT sum(stored) FROM runs").fetchone()[0]
        assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == stored > 0
        assert sorted(r for (r,) in con.execute("SELECT run_id FROM runs WHERE status = 'completed'").fetchall()) == \
            sorted(runs.values())
    finally:
        con.close()
