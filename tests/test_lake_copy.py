"""`copy_warehouse` (akhbar migrate-warehouse): a real ingested DuckDB file copied into a real DuckLake (SQLite
catalog, local Parquet files), then read back table by table and through every named query."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from conftest import copy_database
from test_kill_load import sound, tear_a_load

from warehouse.connection import WarehouseError, connect
from warehouse.lake_copy import TableCopy, copy_warehouse
from warehouse.queries import named_queries, run_query
from warehouse.store import Warehouse

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
    assert not {"schema_migrations", "search_index_info", "load_journal", "writer_turn"} & set(by_table)
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
    with pytest.raises(WarehouseError, match="already holds rows in articles"):
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


def test_a_load_torn_in_the_source_is_repaired_before_the_copy(tmp_path):
    """The state a load killed in its commit leaves (tests/test_kill_load.py): a journal row, a stored article
    whose mentions and bands are doubled, an absent one whose mentions and bands are present. The lake gets
    the repaired rows, and no journal a lake would never act on."""
    db = tmp_path / "torn.duckdb"
    source = Warehouse(db)
    source.migrate()
    stored, absent = tear_a_load(source)
    assert {"duplicated mentions", "orphan mentions", "unfinished loads"} <= set(sound(db))

    lake = lake_at(tmp_path / "lake")
    copies = {c.table: c for c in copy_warehouse(db, lake)}
    assert sound(db) == {}  # repaired in place, as its next load would have
    assert "load_journal" not in copies
    assert copies["mentions"].target_rows == copies["mentions"].source_rows == 3
    distinct_mentions = "SELECT count(*) FROM (SELECT DISTINCT * FROM mentions)"
    assert lake_rows(lake, "SELECT count(*) FROM mentions") == lake_rows(lake, distinct_mentions) == [(3,)]
    assert lake_rows(lake, "SELECT DISTINCT article_id FROM mentions") == [(stored.article_id,)]
    distinct_bands = "SELECT count(*) FROM (SELECT DISTINCT * FROM story_bands)"
    assert lake_rows(lake, "SELECT count(*) FROM story_bands") == lake_rows(lake, distinct_bands) != [(0,)]
    assert absent.article_id not in {row[0] for row in lake_rows(lake, "SELECT article_id FROM articles")}


def test_a_lake_with_rows_of_its_own_is_refused_and_keeps_them(sample_ingest, tmp_path):
    """A lake without articles whose ingest has only begun (its run row is there, it may be fetching still):
    the copy must neither delete that run nor mix its own log into it."""
    lake = lake_at(tmp_path / "lake")
    Warehouse(lake).migrate()
    Warehouse(lake).start_run("running-ingest", "ingest", {"sources_file": "s.toml"})
    with pytest.raises(WarehouseError, match="already holds rows in runs") as refused:
        copy_warehouse(sample_ingest.db, lake)
    assert "\n" not in str(refused.value)
    assert lake_rows(lake, "SELECT run_id FROM runs") == [("running-ingest",)]
    assert lake_rows(lake, "SELECT count(*) FROM articles") == [(0,)]


def test_a_lake_with_an_alias_a_user_added_is_refused(sample_ingest, tmp_path):
    """Only the starter aliases the migrations seed are replaced by the source's; a user's alias is the lake's
    own data."""
    lake = lake_at(tmp_path / "lake")
    Warehouse(lake).migrate()
    Warehouse(lake).write(lambda con: con.execute(
        "INSERT INTO entity_aliases VALUES ('بغدد', 'بغداد', 'بغدد', 'بغداد', 'user', now())"))
    with pytest.raises(WarehouseError, match="already holds rows in entity_aliases"):
        copy_warehouse(sample_ingest.db, lake)
    assert lake_rows(lake, "SELECT variant FROM entity_aliases WHERE origin = 'user'") == [("بغدد",)]
