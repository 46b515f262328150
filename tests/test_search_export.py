"""Arabic full-text search (DuckDB fts, offline) and the Parquet export, on a real ingested database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from conftest import REPO, copy_database

AKHBAR = str(Path(sys.executable).parent / "akhbar")
GOLD = json.loads((REPO / "samples" / "expected.json").read_text(encoding="utf-8"))
N_ARTICLES = sum("expect" not in g for g in GOLD.values())


@pytest.fixture
def db(sample_ingest, tmp_path):
    """A private copy of the shared sample ingest per test, so tests that add articles or indexes do not leak."""
    return copy_database(sample_ingest.db, tmp_path / "copy.duckdb")


@pytest.fixture
def indexed(db):
    from warehouse.search import refresh_search_index

    messages = []
    assert refresh_search_index(db, force=True, log=messages.append), messages
    return db


def akhbar(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([AKHBAR, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING"})


def urls(hits) -> list[str]:
    return [h.url for h in hits]


def add_article(db: Path, url: str, title: str, text: str) -> None:
    from extractors.discover.urls import article_id
    from extractors.records import ExtractedArticle, ProcessedArticle
    from warehouse.store import Warehouse

    a = ExtractedArticle(url=url, title=title, author=None, published_at=datetime(2024, 4, 1, tzinfo=UTC),
                         language="ar", text=text)
    Warehouse(db).load([ProcessedArticle(article_id=article_id(url), url=url, source="extra", article=a,
                                         content_hash="h-" + url, fetched_at=a.published_at, final_url=None,
                                         mentions=[], backend="crf")], [], "test-run")


# --- search ------------------------------------------------------------------------------------------------

def test_extension_loads_offline_from_the_pinned_package():
    from warehouse.extensions import extension_file
    from warehouse.search import load_fts

    path = extension_file("fts")
    assert path is not None and path.is_file() and f"v{duckdb.__version__}" in str(path)
    con = duckdb.connect()
    con.execute("SET autoinstall_known_extensions = false")
    load_fts(con)
    assert con.execute("SELECT stem('العراق', 'arabic')").fetchone()[0] == "عراق"


def test_unloadable_extension_gives_a_clear_message(monkeypatch, tmp_path):
    import warehouse.extensions as extensions
    import warehouse.search as search

    monkeypatch.setattr(extensions, "extension_file", lambda name: None)  # as if the package were not installed
    con = duckdb.connect(config={"extension_directory": str(tmp_path), "autoinstall_known_extensions": False})
    with pytest.raises(search.SearchUnavailable, match="duckdb-extension-fts=="):
        search.load_fts(con)


def test_search_finds_an_arabic_word_with_bm25_ranking(indexed):
    from warehouse.search import search

    hits = search(indexed, "العراق", limit=20)
    iraq = {u for (u,) in duckdb.connect(str(indexed), read_only=True).execute(
        "SELECT url FROM articles WHERE text LIKE '%العراق%' OR title LIKE '%العراق%'").fetchall()}
    assert iraq and iraq <= set(urls(hits))
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    top = hits[0]
    assert top.title and top.url and top.published_at and top.score > 0
    assert "عراق" in top.snippet and len(top.snippet) < 250


def test_prefixed_and_variant_spellings_find_the_same_articles(indexed):
    from warehouse.search import search

    base = urls(search(indexed, "العراق", limit=50))
    assert urls(search(indexed, "والعراق", limit=50)) == base      # conjunction + article
    assert urls(search(indexed, "بالعراق", limit=50)) == base      # preposition (Snowball)
    assert urls(search(indexed, "العِراق", limit=50)) == base      # diacritics
    # taa marbuta / haa and hamza forms meet in the middle
    assert urls(search(indexed, "الحكومه", limit=50)) == urls(search(indexed, "الحكومة", limit=50)) != []
    assert urls(search(indexed, "الامم المتحده", limit=50)) == urls(search(indexed, "الأمم المتحدة", limit=50)) != []


def test_search_options_and_no_match(indexed):
    from warehouse.search import SearchError, search

    assert search(indexed, "كلمةغيرموجودة") == []
    assert len(search(indexed, "العراق", limit=2)) == 2
    assert search(indexed, "العراق", source="nope") == []
    every = search(indexed, "العراق الأمم", match_all=True, limit=50)
    some = search(indexed, "العراق الأمم", limit=50)
    assert every and len(every) < len(some) and set(urls(every)) <= set(urls(some))
    with pytest.raises(SearchError):
        search(indexed, "   ")


def test_missing_index_is_explained_and_the_cli_builds_it(db):
    from warehouse.connection import connect
    from warehouse.search import SearchIndexMissing, index_state, search

    con = connect(db, read_only=True)
    state = index_state(con)
    con.close()
    if state != "missing":  # the ingest flow may already rebuild it after loading
        con = connect(db)
        con.execute("DROP TABLE IF EXISTS search_index_info")
        con.close()
    with pytest.raises(SearchIndexMissing, match="akhbar search --reindex"):
        search(db, "العراق")
    r = akhbar("search", "والعراق", "--db", str(db), "--format", "json", "--limit", "3")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert len(rows) == 3 and set(rows[0]) == {"title", "url", "source", "published_at", "score", "snippet"}


def test_stale_index_is_rebuilt_by_the_cli_and_finds_new_articles(indexed):
    from warehouse.connection import connect
    from warehouse.search import index_state

    add_article(indexed, "https://example.com/new", "خبر جديد عن الزلزال",
                "ضرب زلزال قوي منطقة الأناضول صباح اليوم وقالت السلطات إن فرق الإنقاذ وصلت.")
    con = connect(indexed, read_only=True)
    assert index_state(con) == "stale"
    con.close()
    r = akhbar("search", "زلزال", "--db", str(indexed), "--format", "csv")
    assert r.returncode == 0, r.stderr
    assert "https://example.com/new" in r.stdout
    con = connect(indexed, read_only=True)
    assert index_state(con) == "fresh"
    con.close()


def test_search_cli_table_output(indexed):
    r = akhbar("search", "مجلس", "الأمن", "--db", str(indexed), "--limit", "2")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split(" | ")[0].strip() == "title" and "score" in lines[0] and "(2 rows)" in r.stdout
    r = akhbar("search", "--db", str(indexed))
    assert r.returncode == 2 and "words to search for" in r.stderr


def test_index_does_not_stop_plain_duckdb_or_further_loads(indexed):
    """A database with the index opens, loads and queries without the fts extension (no autoload needed)."""
    con = duckdb.connect(str(indexed), config={"autoinstall_known_extensions": False,
                                               "autoload_known_extensions": False})
    assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == N_ARTICLES
    con.close()
    add_article(indexed, "https://example.com/another", "عنوان", "نص قصير عن بغداد")
    r = akhbar("query", "SELECT count(*) AS n FROM articles", "--db", str(indexed), "--format", "csv")
    assert r.stdout.splitlines() == ["n", str(N_ARTICLES + 1)]


# --- Parquet export ----------------------------------------------------------------------------------------

def test_export_round_trip_with_hive_partitions(db, tmp_path):
    from warehouse.export import export_parquet

    out = tmp_path / "export"
    result = export_parquet(db, out)
    con = duckdb.connect(str(db), read_only=True)
    try:
        for table in ("articles", "mentions", "entities", "fetches", "runs", "sources"):
            assert result.rows[table] == con.execute(f"SELECT count(*) FROM {table}").fetchone()[0], table
        assert "schema_migrations" not in result.rows and "article_search" not in result.rows
        article_cols = [r[0] for r in con.execute("DESCRIBE articles").fetchall()]
    finally:
        con.close()
    assert (out / "articles" / "source=sample-news" / "year=2024" / "month=3").is_dir()
    assert list((out / "mentions").glob("year=*/month=*/*.parquet"))
    pq = duckdb.connect()
    for table, n in result.rows.items():
        got = pq.execute("SELECT count(*) FROM read_parquet(?, hive_partitioning = true)",
                         [f"{out}/{table}/**/*.parquet"]).fetchone()[0]
        assert got == n, table
    read_cols = [r[0] for r in pq.execute("DESCRIBE SELECT * FROM read_parquet(?, hive_partitioning = true)",
                                          [f"{out}/articles/**/*.parquet"]).fetchall()]
    assert set(article_cols) <= set(read_cols) and {"year", "month"} <= set(read_cols)
    # Arabic text and timestamps survive
    orig = duckdb.connect(str(db), read_only=True).execute(
        "SELECT article_id, title, published_at FROM articles ORDER BY article_id").fetchall()
    back = pq.execute("SELECT article_id, title, published_at FROM read_parquet(?, hive_partitioning = true) "
                      "ORDER BY article_id", [f"{out}/articles/**/*.parquet"]).fetchall()
    assert back == orig
    manifest = json.loads((out / "_export.json").read_text(encoding="utf-8"))
    assert manifest["rows"] == result.rows


def test_export_again_replaces_instead_of_duplicating_and_cli(db, tmp_path):
    out = tmp_path / "pq"
    for _ in range(2):
        r = akhbar("export", "--format", "parquet", str(out), "--db", str(db))
        assert r.returncode == 0, r.stderr
    assert "articles: " + str(N_ARTICLES) in r.stdout
    n = duckdb.connect().execute("SELECT count(*) FROM read_parquet(?, hive_partitioning = true)",
                                 [f"{out}/articles/**/*.parquet"]).fetchone()[0]
    assert n == N_ARTICLES
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging left behind
    r = akhbar("export", "--format", "parquet", str(out), "--db", str(tmp_path / "none.duckdb"))
    assert r.returncode == 1 and "no database" in r.stderr
