"""What a user types reaches nothing it should not: URLs with credentials, unusable URLs (real CLI processes,
a real test site on 127.0.0.1, the real Prefect home the CLI writes to)."""

import os
import subprocess
import sys
from pathlib import Path

import duckdb
from conftest import REPO
from localsite import html

AKHBAR = str(Path(sys.executable).parent / "akhbar")
ARTICLE = (REPO / "samples" / "site" / "world" / "solana-annan-lebanon.html").read_text(encoding="utf-8")


def akhbar(*args, env=None, timeout=300):
    return subprocess.run([AKHBAR, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING", **(env or {})})


def test_credentials_in_a_url_are_stored_nowhere(site, tmp_path):
    site.routes["/a.html"] = html(ARTICLE)
    home = tmp_path / "prefect-home"
    db = tmp_path / "c.duckdb"
    with_secret = site.url("/a.html").replace("http://", "http://reader:s3cr3t-PW@")
    r = akhbar("ingest-urls", with_secret, "--db", str(db), "--allow-private-addresses",
               env={"PREFECT_HOME": str(home)})
    assert r.returncode == 0, r.stderr[-2000:]
    assert "credentials" in r.stderr and "s3cr3t" not in r.stdout + r.stderr
    assert not any("authorization" in req.headers for req in site.requests)  # never sent either
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == 1
        dump = con.execute("SELECT CAST(parameters AS VARCHAR) FROM runs").fetchall()
        dump += con.execute("SELECT url FROM fetches UNION ALL SELECT url FROM articles").fetchall()
    finally:
        con.close()
    assert "s3cr3t" not in repr(dump)
    leaked = [p for p in home.rglob("*") if p.is_file() and b"s3cr3t-PW" in p.read_bytes()]
    assert leaked == []


def test_unusable_urls_are_refused_before_anything_starts(tmp_path):
    db = tmp_path / "never.duckdb"
    r = akhbar("ingest-urls", "https://example.com/ok", "not a url", "ftp://x.org/a", "--db", str(db))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [r.stderr.strip()]  # one line
    assert "'not a url'" in r.stderr and "Traceback" not in r.stderr
    assert not db.exists()
