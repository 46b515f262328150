"""The readers on a DuckLake warehouse: full-text search (through its local cache), the HTML report and the
Parquet export give what they give on a DuckDB file holding the same rows.

The lake is made the way users make one: the shared sample ingest (a DuckDB file) copied with
`akhbar migrate-warehouse`'s code (warehouse/lake_copy.py) into a `ducklake:sqlite:` catalog; new rows go in
through `Warehouse.load`, the ingest flow's loader.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from conftest import copy_database
from test_search_export import add_article

AKHBAR = str(Path(sys.executable).parent / "akhbar")
QUERIES = ("العراق", "والعراق", "الحكومة", "مجلس الأمن", "الأمم المتحدة")


@dataclass(frozen=True)
class Twins:
    file: Path  # the sample ingest as a DuckDB file (its search index built)
    lake: str   # the same rows in a lake
    folder: Path


def make_lake(file: Path, folder: Path, name: str = "news") -> str:
    from warehouse.lake_copy import copy_warehouse

    lake = f"ducklake:sqlite:{folder / f'{name}.sqlite'}"
    copies = copy_warehouse(file, lake)
    assert copies and all(c.source_rows == c.target_rows for c in copies), copies
    return lake


@pytest.fixture(scope="module")
def twins(sample_ingest, tmp_path_factory) -> Twins:
    from warehouse.search import refresh_search_index

    folder = tmp_path_factory.mktemp("lake-readers")
    file = copy_database(sample_ingest.db, folder / "news.duckdb")
    messages: list[str] = []
    assert refresh_search_index(file, force=True, log=messages.append), messages
    return Twins(file=file, lake=make_lake(file, folder), folder=folder)


@pytest.fixture
def own_lake(sample_ingest, tmp_path) -> str:
    """A lake of the sample rows for a test that adds rows."""
    return make_lake(copy_database(sample_ingest.db, tmp_path / "src.duckdb"), tmp_path)


def akhbar(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([AKHBAR, *args], capture_output=True, text=True, timeout=300, cwd=cwd,
                          env={**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING"})


def hits_of(db: str | Path, text: str, **options) -> list[tuple]:
    from warehouse.search import search

    return [(h.title, h.url, h.source, h.published_at, h.score, h.snippet, h.article_id)
            for h in search(db, text, limit=50, **options)]


# --- search ------------------------------------------------------------------------------------------------

def test_search_on_a_lake_gives_what_the_file_gives(twins):
    from warehouse.search import search_cache_path, search_index_state

    assert search_index_state(twins.lake) == "missing"  # a new lake: no cache yet
    for text in QUERIES:
        on_file = hits_of(twins.file, text)
        assert on_file, text
        assert hits_of(twins.lake, text) == on_file, text  # titles, order, scores, snippets
    assert hits_of(twins.lake, "العراق الأمم", match_all=True) == hits_of(twins.file, "العراق الأمم", match_all=True)
    assert hits_of(twins.lake, "العراق", source="sample-news") == hits_of(twins.file, "العراق", source="sample-news")
    assert hits_of(twins.lake, "كلمةغيرموجودة") == []
    cache = search_cache_path(twins.lake)
    assert cache == twins.folder / "news.sqlite.search.duckdb" and cache.is_file()
    assert search_index_state(twins.lake) == "fresh"


def test_the_cache_of_a_server_catalog_lives_in_the_data_directory(monkeypatch, tmp_path):
    from warehouse.search import search_cache_path

    monkeypatch.setenv("AKHBAR_DATA_DIR", str(tmp_path))
    one = search_cache_path("ducklake:postgres:host=127.0.0.1 dbname=news")
    other = search_cache_path("ducklake:postgres:host=127.0.0.1 dbname=other")
    assert one.parent == tmp_path / "search-cache" and one.name.endswith(".search.duckdb")
    assert one != other and one == search_cache_path("ducklake:postgres:host=127.0.0.1 dbname=news")
    assert search_cache_path("ducklake:data/news.ducklake") == Path("data/news.ducklake.search.duckdb")


def test_new_rows_in_the_lake_are_found_without_asking(own_lake):
    from warehouse.search import lake_index_state, refresh_search_index, search_cache_path

    messages: list[str] = []
    assert refresh_search_index(own_lake, log=messages.append), messages  # what the ingest flow's sink calls
    assert lake_index_state(own_lake) == "fresh"
    built = search_cache_path(own_lake).stat().st_ino
    assert refresh_search_index(own_lake, log=messages.append) and search_cache_path(own_lake).stat().st_ino == built
    add_article(own_lake, "https://example.com/quake", "خبر جديد عن الزلزال",
                "ضرب زلزال قوي منطقة الأناضول صباح اليوم وقالت السلطات إن فرق الإنقاذ وصلت.")
    assert lake_index_state(own_lake) == "stale"
    assert [h[1] for h in hits_of(own_lake, "زلزال")] == ["https://example.com/quake"]  # rebuilt first
    assert lake_index_state(own_lake) == "fresh"


def test_a_commit_that_leaves_articles_alone_keeps_the_cache(own_lake):
    from warehouse.search import lake_index_state, lake_snapshot, refresh_search_index, search_cache_path
    from warehouse.store import Warehouse

    assert refresh_search_index(own_lake)
    built = search_cache_path(own_lake).stat().st_ino
    with Warehouse(own_lake).connection(read_only=True) as con:
        before = lake_snapshot(con)
    Warehouse(own_lake).start_run("run-without-articles", "ingest", {})  # a new snapshot, same articles
    with Warehouse(own_lake).connection(read_only=True) as con:
        assert lake_snapshot(con) > before
    assert lake_index_state(own_lake) == "fresh"
    assert hits_of(own_lake, "العراق") and search_cache_path(own_lake).stat().st_ino == built


def test_an_ingest_into_a_lake_leaves_its_search_cache_and_report_ready(prefect_harness, tmp_path):
    """The real flow: its sink refreshes the lake's search cache once the run has loaded, and writes the report
    beside the catalog file."""
    from flows.ingest import ingest
    from flows.sample_site import StaticSite
    from warehouse.search import lake_index_state, search_cache_path

    lake = f"ducklake:sqlite:{tmp_path / 'flow.sqlite'}"
    with StaticSite() as site:
        sources = tmp_path / "sources.toml"
        sources.write_text(site.sources_toml(), encoding="utf-8")
        summary = ingest(sources_file=str(sources), db_path=lake, allow_private_addresses=True)
    assert search_cache_path(lake).is_file() and lake_index_state(lake) == "fresh"
    assert summary.report_path and Path(summary.report_path).resolve() == (tmp_path / "flow-report.html").resolve()
    assert hits_of(lake, "العراق")


def test_search_cli_on_a_lake(twins):
    r = akhbar("search", "والعراق", "--db", twins.lake, "--format", "csv", "--limit", "3")
    assert r.returncode == 0, r.stderr
    on_file = akhbar("search", "والعراق", "--db", str(twins.file), "--format", "csv", "--limit", "3")
    assert r.stdout == on_file.stdout and len(r.stdout.splitlines()) == 4


def test_reindex_of_a_lake_that_cannot_be_read_fails_in_one_line(twins, tmp_path):
    """--reindex says "rebuilt" only when it was: a lake that is not there is exit 1 and one line saying why."""
    r = akhbar("search", "--reindex", "--db", twins.lake)
    assert r.returncode == 0 and "rebuilt" in r.stdout, r.stderr
    gone = f"ducklake:sqlite:{tmp_path / 'gone.sqlite'}"
    r = akhbar("search", "--reindex", "--db", gone)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "rebuilt" not in r.stdout
    assert len(r.stderr.strip().splitlines()) == 1 and "was not rebuilt: no lake at" in r.stderr, r.stderr


# --- query -------------------------------------------------------------------------------------------------

def lake_parquet_files(lake: str) -> dict[Path, bytes]:
    from warehouse.queries import lake_data_path

    data_path = lake_data_path(lake)
    assert data_path
    return {f: f.read_bytes() for f in sorted(Path(data_path).rglob("*.parquet"))}


def test_query_on_a_lake_refuses_what_would_write_its_files(own_lake):
    """The lake's data path stays readable to `akhbar query` (its tables are those files), which DuckDB would
    also let a COPY ... TO overwrite: without --allow-files, only reads run; the lake is unharmed and still reads."""
    files = lake_parquet_files(own_lake)
    target = next(f for f in files if "articles" in str(f))
    count = akhbar("query", "SELECT count(*) AS n FROM articles", "--format", "csv", "--db", own_lake)
    assert count.returncode == 0 and int(count.stdout.splitlines()[1]) > 0, count.stderr
    for sql in (f"COPY (SELECT 1 AS x) TO '{target}' (FORMAT parquet)",
                f"SELECT 1; COPY (SELECT 1 AS x) TO '{target}' (FORMAT parquet)",
                f"EXPLAIN ANALYZE COPY (SELECT 1 AS x) TO '{target}' (FORMAT parquet)"):
        r = akhbar("query", sql, "--db", own_lake)
        assert r.returncode == 2, (sql, r.stdout, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and "SELECT statements only" in r.stderr, r.stderr
    assert lake_parquet_files(own_lake) == files
    again = akhbar("query", "SELECT count(*) AS n FROM articles", "--format", "csv", "--db", own_lake)
    assert again.returncode == 0 and again.stdout == count.stdout, again.stderr
    explained = akhbar("query", "EXPLAIN SELECT count(*) FROM articles", "--db", own_lake)
    assert explained.returncode == 0, explained.stderr


# --- report ------------------------------------------------------------------------------------------------

def comparable(page: str, db_label: str) -> str:
    """The page without what names the warehouse or the moment it was written."""
    page = page.replace(db_label, "DB")
    return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "WHEN", page)


def test_report_on_a_lake_is_the_report_on_the_file(twins, tmp_path):
    from warehouse.lake_location import display_location
    from warehouse.report import build_report

    on_file = build_report(twins.file, tmp_path / "file.html", days=30)
    on_lake = build_report(twins.lake, tmp_path / "lake.html", days=30)
    assert on_lake.headline == on_file.headline and on_lake.headline["articles"] > 0
    assert (on_lake.article_window, on_lake.fetch_window) == (on_file.article_window, on_file.fetch_window)
    assert on_lake.empty_charts == on_file.empty_charts
    assert on_lake.db_path == twins.lake and on_file.db_path == display_location(twins.file)
    lake_page = comparable(on_lake.out_path.read_text(encoding="utf-8"), twins.lake)
    file_page = comparable(on_file.out_path.read_text(encoding="utf-8"), str(twins.file.resolve()))
    assert lake_page == file_page


def test_report_of_a_lake_goes_beside_its_catalog_or_into_data(twins, tmp_path):
    from warehouse.report import report_path_for

    assert report_path_for(twins.lake) == twins.folder / "news-report.html"
    assert report_path_for("ducklake:postgres:host=db.example dbname=news password=s3cret") == \
        Path("data/ducklake-news-report.html")
    r = akhbar("report", "--db", twins.lake, "--out", str(tmp_path / "cli.html"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "cli.html").is_file() and "0 articles" not in r.stdout


# --- export ------------------------------------------------------------------------------------------------

def exported(folder: Path, table: str) -> list[tuple]:
    con = duckdb.connect()
    try:
        return sorted(con.execute("SELECT * FROM read_parquet(?, hive_partitioning = true, union_by_name = true)",
                                  [f"{folder}/{table}/**/*.parquet"]).fetchall(), key=repr)
    finally:
        con.close()


def test_export_of_a_lake_holds_what_the_file_export_holds(twins, tmp_path):
    from warehouse.export import export_parquet

    from_file = export_parquet(twins.file, tmp_path / "file")
    r = akhbar("export", str(tmp_path / "lake"), "--db", twins.lake)
    assert r.returncode == 0, r.stderr
    assert {"articles", "mentions", "fetches", "entities", "runs", "sources"} <= set(from_file.rows)
    lake_tables = sorted(p.name for p in (tmp_path / "lake").iterdir() if p.is_dir())
    assert lake_tables == sorted(from_file.rows)  # no catalog metadata, no bookkeeping
    for table in from_file.rows:
        assert exported(tmp_path / "lake", table) == exported(tmp_path / "file", table), table
    assert (tmp_path / "lake" / "articles" / "source=sample-news").is_dir()
    manifest = json.loads((tmp_path / "lake" / "_export.json").read_text(encoding="utf-8"))
    assert manifest["database"] == twins.lake and manifest["rows"] == from_file.rows
    assert json.loads((tmp_path / "file" / "_export.json").read_text(encoding="utf-8"))["database"] == \
        str(twins.file.resolve())


def test_query_on_a_lake_refuses_ducklake_maintenance(own_lake):
    """DuckLake's maintenance functions delete files even in a SELECT on a read-only attach: measured,
    ducklake_cleanup_old_files removed a scheduled file, then failed to record it. Without --allow-files they
    are refused, and the files stay."""
    from warehouse.connection import connect

    for n in range(3):  # new files for the articles table, merged into one: the old ones are scheduled to go
        add_article(own_lake, f"https://e.com/maintenance-{n}", f"عنوان {n}", f"نص الخبر رقم {n} من بغداد")
    con = connect(own_lake)
    try:
        con.execute("CALL ducklake_merge_adjacent_files('akhbar')")
        con.execute("CALL ducklake_expire_snapshots('akhbar', older_than => now())")
        scheduled = con.execute("SELECT count(*) FROM __ducklake_metadata_akhbar.ducklake_files_scheduled_for_deletion"
                                ).fetchone()[0]
    finally:
        con.close()
    assert scheduled > 0
    files = lake_parquet_files(own_lake)
    r = akhbar("query", "SELECT * FROM ducklake_cleanup_old_files('akhbar', cleanup_all => true)", "--db", own_lake)
    assert r.returncode == 2 and "maintenance" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert lake_parquet_files(own_lake) == files
