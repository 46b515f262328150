"""Copying a DuckDB warehouse file into a DuckLake (`akhbar migrate-warehouse --from FILE --to ducklake:...`).

The target is opened and migrated as every writer does it (a new lake gets its tables). The source file is
brought up to the same schema version (a read-only `connect` migrates a file that is behind), then repaired as
its next writer would (`Warehouse.repair`: the duplicated or orphan mentions and story bands a load killed
half-way left, warehouse/recovery.py; a lake never repairs, its commits are whole), and ATTACHed read-only beside
the lake. Every base table of the warehouse schema is copied column by column, by name, in one transaction: the
lake gets one snapshot holding the whole copy, or nothing, and the row counts reported are read inside that
transaction (a writer committing into the lake right after cannot make them differ). Left out: the migrations'
own bookkeeping (the lake has its own); the load journal (repaired away, and a lake never reads it); the
full-text index (its tables live in their own schema, and `search_index_info` describes that index: the lake's
search index is built afresh from its articles); and the lake's writer turn (migration 017), which the copy
takes like every lake writer.

Only a lake that holds nothing but what the migrations seed (the starter entity aliases) is copied into; the
seeded rows are replaced by the source's, which include them. A lake holding any other row (articles, a run or
its fetches, sources, a user's alias ...) is refused, left as it was: copying into it would store articles twice
(a lake has no primary keys to stop it) or mix another ingest's log, still being written maybe, with the copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from warehouse.connection import (
    TAKE_WRITER_TURN,
    WarehouseError,
    connect,
    is_lake,
    lake_retrying,
    migrate,
    one_row,
    sql_literal,
    transaction,
)
from warehouse.errors import first_line
from warehouse.lake_location import display_location
from warehouse.store import Warehouse
from warehouse.tables import quoted

SOURCE_ALIAS = "akhbar_source"
WAREHOUSE_SCHEMA = "main"
# not data to copy: the migrations runner's bookkeeping, the journal of unfinished loads (the source is repaired
# first, and only a file's writers read it), the full-text index's state, and the row every lake write
# transaction updates first (migration 017), which the copy updates too
NOT_COPIED = frozenset({"schema_migrations", "load_journal", "search_index_info", "writer_turn"})
# The rows the migrations put into a new lake, by table: the condition that selects them. The copy replaces
# them (the source has its own); any other row makes the lake one the copy refuses.
SEEDED_ROWS = {"entity_aliases": "origin = 'starter'"}

BASE_TABLES = ("SELECT table_name FROM information_schema.tables WHERE table_catalog = ? AND table_schema = ? "
               "AND table_type = 'BASE TABLE' ORDER BY table_name")
TABLE_COLUMNS = ("SELECT column_name FROM information_schema.columns WHERE table_catalog = ? AND table_schema = ? "
                 "AND table_name = ? ORDER BY ordinal_position")
CURRENT_CATALOG = "SELECT current_database()"


@dataclass(frozen=True, slots=True)
class TableCopy:
    table: str
    source_rows: int
    target_rows: int


def copy_warehouse(source: Path, target: str, data_path: str | None = None) -> list[TableCopy]:
    """Copy every table of the DuckDB file `source` into the lake `target` (`ducklake:...`), in one transaction;
    returns each table's row count in both, read inside that transaction. WarehouseError when the source is
    missing, the target is not a lake or already holds rows besides the seeded ones."""
    if not is_lake(target):
        raise WarehouseError(f"{display_location(target)} is not a lake: --to takes ducklake:<catalog> (a .ducklake "
                             "file, sqlite:PATH or postgres:DSN)")
    source = Path(source)
    connect(source, read_only=True).close()  # migrates a file of an older akhbar (and says when there is none)
    Warehouse(source).repair()  # what a killed load left (waits for the file's lock like every writer)
    con = connect(target, data_path=data_path)
    try:
        lake_retrying(lambda: migrate(con), what="migrate")  # creates a new lake's tables
        lake_catalog = str(one_row(con, CURRENT_CATALOG)[0])
        attach_source(con, source)
        tables = tables_to_copy(con, lake_catalog)
        return lake_retrying(lambda: copy_tables(con, target, lake_catalog, tables), what="copy")
    finally:
        con.close()


def attach_source(con: duckdb.DuckDBPyConnection, source: Path) -> None:
    try:
        con.execute(f"ATTACH {sql_literal(str(source))} AS {quoted(SOURCE_ALIAS)} (READ_ONLY)")
    except duckdb.Error as exc:  # e.g. an ingest took the file's lock again after the repair
        raise WarehouseError(f"cannot read {display_location(source)} ({first_line(exc, 200)}); stop the program "
                             "that writes it (an ingest, a duckdb shell) and run again") from None


def base_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    return [name for (name,) in con.execute(BASE_TABLES, [catalog, WAREHOUSE_SCHEMA]).fetchall()]


def columns_of(con: duckdb.DuckDBPyConnection, catalog: str, table: str) -> list[str]:
    return [name for (name,) in con.execute(TABLE_COLUMNS, [catalog, WAREHOUSE_SCHEMA, table]).fetchall()]


def count_rows(con: duckdb.DuckDBPyConnection, catalog: str, table: str, where: str = "true") -> int:
    return int(one_row(con, f"SELECT count(*) FROM {qualified(catalog, table)} WHERE {where}")[0])


def qualified(catalog: str, table: str) -> str:
    return f"{quoted(catalog)}.{quoted(WAREHOUSE_SCHEMA)}.{quoted(table)}"


def tables_to_copy(con: duckdb.DuckDBPyConnection, lake_catalog: str) -> list[str]:
    """The source's warehouse tables, all of which the lake's schema must have. Both are at the newest schema
    version, so a table the lake lacks is one the lake does without: fine when it is empty in the source, an
    error when it holds rows that would be lost."""
    in_lake = set(base_tables(con, lake_catalog))
    wanted = [t for t in base_tables(con, SOURCE_ALIAS) if t not in NOT_COPIED]
    lost = [t for t in wanted if t not in in_lake and count_rows(con, SOURCE_ALIAS, t)]
    if lost:
        raise WarehouseError(f"the lake has no table {', '.join(lost)} for the rows the source holds there; "
                             "upgrade akhbar (both must be the same version) and copy again")
    return [t for t in wanted if t in in_lake]


def refuse_lake_with_rows(con: duckdb.DuckDBPyConnection, target: str, lake_catalog: str,
                          tables: list[str]) -> None:
    """WarehouseError naming the tables where the lake holds rows the migrations did not seed."""
    held = [t for t in tables
            if count_rows(con, lake_catalog, t, f"NOT ({SEEDED_ROWS[t]})" if t in SEEDED_ROWS else "true")]
    if held:
        raise WarehouseError(f"{display_location(target)} already holds rows in {', '.join(held)}; copy into a new, "
                             "empty lake (another --to), or ingest into this one directly")


def copy_tables(con: duckdb.DuckDBPyConnection, target: str, lake_catalog: str,
                tables: list[str]) -> list[TableCopy]:
    """The whole copy as one transaction, so the lake gets one snapshot with all of it, or nothing; each table's
    row counts are read in it, so they describe that snapshot and no later commit of another writer."""
    with transaction(con):
        con.execute(TAKE_WRITER_TURN)
        refuse_lake_with_rows(con, target, lake_catalog, tables)
        for table in tables:
            copy_table(con, lake_catalog, table)
        return [TableCopy(table, count_rows(con, SOURCE_ALIAS, table), count_rows(con, lake_catalog, table))
                for table in tables]


def copy_table(con: duckdb.DuckDBPyConnection, lake_catalog: str, table: str) -> None:
    """Put the source's rows into the lake table (in place of the seeded ones), matching columns by name (the
    order may differ: a column added by a later migration is last in an old file and may sit elsewhere in the
    lake's table)."""
    source_columns = set(columns_of(con, SOURCE_ALIAS, table))
    shared = [c for c in columns_of(con, lake_catalog, table) if c in source_columns]
    column_list = ", ".join(quoted(c) for c in shared)
    target_table = qualified(lake_catalog, table)
    if table in SEEDED_ROWS:
        con.execute(f"DELETE FROM {target_table} WHERE {SEEDED_ROWS[table]}")
    con.execute(f"INSERT INTO {target_table} ({column_list}) "
                f"SELECT {column_list} FROM {qualified(SOURCE_ALIAS, table)}")
