"""Many writers on one DuckLake warehouse (`--db ducklake:...`): processes that load the same articles at once
store each exactly once, readers see whole commits only, and concurrent `akhbar ingest` runs over sources that
share articles end with every article once and every mention pointing at its text. Real processes, a real
SQLite catalog, and the real PostgreSQL server of tests/engines.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO
from localsite import LocalSite, html, xml

from warehouse.connection import connect
from warehouse.store import Warehouse

RACE = str(REPO / "tests" / "lake_race.py")
AKHBAR = str(Path(sys.executable).parent / "akhbar")
WRITERS = 4


def race(db: str, tmp_path: Path) -> tuple[list[subprocess.CompletedProcess[str]], dict]:
    """WRITERS processes loading overlapping batches at once, and one reader reading throughout."""
    go, stop = tmp_path / "go", tmp_path / "stop"
    writers = [subprocess.Popen([sys.executable, RACE, db, "write", str(n), str(go)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for n in range(WRITERS)]
    reader = subprocess.Popen([sys.executable, RACE, db, "read", str(stop)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    time.sleep(3)  # every writer has imported and opened the lake, so their loads overlap
    go.touch()
    done = []
    for proc in writers:
        out, err = proc.communicate(timeout=600)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    stop.touch()
    out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err[-2000:]
    return done, json.loads(out)


def rows(db: str, sql: str) -> list[tuple]:
    con = connect(db, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def check_race(db: str, tmp_path: Path) -> None:
    Warehouse(db, data_path=str(tmp_path / "data")).migrate()
    writers, seen = race(db, tmp_path)
    for w in writers:
        assert w.returncode == 0, w.stderr[-3000:]
    loaded = {(n * 7 + b * 5 + k) % 24 for n in range(WRITERS) for b in range(6) for k in range(5)}
    assert rows(db, "SELECT count(*), count(DISTINCT article_id) FROM articles") == [(len(loaded), len(loaded))]
    # each article's mentions are those of the version stored, once each, at offsets into its text
    assert rows(db, "SELECT count(*) FROM mentions") == [(2 * len(loaded),)]
    assert rows(db, """SELECT count(*) FROM mentions m JOIN articles a USING (article_id)
                       WHERE substr(a.text, m.start + 1, m."end" - m.start) <> m.text""") == [(0,)]
    assert rows(db, "SELECT canonical, mention_count, article_count FROM entities ORDER BY canonical") == [
        ("أحمد", len(loaded), len(loaded)), ("بغداد", len(loaded), len(loaded))]
    assert seen["reads"] > 0 and seen["torn"] == []  # no reader saw a batch half stored


def test_racing_writers_on_a_sqlite_catalog_store_each_article_once(tmp_path):
    check_race(f"ducklake:sqlite:{tmp_path / 'lake.sqlite'}", tmp_path)


def test_racing_writers_on_a_postgres_catalog_store_each_article_once(tmp_path, fresh_postgres_dsn):
    check_race(f"ducklake:postgres:{fresh_postgres_dsn}", tmp_path)


ARTICLE = (REPO / "samples" / "site" / "world" / "solana-annan-lebanon.html").read_text(encoding="utf-8")
PAGES = 12


@pytest.fixture
def shared_site():
    """PAGES article pages; feed k lists pages k..k+7 (mod PAGES), so every page is in several feeds."""
    site = LocalSite()

    def page(req):
        own_url = site.url(req.path)
        return html(ARTICLE.replace("{{BASE}}/world/solana-annan-lebanon.html", own_url).replace("{{BASE}}", site.base))

    for i in range(PAGES):
        site.routes[f"/a{i}.html"] = page
    for k in range(4):
        items = "".join(f"<item><link>{site.url(f'/a{(k * 3 + j) % PAGES}.html')}</link><title>{j}</title></item>"
                        for j in range(8))
        site.routes[f"/feed{k}.xml"] = xml(f"<rss><channel><title>t</title>{items}</channel></rss>")
    yield site
    site.close()


@pytest.mark.parametrize("runs", [2, 4])
def test_concurrent_ingest_runs_into_one_lake_store_each_article_once(shared_site, tmp_path, runs):
    db = f"ducklake:sqlite:{tmp_path / 'lake.sqlite'}"
    procs = []
    for k in range(runs):
        sources = tmp_path / f"s{k}.toml"
        sources.write_text(f'[[sources]]\nname = "feed{k}"\nfeeds = ["{shared_site.url(f"/feed{k}.xml")}"]\n'
                           "requests_per_second = 0\n", encoding="utf-8")
        procs.append(subprocess.Popen(
            [AKHBAR, "ingest", "--sources", str(sources), "--db", db, "--allow-private-addresses"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PREFECT_HOME": str(tmp_path / f"home{k}"), "PREFECT_LOGGING_LEVEL": "WARNING"}))
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
    listed = {(k * 3 + j) % PAGES for k in range(runs) for j in range(8)}
    assert rows(db, "SELECT count(*), count(DISTINCT article_id) FROM articles") == [(len(listed), len(listed))]
    assert rows(db, "SELECT count(*) FROM runs WHERE status = 'completed'") == [(runs,)]
    assert rows(db, """SELECT count(*) FROM mentions m JOIN articles a USING (article_id)
                       WHERE substr(a.text, m.start + 1, m."end" - m.start) <> m.text""") == [(0,)]
    assert rows(db, """SELECT count(*) FROM (SELECT article_id, start, "end", entity_type FROM mentions
                       GROUP BY ALL HAVING count(*) > 1)""") == [(0,)]
    assert rows(db, "SELECT count(*) FROM articles WHERE article_id NOT IN (SELECT article_id FROM mentions)") == [(0,)]


def test_an_ingest_into_a_postgres_catalog_with_its_files_on_s3(shared_site, tmp_path, fresh_postgres_dsn,
                                                                  s3_endpoint):
    """The many-machines form: the catalog on PostgreSQL, the Parquet files on S3 (credentials as a user sets
    them in the environment); a second run and a reader on the same lake."""
    db, data = f"ducklake:postgres:{fresh_postgres_dsn}", f"s3://{s3_endpoint.bucket}/news"
    env = {**s3_endpoint.environment(), "PREFECT_HOME": str(tmp_path / "home"), "PREFECT_LOGGING_LEVEL": "WARNING"}
    sources = tmp_path / "s.toml"
    sources.write_text(f'[[sources]]\nname = "feed0"\nfeeds = ["{shared_site.url("/feed0.xml")}"]\n'
                       "requests_per_second = 0\n", encoding="utf-8")
    ingest = [AKHBAR, "ingest", "--sources", str(sources), "--db", db, "--data-path", data,
              "--allow-private-addresses"]
    for _ in range(2):  # the second run finds every article stored
        run = subprocess.run(ingest, capture_output=True, text=True, env=env, timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
    query = subprocess.run([AKHBAR, "query", "SELECT count(*) AS n, count(DISTINCT article_id) AS d FROM articles",
                            "--db", db, "--format", "csv"], capture_output=True, text=True, env=env, timeout=300)
    assert query.returncode == 0, query.stderr[-3000:]
    assert query.stdout.split() == ["n,d", "8,8"]
    keys = s3_endpoint.keys("news/")
    assert keys and all(k.endswith(".parquet") for k in keys)
    assert any("articles" in k for k in keys)  # the articles' rows are in the bucket, not in PostgreSQL


def test_alias_commands_at_once_on_a_lake_record_the_alias_once(tmp_path):
    db = f"ducklake:sqlite:{tmp_path / 'lake.sqlite'}"
    Warehouse(db).migrate()
    procs = [subprocess.Popen([AKHBAR, "entities", "alias", "بايدن", "جو بايدن", "--db", db], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and "Traceback" not in err, err[-2000:]
    assert rows(db, "SELECT count(*) FROM entity_aliases WHERE variant = 'بايدن'") == [(1,)]
