"""Progress of long runs: the Prefect logs and progress artifact move while a run fetches, and the command line
shows a bar on a terminal and plain lines otherwise (real CLI processes, a slow local site on 127.0.0.1, a
pseudo-terminal, a real Prefect server)."""

import os
import pty
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO, copy_database
from localsite import html

AKHBAR = str(Path(sys.executable).parent / "akhbar")
PAGE = (REPO / "samples" / "site" / "world" / "nepal-fuel-shortage.html").read_text(encoding="utf-8")
ARTICLES = 6
SLOW_SECONDS = 1.5  # each article answer: a crawl of 6 articles one at a time takes some 9 s


def akhbar(*args, env=None, stderr=subprocess.PIPE, timeout=300):
    return subprocess.run([AKHBAR, *args], stdout=subprocess.PIPE, stderr=stderr, text=True, timeout=timeout,
                          env={**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING",
                               "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120", **(env or {})})


def slow_site(site, tmp_path):
    """A feed of ARTICLES pages that each take SLOW_SECONDS to answer, fetched one at a time."""
    def slow(req):
        time.sleep(SLOW_SECONDS)
        path = req.path
        return html(PAGE.replace("{{BASE}}/world/nepal-fuel-shortage.html", site.base + path)
                    .replace("{{BASE}}", site.base))

    items = ""
    for i in range(ARTICLES):
        site.routes[f"/a{i}.html"] = slow
        items += f"<item><title>{i}</title><link>{site.base}/a{i}.html</link></item>"
    site.routes["/rss.xml"] = (200, {"Content-Type": "application/rss+xml"},
                               f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>'.encode())
    sources = tmp_path / "slow.toml"
    sources.write_text(f'[[sources]]\nname = "slow"\nfeeds = ["{site.base}/rss.xml"]\nrequests_per_second = 0\n'
                       'max_concurrency = 1\n', encoding="utf-8")
    return sources


def test_a_long_fetch_moves_the_logs_and_the_plain_progress_lines(site, tmp_path):
    sources = slow_site(site, tmp_path)
    r = akhbar("ingest", "--sources", str(sources), "--db", str(tmp_path / "p.duckdb"), "--allow-private-addresses",
               env={"PREFECT_LOGGING_LEVEL": "INFO"})
    assert r.returncode == 0, r.stderr[-3000:]
    # the command line's own lines (stderr is a pipe here: no bar, one plain line per report)
    plain = [int(n) for n in re.findall(rf"akhbar: ingest: (\d+)/{ARTICLES} URLs, \d+ stored, \d+ failed \(fetching\)",
                                        r.stderr)]
    assert [n for n in plain if 0 < n < ARTICLES], r.stderr[-3000:]  # it moved while the articles came in
    assert plain == sorted(plain)
    assert f"akhbar: ingest: {ARTICLES}/{ARTICLES} URLs, {ARTICLES} stored, 0 failed (loaded)" in r.stderr
    # the run's own log (Prefect) says the same while fetching, not only after the load
    logged = [int(n) for n in re.findall(rf"progress: (\d+)/{ARTICLES} URLs fetched, 0 loaded", r.stderr + r.stdout)]
    assert [n for n in logged if 0 < n < ARTICLES], (r.stdout + r.stderr)[-3000:]
    assert "\x1b[" not in r.stderr.replace("\x1b[0m", "") or "━" not in r.stderr  # no bar drawn into a pipe
    assert f"stored {ARTICLES}" in r.stdout


def test_the_progress_artifact_moves_while_fetching(site, tmp_path, prefect_harness):
    """The UI's progress bar: read from the Prefect API while the run fetches."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterType

    from flows.ingest import ingest

    sources = slow_site(site, tmp_path)
    client = get_client(sync_client=True)
    seen: list[float] = []
    done = threading.Event()
    started = time.time()

    def watch():
        while not done.is_set():
            for artifact in client.read_artifacts(artifact_filter=ArtifactFilter(
                    type=ArtifactFilterType(any_=["progress"]))):
                if artifact.created and artifact.created.timestamp() >= started - 1:
                    seen.append(float(artifact.data))
            time.sleep(0.5)

    watcher = threading.Thread(target=watch, daemon=True)
    with client:
        watcher.start()
        try:
            summary = ingest(sources_file=str(sources), db_path=str(tmp_path / "a.duckdb"),
                             allow_private_addresses=True)
        finally:
            done.set()
            watcher.join(10)
    assert summary.stored == ARTICLES
    moving = sorted({v for v in seen if 0 < v < 50})  # the first half of the bar is fetching
    assert len(moving) >= 2, seen


def test_export_shows_plain_lines_in_a_pipe_and_a_bar_on_a_terminal(sample_ingest, tmp_path):
    r = akhbar("export", "--format", "parquet", str(tmp_path / "out"), "--db", str(sample_ingest.db))
    assert r.returncode == 0, r.stderr
    lines = re.findall(r"akhbar: export: (\d+)/(\d+) tables, (\w+): (\d+) rows", r.stderr)
    assert lines and [int(d) for d, *_ in lines] == list(range(1, len(lines) + 1))
    assert {t for *_, t, _ in lines} >= {"articles", "mentions", "fetches"}
    # on a terminal: a bar, drawn with rich, and no plain lines
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen([AKHBAR, "export", "--format", "parquet", str(tmp_path / "out2"),
                                 "--db", str(sample_ingest.db)], stdout=subprocess.PIPE, stderr=follower,
                                env={**os.environ, "TERM": "xterm", "COLUMNS": "100"})
        os.close(follower)
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            drawn += chunk
        assert proc.wait(60) == 0
    finally:
        os.close(leader)
    screen = drawn.decode("utf-8", errors="replace")
    assert "export" in screen and "tables" in screen and "\x1b[" in screen
    assert "akhbar: export:" not in screen


@pytest.mark.usefixtures("prefect_harness")
def test_reprocess_reports_its_pages(sample_ingest, tmp_path):
    db = copy_database(sample_ingest.db, tmp_path / "r.duckdb")
    r = akhbar("reprocess", "--db", str(db), "--backend", "crf")
    assert r.returncode == 0, r.stderr[-3000:]
    counts = [int(n) for n in re.findall(r"akhbar: reprocess: (\d+)/\d+ pages, \d+ stored, \d+ failed \(loaded\)",
                                         r.stderr)]
    assert counts and counts[-1] == sample_ingest.summary.stored
