"""Crawl and storage edge cases (issue 21): one bad byte in a UTF-8 page, a source whose robots.txt is refused,
two runs at once on one machine, damaged database files, a full disk and what a served run may ask for.
Real HTTP on 127.0.0.1, real DuckDB files, real Prefect runs and real processes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import duckdb
import pytest
from conftest import REPO, copy_database
from localsite import html
from prefect.exceptions import FailedRun

from extractors.extract.charset import decode_html_counted

AKHBAR = str(Path(sys.executable).parent / "akhbar")
ARTICLE = ("<html><head><meta charset='utf-8'><title>خبر عاجل</title></head><body><article><h1>خبر عاجل</h1>"
           + "<p>قال وزير الخارجية المصري في القاهرة اليوم إن المحادثات مع الجانب السوداني ستستمر الأسبوع المقبل "
             "في الخرطوم، وأضاف أن الوفدين اتفقا على جدول أعمال واضح يشمل المياه والحدود والتجارة.</p>" * 4
           + "</article></body></html>")


def one_bad_byte(text: str) -> bytes:
    data = text.encode("utf-8")
    at = data.index("المحادثات".encode())
    return data[:at] + b"\xff" + data[at:]


# -- one invalid byte in a UTF-8 page --------------------------------------------------------------------------


@pytest.mark.parametrize("declared", [None, "utf-8", "windows-1256", "iso-8859-1"])
def test_one_bad_byte_keeps_a_utf8_page_utf8(declared):
    decoded = decode_html_counted(one_bad_byte(ARTICLE), declared)
    assert "وزير الخارجية المصري" in decoded.text and "ط®ط¨ط±" not in decoded.text
    assert decoded.replaced_bytes == 1 and decoded.text.count("\ufffd") == 1


def test_real_windows_1256_pages_still_decode_as_windows_1256():
    decoded = decode_html_counted(ARTICLE.replace("utf-8", "windows-1256").encode("cp1256"), None)
    assert "وزير الخارجية المصري" in decoded.text and decoded.replaced_bytes == 0


def test_replaced_bytes_are_counted_in_the_fetch_log(site, tmp_path, prefect_harness):
    from flows.ingest import ingest_urls

    site.routes["/bad.html"] = (200, {"Content-Type": "text/html; charset=utf-8"}, one_bad_byte(ARTICLE))
    site.routes["/good.html"] = html(ARTICLE)
    db = tmp_path / "c.duckdb"
    summary = ingest_urls(urls=[site.url("/bad.html"), site.url("/good.html")], db_path=str(db),
                          allow_private_addresses=True)
    assert summary.stored == 2
    con = duckdb.connect(str(db), read_only=True)
    texts = dict(con.execute("SELECT url, text FROM articles").fetchall())
    logged = dict(con.execute("SELECT url, replaced_bytes FROM fetches WHERE kind = 'article'").fetchall())
    con.close()
    assert "وزير الخارجية المصري" in texts[site.url("/bad.html")]
    assert logged == {site.url("/bad.html"): 1, site.url("/good.html"): 0}


# -- a source with only a homepage whose robots.txt is refused -------------------------------------------------


def test_homepage_only_source_with_refused_robots_txt_records_why(site, tmp_path, prefect_harness):
    from flows.ingest import ingest

    site.routes["/robots.txt"] = html("down", status=500)
    sources = tmp_path / "s.toml"
    sources.write_text(f'[[sources]]\nname = "home"\nhomepage = "{site.base}/"\nrequests_per_second = 0\n',
                       encoding="utf-8")
    db = tmp_path / "h.duckdb"
    reason = "robots.txt unreachable (HTTP 500): the host is not crawled this run"
    with pytest.raises(FailedRun, match=re.escape(f"home: nothing discovered: {site.base}/: {reason}")):
        ingest(sources_file=str(sources), db_path=str(db), allow_private_addresses=True, write_report=False)
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT source, status, error FROM fetches WHERE kind = 'robots'").fetchall()
    con.close()
    assert rows == [("home", 500, reason)]


# -- two runs at once on one machine ---------------------------------------------------------------------------

FETCH_RUN = textwrap.dedent("""
    import asyncio, json, sys
    from extractors.config import CrawlSettings
    from extractors.fetch.claims import UrlClaims
    from extractors.fetch.fetcher import Fetcher
    from extractors.fetch.host_locks import LocalHostGate
    from extractors.records import DiscoveredURL

    locks, claims, urls = sys.argv[1], sys.argv[2], sys.argv[3:]

    async def main():
        async with Fetcher(CrawlSettings(timeout_seconds=20), allow_private_addresses=True,
                           host_gate=LocalHostGate(locks), url_claims=UrlClaims(claims)) as f:
            f.set_host_limits(urls[0], 20.0, 1)
            pages = await f.fetch_many([DiscoveredURL(url=u, source="t") for u in urls])
        print(json.dumps([[p.url, p.error] for p in pages]))

    asyncio.run(main())
""")


def test_two_runs_at_once_share_the_hosts_limits_and_never_fetch_a_url_twice(site, tmp_path):
    in_flight, most = [0], [0]
    lock = threading.Lock()

    def slow(req):
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.05)
        with lock:
            in_flight[0] -= 1
        return html(ARTICLE)

    urls = [site.url(f"/a/{i}.html") for i in range(24)]
    for i in range(24):
        site.routes[f"/a/{i}.html"] = slow
    args = [sys.executable, "-c", FETCH_RUN, str(tmp_path / "hosts"), str(tmp_path / "db.claims"), *urls]
    runs = [subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [r.communicate(timeout=120) for r in runs]
    assert all(r.returncode == 0 for r in runs), [err[-2000:] for _, err in outputs]
    results = [dict(json.loads(out)) for out, _ in outputs]
    fetched = [p for p in site.paths() if p.startswith("/a/")]
    assert sorted(fetched) == sorted(f"/a/{i}.html" for i in range(24))  # each URL once, by one run or the other
    for url in urls:
        errors = sorted([results[0][url] or "", results[1][url] or ""])
        assert errors[0] == "" and errors[1].startswith("skipped: being fetched by another run")
    assert most[0] == 1  # max_concurrency = 1 held across both processes
    assert not list((tmp_path / "db.claims").glob("*.claim"))  # each run gave its claims back


def test_a_claim_of_a_dead_run_expires(tmp_path):
    from extractors.fetch.claims import UrlClaims

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    claims = UrlClaims(tmp_path)
    path = claims._path("https://e.com/a")  # the claim file another run would have left behind
    path.write_text(f"someone {int(dead.stdout)} {time.time():.3f}", encoding="ascii")
    assert claims.claim("https://e.com/a") is None
    other = UrlClaims(tmp_path)
    assert other.claim("https://e.com/a").startswith("skipped: being fetched by another run")


# -- damaged database files ------------------------------------------------------------------------------------

BLOCK, HEADERS = 262144, 3 * 4096


def akhbar(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([AKHBAR, *args], capture_output=True, text=True, timeout=300, cwd=cwd,
                          env=env or {**os.environ, "PREFECT_LOGGING_LEVEL": "CRITICAL"})


def damage(src: Path, dst: Path, how: str) -> Path:
    copy_database(src, dst)
    con = duckdb.connect(str(dst))
    con.execute("CHECKPOINT")  # everything in the main file, none in a WAL
    con.close()
    size = dst.stat().st_size
    with open(dst, "r+b") as f:
        if how == "truncated":
            f.truncate(size // 2)
        else:  # corrupted blocks: garbage written inside every data block after the first
            for block in range(1, (size - HEADERS) // BLOCK):
                f.seek(HEADERS + block * BLOCK + 1000)
                f.write(os.urandom(64))
    return dst


@pytest.mark.parametrize("how", ["truncated", "corrupted"])
def test_a_damaged_database_stops_every_command_with_one_line(sample_ingest, tmp_path, how):
    db = damage(sample_ingest.db, tmp_path / f"{how}.duckdb", how)
    size_before = db.stat().st_size
    for args in (["search", "مصر"], ["report", "--out", str(tmp_path / "r.html")],
                 ["ingest-urls", f"{sample_ingest.base_url}/x.html", "--allow-private-addresses"]):
        r = akhbar(*args, "--db", str(db))
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 1, (args, r.stderr[-2000:])
        assert "Traceback" not in r.stderr and len(lines) == 1, (args, r.stderr[-2000:])
        assert lines[0].startswith(f"akhbar: error: {db} is damaged (") and "akhbar export" in lines[0]
    # a query that reads only intact blocks may still answer (readers save what is readable); one that
    # reaches a damaged block stops with the same one line
    r = akhbar("query", "SELECT count(*), sum(length(text)) FROM articles", "--db", str(db))
    assert "Traceback" not in r.stderr
    if r.returncode:
        assert r.returncode == 1 and r.stderr.startswith(f"akhbar: error: {db} is damaged (")
    assert db.stat().st_size == size_before  # nothing was written into it


def test_a_corrupted_data_block_stops_the_run_before_it_writes(sample_ingest, tmp_path, prefect_harness):
    """Only reading every block finds this one: the run's start verifies the whole file."""
    from flows.ingest import ingest_urls
    from warehouse.connection import WarehouseDamaged

    db = copy_database(sample_ingest.db, tmp_path / "one-block.duckdb")
    con = duckdb.connect(str(db))
    con.execute("CHECKPOINT")
    first_block_of_text = con.execute(
        "SELECT block_id FROM pragma_storage_info('articles') WHERE column_name = 'text' AND block_id >= 0 "
        "ORDER BY block_id LIMIT 1").fetchone()[0]
    con.close()
    with open(db, "r+b") as f:
        f.seek(HEADERS + first_block_of_text * BLOCK + 1000)
        f.write(os.urandom(64))
    with pytest.raises(WarehouseDamaged, match="Corrupt database file"):
        ingest_urls(urls=[f"{sample_ingest.base_url}/x.html"], db_path=str(db), allow_private_addresses=True)


# -- a full disk -------------------------------------------------------------------------------------------------


@pytest.fixture
def small_filesystem(tmp_path):
    """A 3 MB tmpfs mounted for the test (needs root), or skip."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small tmpfs")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_disk_is_one_line_exit_1_and_nothing_half_written(sample_ingest, small_filesystem, tmp_path):
    db = small_filesystem / "full.duckdb"
    r = akhbar("ingest", "--sources", str(sample_ingest.sources), "--db", str(db), "--allow-private-addresses",
               cwd=tmp_path)
    last = r.stderr.strip().splitlines()[-1]
    assert r.returncode == 1, r.stderr[-3000:]
    assert last.startswith(f"akhbar: error: no space left to write {db} ("), r.stderr[-3000:]
    assert "Traceback" not in r.stdout
    # what is in the file is whole: it opens, and every stored article has its mentions and its fetch row
    shutil.copy(db, tmp_path / "copy.duckdb")
    wal = Path(f"{db}.wal")
    if wal.exists():
        shutil.copy(wal, tmp_path / "copy.duckdb.wal")
    con = duckdb.connect(str(tmp_path / "copy.duckdb"))
    orphans = con.execute("SELECT count(*) FROM mentions WHERE article_id NOT IN "
                          "(SELECT article_id FROM articles)").fetchone()[0]
    unlogged = con.execute("SELECT count(*) FROM articles WHERE url NOT IN (SELECT url FROM fetches)").fetchone()[0]
    con.close()
    assert orphans == 0 and unlogged == 0


# -- what a served run may ask for -------------------------------------------------------------------------------


def test_serve_refuses_to_listen_beyond_loopback_without_auth(tmp_path):
    env = {k: v for k, v in os.environ.items() if "AUTH_STRING" not in k}
    r = akhbar("serve", "--host", "0.0.0.0", "--port", "1", cwd=tmp_path, env=env)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "akhbar: error: --host 0.0.0.0 would let anyone who can reach the port start runs; set "
        "PREFECT_SERVER_API_AUTH_STRING=user:password (Prefect's basic auth) or pass --insecure"]


def test_served_runs_refuse_private_addresses_and_paths_outside_the_project(tmp_path, monkeypatch, prefect_harness):
    from flows.ingest import ingest_urls
    from flows.served_policy import ServedRunRefused

    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    monkeypatch.setenv("AKHBAR_SERVE_PROJECT_DIR", str(project))
    with pytest.raises(ServedRunRefused, match="allow_private_addresses is refused"):
        ingest_urls(urls=["http://127.0.0.1:9/x.html"], db_path="data/a.duckdb", allow_private_addresses=True)
    outside = tmp_path / "elsewhere.duckdb"
    (project / "link").symlink_to(tmp_path)
    for db_path in (str(outside), "../elsewhere.duckdb", "link/elsewhere.duckdb"):
        with pytest.raises(ServedRunRefused, match="outside the project directory"):
            ingest_urls(urls=["https://example.com/x.html"], db_path=db_path)
    assert not outside.exists() and not (project / "data").exists()
    monkeypatch.setenv("AKHBAR_SERVE_ALLOW_PRIVATE_ADDRESSES", "1")
    monkeypatch.setenv("AKHBAR_SERVE_ALLOW_ANY_PATH", "1")
    with pytest.raises(FailedRun, match="nothing was fetched"):  # allowed now: the run happens (and fails)
        ingest_urls(urls=["http://127.0.0.1:9/x.html"], db_path=str(outside), allow_private_addresses=True)
    assert outside.exists()
