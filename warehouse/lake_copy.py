"""Copying a DuckDB warehouse file into a DuckLake (`akhbar migrate-warehouse --from FILE --to ducklake:...`).

The target is opened as every writer opens it (`connection.connect`: the lake's schema is created or migrated),
the source file is brought up to the same schema version (a read-only `connect` migrates a file that is behind)
and then ATTACHed read-only beside it. Every base table of the warehouse schema is copied column by column, by
name, in one transaction: the lake gets one snapshot holding the whole copy, or nothing. Left out: the
migrations' own bookkeeping (the lake has its own) and the full-text index (its tables live in their own schema,
and `search_index_info` describes that index: the lake's search index is built afresh from its articles), and
the lake's writer turn (migration 017), which the copy takes like every lake writer.

A target that already holds articles is refused: copying into it would store every article twice (a lake has no
primary keys to stop it). What an article-less lake holds (the rows migrations seed, such as the starter entity
aliases, or the log of a run that stored nothing) is replaced by the source's rows, which include those seeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from warehouse.connection import (
    WarehouseError,
    connect,
    is_lake,
    lake_retrying,
    migrate,
    one_row,
    sql_literal,
    transaction,
)

SOURCE_ALIAS = "akhbar_source"
WAREHOUSE_SCHEMA = "main"
# not data to copy: the migrations runner's bookkeeping, the full-text index's state, and the row every lake
# write transaction updates first (migration 017), which the copy updates too
NOT_COPIED = frozenset({"schema_migrations", "search_index_info", "writer_turn"})
# Taking the writers' turn makes an ingest that stores articles into the lake at the same moment conflict with
# the copy (one of the two commits fails) instead of both committing and the lake holding articles twice.
TAKE_WRITER_TURN = "UPDATE writer_turn SET turn = turn + 1"

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


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def copy_warehouse(source: Path, target: str, data_path: str | None = None) -> list[TableCopy]:
    """Copy every table of the DuckDB file `source` into the lake `target` (`ducklake:...`), in one transaction;
    returns each table's row count read back from both. WarehouseError when the source is missing, the target is
    not a lake or already holds articles."""
    if not is_lake(target):
        raise WarehouseError(f"{target} is not a lake: --to takes ducklake:<catalog> (a .ducklake file, "
                             "sqlite:PATH or postgres:DSN)")
    source = Path(source)
    connect(source, read_only=True).close()  # migrates a file of an older akhbar (and says when there is none)
    con = connect(target, data_path=data_path)
    try:
        lake_retrying(lambda: migrate(con), what="migrate")  # creates a new lake's tables
        lake_catalog = str(one_row(con, CURRENT_CATALOG)[0])
        con.execute(f"ATTACH {sql_literal(str(source))} AS {SOURCE_ALIAS} (READ_ONLY)")
        tables = tables_to_copy(con, lake_catalog)
        lake_retrying(lambda: copy_tables(con, target, lake_catalog, tables), what="copy")
        return [TableCopy(table, count_rows(con, SOURCE_ALIAS, table), count_rows(con, lake_catalog, table))
                for table in tables]
    finally:
        con.close()


def base_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    return [name for (name,) in con.execute(BASE_TABLES, [catalog, WAREHOUSE_SCHEMA]).fetchall()]


def columns_of(con: duckdb.DuckDBPyConnection, catalog: str, table: str) -> list[str]:
    return [name for (name,) in con.execute(TABLE_COLUMNS, [catalog, WAREHOUSE_SCHEMA, table]).fetchall()]


def count_rows(con: duckdb.DuckDBPyConnection, catalog: str, table: str) -> int:
    return int(one_row(con, f"SELECT count(*) FROM {qualified(catalog, table)}")[0])


def qualified(catalog: str, table: str) -> str:
    return f"{quote_identifier(catalog)}.{quote_identifier(WAREHOUSE_SCHEMA)}.{quote_identifier(table)}"


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


def refuse_lake_with_articles(con: duckdb.DuckDBPyConnection, target: str) -> None:
    if count_rows(con, str(one_row(con, CURRENT_CATALOG)[0]), "articles"):
        raise WarehouseError(f"{target} already holds articles; copy into a new, empty lake (another --to), or "
                             "ingest into this one directly")


def copy_tables(con: duckdb.DuckDBPyConnection, target: str, lake_catalog: str, tables: list[str]) -> None:
    """The whole copy as one transaction, so the lake gets one snapshot with all of it, or nothing."""
    with transaction(con):
        con.execute(TAKE_WRITER_TURN)
        refuse_lake_with_articles(con, target)
        for table in tables:
            copy_table(con, lake_catalog, table)


def copy_table(con: duckdb.DuckDBPyConnection, lake_catalog: str, table: str) -> None:
    """Replace the lake table's rows with the source's, matching columns by name (the order may differ: a
    column added by a later migration is last in an old file and may sit elsewhere in the lake's table)."""
    source_columns = set(columns_of(con, SOURCE_ALIAS, table))
    shared = [c for c in columns_of(con, lake_catalog, table) if c in source_columns]
    column_list = ", ".join(quote_identifier(c) for c in shared)
    target_table = qualified(lake_catalog, table)
    con.execute(f"DELETE FROM {target_table}")
    con.execute(f"INSERT INTO {target_table} ({column_list}) "
                f"SELECT {column_list} FROM {qualified(SOURCE_ALIAS, table)}")
