"""`copy_warehouse` (akhbar migrate-warehouse): a real ingested DuckDB file copied into a real DuckLake (SQLite
catalog, local Parquet files), then read back table by table and through every named query."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from conftest import copy_database

from warehouse.connection import WarehouseError, connect
from warehouse.lake_copy import TableCopy, copy_warehouse
from warehouse.queries import named_queries, run_query

# the tables an ingest of the sample site fills: each must arrive in the lake with all its rows
FILLED_TABLES = {"articles", "mentions", "entities", "fetches", "runs", "sources", "raw_pages", "story_bands",
                 "feed_state", "entity_aliases"}
# values for the named queries' parameters that make each one answer with rows on the sample site
QUERY_PARAMS = {"name": "العراق", "days": "36500", "limit": "1000", "min_copies": "1"}


def lake_at(folder: Path) -> str:
    return f"ducklake:sqlite:{folder / 'catalog.sqlite'}"


def file_rows(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def lake_rows(lake: str, sql: str) -> list[tuple]:
    con = connect(lake, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def copied(sample_ingest, tmp_path_factory) -> tuple[str, list[TableCopy]]:
    """The sample ingest copied once into a new lake (its data files in the default place beside the catalog)."""
    lake = lake_at(tmp_path_factory.mktemp("lake-copy"))
    return lake, copy_warehouse(sample_ingest.db, lake)


def test_every_table_arrives_with_all_its_rows(sample_ingest, copied):
    lake, copies = copied
    by_table = {c.table: c for c in copies}
    assert set(by_table) >= FILLED_TABLES
    assert "schema_migrations" not in by_table and "search_index_info" not in by_table
    for table, copy in by_table.items():
        in_file = file_rows(sample_ingest.db, f'SELECT count(*) FROM main."{table}"')[0][0]
        assert copy.source_rows == in_file, table
        assert copy.target_rows == copy.source_rows, table
        assert lake_rows(lake, f'SELECT count(*) FROM "{table}"')[0][0] == in_file, table
    for table in FILLED_TABLES:
        assert by_table[table].source_rows > 0, table
    # the values too, not only the counts: texts with their exact mention offsets
    text_and_mentions = ("SELECT a.article_id, a.text, a.published_at, m.start, m.\"end\", m.canonical "
                         "FROM articles a LEFT JOIN mentions m USING (article_id) ORDER BY ALL")
    assert lake_rows(lake, text_and_mentions) == file_rows(sample_ingest.db, text_and_mentions)


def test_every_named_query_answers_the_same_on_the_lake(sample_ingest, copied):
    lake, _ = copied
    answered = 0
    for name, query in named_queries().items():
        params = {key: QUERY_PARAMS[key] for key in query.defaults if key in QUERY_PARAMS}
        if "run_id" in query.defaults:
            params["run_id"] = sample_ingest.summary.run_id
        file_columns, file_answer = run_query(sample_ingest.db, name, params)
        lake_columns, lake_answer = run_query(lake, name, params)
        assert lake_columns == file_columns, name
        # ties in ORDER BY may come back in another order from another engine: compare as multisets
        assert sorted(map(repr, lake_answer)) == sorted(map(repr, file_answer)), name
        answered += bool(file_answer)
    assert answered >= len(named_queries()) - 1  # the sample site gives (nearly) every query something to show


def test_a_lake_that_holds_articles_is_refused_and_left_as_it_was(sample_ingest, copied):
    lake, copies = copied
    with pytest.raises(WarehouseError, match="already holds articles"):
        copy_warehouse(sample_ingest.db, lake)
    counts = {c.table: c.target_rows for c in copies}
    for table in ("articles", "mentions", "entity_aliases"):
        assert lake_rows(lake, f"SELECT count(*) FROM {table}")[0][0] == counts[table], table


def test_an_old_file_is_migrated_first_and_columns_match_by_name(sample_ingest, tmp_path):
    """A file of the previous schema version (before the lake's writer turn) whose `sources` table has its
    columns in another order than the lake's: every value lands in the column of its name."""
    old = copy_database(sample_ingest.db, tmp_path / "old.duckdb")
    con = duckdb.connect(str(old))
    columns = [name for (name,) in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = 'sources' ORDER BY column_index").fetchall()]
    reversed_list = ", ".join(f'"{c}"' for c in reversed(columns))
    con.execute(f"CREATE TABLE sources_reversed AS SELECT {reversed_list} FROM sources")
    con.execute("DROP TABLE sources")
    con.execute("ALTER TABLE sources_reversed RENAME TO sources")
    latest = con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
    con.execute("DROP TABLE writer_turn")
    con.execute("DELETE FROM schema_migrations WHERE version = ?", [latest])
    con.close()

    lake = lake_at(tmp_path / "lake")
    copies = {c.table: c for c in copy_warehouse(old, lake, data_path=str(tmp_path / "lake-data"))}
    assert file_rows(old, "SELECT max(version) FROM schema_migrations")[0][0] == latest  # migrated in place
    in_order = ", ".join(f'"{c}"' for c in columns)
    assert lake_rows(lake, f"SELECT {in_order} FROM sources ORDER BY name") == \
        file_rows(sample_ingest.db, f"SELECT {in_order} FROM sources ORDER BY name")
    assert copies["articles"].target_rows == copies["articles"].source_rows > 0
    assert any((tmp_path / "lake-data").rglob("*.parquet"))  # the data went where --data-path said


def test_a_missing_source_or_a_target_that_is_no_lake_is_one_line(sample_ingest, tmp_path):
    with pytest.raises(WarehouseError, match="no database at") as missing:
        copy_warehouse(tmp_path / "absent.duckdb", lake_at(tmp_path))
    assert "\n" not in str(missing.value)
    with pytest.raises(WarehouseError, match="ducklake:") as not_lake:
        copy_warehouse(sample_ingest.db, str(tmp_path / "other.duckdb"))
    assert "\n" not in str(not_lake.value)
    assert not (tmp_path / "other.duckdb").exists()
