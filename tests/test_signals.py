"""Stopping a run the way people do: Ctrl-C in a terminal (SIGINT to the process group) and SIGTERM (a service
manager), on real `akhbar` processes with a slow local site, a real DuckDB file and Prefect's real temporary
server."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest
from conftest import REPO
from localsite import LocalSite, html, xml

AKHBAR = str(Path(sys.executable).parent / "akhbar")
ARTICLE = (REPO / "samples" / "site" / "world" / "solana-annan-lebanon.html").read_text(encoding="utf-8")
PAGES = 40


@pytest.fixture
def slow_site():
    """A feed of PAGES articles, each answered after 0.3 s, so a run is still fetching when it is stopped."""
    site = LocalSite()
    items = "".join(f"<item><link>{site.url(f'/a{i}.html')}</link><title>{i}</title></item>" for i in range(PAGES))
    site.routes["/rss.xml"] = xml(f"<rss><channel><title>t</title>{items}</channel></rss>")

    def slow_article(req):
        time.sleep(0.3)
        own_url = site.url(req.path)  # every page its own canonical URL: 40 articles, not 40 copies of one
        return html(ARTICLE.replace("{{BASE}}/world/solana-annan-lebanon.html", own_url).replace("{{BASE}}", site.base))

    for i in range(PAGES):
        site.routes[f"/a{i}.html"] = slow_article
    yield site
    site.close()


def sources_for(site: LocalSite, path: Path) -> Path:
    path.write_text(f'[[sources]]\nname = "slow"\nfeeds = ["{site.url("/rss.xml")}"]\nrequests_per_second = 0\n'
                    f"max_concurrency = 1\nmax_articles = {PAGES}\n", encoding="utf-8")
    return path


class Run:
    """An `akhbar` command in its own session, as a terminal runs it in its own process group."""

    def __init__(self, *args: str, home: Path) -> None:
        self.home = home
        env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_LOGGING_LEVEL": "WARNING",
               "AKHBAR_TASK_RUNNER": "process:2"}
        self.proc = subprocess.Popen([AKHBAR, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env, start_new_session=True)
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=lambda s=stream, k=sink: k.extend(s), daemon=True).start()

    def stop(self, sig: int, *, group: bool) -> tuple[int, float]:
        sent = time.monotonic()
        if group:
            os.killpg(self.proc.pid, sig)  # what a terminal's Ctrl-C does
        else:
            self.proc.send_signal(sig)  # what `kill` or a service manager does
        return self.proc.wait(timeout=60), time.monotonic() - sent


def wait_until(predicate, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def servers_of(home: Path) -> list[int]:
    """Pids of live Prefect API servers started with this PREFECT_HOME."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if b"uvicorn" in (proc / "cmdline").read_bytes() and str(home).encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except (OSError, ValueError):
            continue
    return found


def flow_run_states(home: Path) -> list[str]:
    con = sqlite3.connect(home / "prefect.db")
    try:
        return [s for (s,) in con.execute("SELECT state_type FROM flow_run")]
    finally:
        con.close()


def rows(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize(("sig", "group", "code", "said"), [
    (signal.SIGINT, True, 130, "interrupted"),
    (signal.SIGTERM, False, 143, "stopped (SIGTERM)"),
])
def test_a_stopped_ingest_ends_cleanly_and_a_rerun_completes_it(slow_site, tmp_path, sig, group, code, said):
    sources, db, home = sources_for(slow_site, tmp_path / "s.toml"), tmp_path / "d.duckdb", tmp_path / "home"
    run = Run("ingest", "--sources", str(sources), "--db", str(db), "--allow-private-addresses", home=home)
    wait_until(lambda: sum(p.startswith("/a") for p in slow_site.paths()) >= 3)
    returncode, _ = run.stop(sig, group=group)
    stderr = "".join(run.err)
    assert returncode == code, stderr[-3000:]
    assert stderr.strip().splitlines()[-1] == (f"akhbar: error: {said}; what was loaded is kept, run the same "
                                               "command again to continue")
    assert "Traceback" not in stderr + "".join(run.out)
    wait_until(lambda: not servers_of(home), timeout=10)  # the temporary Prefect server was stopped too
    assert rows(db, "SELECT status FROM runs") == [("interrupted",)]
    assert flow_run_states(home) == ["CRASHED"]  # Prefect shows it stopped, not "Running" forever

    rerun = subprocess.run([AKHBAR, "ingest", "--sources", str(sources), "--db", str(db), "--allow-private-addresses"],
                           capture_output=True, text=True, timeout=300,
                           env={**os.environ, "PREFECT_HOME": str(home), "PREFECT_LOGGING_LEVEL": "WARNING"})
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert rows(db, "SELECT count(*), count(DISTINCT url) FROM articles") == [(PAGES, PAGES)]
    assert rows(db, "SELECT status FROM runs ORDER BY started_at") == [("interrupted",), ("completed",)]


def test_an_interrupted_demo_keeps_the_previous_demo_database(tmp_path):
    db, home = tmp_path / "demo.duckdb", tmp_path / "home"
    first = subprocess.run([AKHBAR, "demo", "--db", str(db)], capture_output=True, text=True, timeout=300,
                           env={**os.environ, "PREFECT_HOME": str(home)})
    assert first.returncode == 0, first.stderr[-3000:]
    before = rows(db, "SELECT count(*) FROM articles")
    run = Run("demo", "--db", str(db), home=home)
    wait_until(lambda: len(flow_run_states(home)) == 2 if (home / "prefect.db").exists() else False)
    returncode, _ = run.stop(signal.SIGINT, group=True)
    assert returncode == 130, "".join(run.err)[-3000:]
    assert rows(db, "SELECT count(*) FROM articles") == before == [(16,)]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".demo-")] == []
