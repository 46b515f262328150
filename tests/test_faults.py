"""Faults: an ingest killed in the middle and run again stores every article exactly once and loses none."""

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import duckdb
from conftest import REPO
from localsite import html, xml

PAGES = sorted((REPO / "samples" / "site").glob("[new]*/*.html"))


N_PAGES = 60


def build_site(site, n=N_PAGES, delay=0.03):
    # each copy is its own article: drop the pages' own canonical links and URLs
    bodies = [re.sub(r'<link rel="canonical"[^>]*>|<meta property="og:url"[^>]*>', "", p.read_text(encoding="utf-8"))
              for p in PAGES if "private" not in p.parts]
    items = []
    for i in range(n):
        path = f"/a/{i}.html"
        body = bodies[i % len(bodies)]

        def handler(req, body=body):
            time.sleep(delay)
            return html(body)

        site.routes[path] = handler
        items.append(f"<url><loc>{site.base}{path}</loc><lastmod>2024-03-{1 + i % 28:02d}</lastmod></url>")
    site.routes["/sitemap.xml"] = xml('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                                      + "".join(items) + "</urlset>")
    site.routes["/robots.txt"] = (200, {"Content-Type": "text/plain"}, b"User-agent: *\n")


RUN = textwrap.dedent("""
    import sys
    from flows.ingest import ingest
    # load every 2 batches, so the kill lands between loads
    ingest(sources_file=sys.argv[1], db_path=sys.argv[2], allow_private_addresses=True, batch_size=6,
           load_every_pages=12)
""")


def start_ingest(sources, db, env):
    return subprocess.Popen([sys.executable, "-c", RUN, str(sources), str(db)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)


def test_killed_ingest_resumes_without_duplicates_or_losses(site, tmp_path):
    build_site(site)
    sources = tmp_path / "s.toml"
    sources.write_text(f'[[sources]]\nname = "slow"\nsitemaps = ["{site.base}/sitemap.xml"]\n'
                       f'requests_per_second = 0\nmax_concurrency = 2\n', encoding="utf-8")
    db = tmp_path / "k.duckdb"
    env = {**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING", "AKHBAR_TASK_RUNNER": "thread"}
    proc = start_ingest(sources, db, env)
    try:
        deadline = time.monotonic() + 120
        while len([r for r in site.requests if r.path.startswith("/a/")]) < 42:
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            assert time.monotonic() < deadline, "ingest did not get going"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # no cleanup, no finally blocks
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    con = duckdb.connect(str(db), read_only=True)
    partial = con.execute("SELECT count(*) FROM articles").fetchone()[0]
    con.close()
    assert 0 < partial < N_PAGES, "the kill should land mid-run"
    n_before = len(site.requests)

    rerun = start_ingest(sources, db, env)
    assert rerun.wait(timeout=180) == 0, rerun.stderr.read()[-3000:]
    con = duckdb.connect(str(db), read_only=True)
    n, distinct = con.execute("SELECT count(*), count(DISTINCT url) FROM articles").fetchone()
    assert n == distinct == N_PAGES
    stored_urls = {u for (u,) in con.execute("SELECT url FROM articles").fetchall()}
    assert stored_urls == {f"{site.base}/a/{i}.html" for i in range(N_PAGES)}
    # mentions belong to stored articles only and each article was tagged once
    orphans = con.execute("SELECT count(*) FROM mentions WHERE article_id NOT IN (SELECT article_id FROM articles)").fetchone()[0]
    dup_mentions = con.execute('SELECT count(*) FROM (SELECT article_id, start, "end", count(*) c FROM mentions GROUP BY ALL HAVING c > 1)').fetchone()[0]
    runs = con.execute("SELECT status FROM runs ORDER BY started_at").fetchall()
    con.close()
    assert orphans == 0 and dup_mentions == 0
    assert runs[-1] == ("completed",)
    # pages stored before the kill were not fetched again
    refetched = [r.path for r in site.requests[n_before:] if r.path.startswith("/a/")]
    assert len(refetched) <= N_PAGES - partial
