"""Export the warehouse as Parquet for other engines (Spark, Polars, pandas, DuckDB elsewhere, ...).

Layout of DIR (Hive partitioning, one folder per table):
    articles/source=<name>/year=<yyyy>/month=<m>/*.parquet   (year/month of published_at, else fetched_at, UTC)
    mentions/year=<yyyy>/month=<m>/*.parquet                  (the article's year/month, so both prune alike)
    fetches/year=<yyyy>/month=<m>/*.parquet                   (of fetched_at)
    entities/, runs/, sources/ ... : one file each
    _export.json: when, from which database, rows per table

Read it back with `read_parquet('DIR/articles/**/*.parquet', hive_partitioning = true)`.

The database is opened read-only, so an export can run while nobody writes; an ingest that starts meanwhile
waits for it. A DuckLake warehouse (`ducklake:<catalog>`) exports the same way: its tables are read at one
snapshot (the export is one transaction), while other processes go on writing to the lake.
Each table is written to a staging folder first and then renamed into place, so a reader of DIR never sees a
half-written table.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from warehouse.connection import WarehouseError, connect, one_row
from warehouse.lake_location import display_location
from warehouse.tables import quoted, sql_literal

_MONTH = "CAST(date_part('year', timezone('UTC', {ts})) AS INTEGER) AS year, " \
         "CAST(date_part('month', timezone('UTC', {ts})) AS INTEGER) AS month"

# table -> (SELECT producing the rows plus partition columns, partition columns)
PARTITIONED: dict[str, tuple[str, list[str]]] = {
    "articles": (
        "SELECT a.*, " + _MONTH.format(ts="coalesce(a.published_at, a.fetched_at)") + " FROM articles a",
        ["source", "year", "month"],
    ),
    "mentions": (
        "SELECT m.*, " + _MONTH.format(ts="coalesce(a.published_at, a.fetched_at)")
        + " FROM mentions m LEFT JOIN articles a USING (article_id)",
        ["year", "month"],
    ),
    "fetches": (
        "SELECT f.*, " + _MONTH.format(ts="f.fetched_at") + " FROM fetches f",
        ["year", "month"],
    ),
}
# Internal tables that other engines do not need (search index copy, raw HTML archive, bookkeeping).
# Any other table is exported as one file.
SKIP = {"schema_migrations", "writer_turn", "article_search", "search_index_info", "raw_pages",
        "story_bands", "feed_state"}

# The warehouse's own tables: a lake's connection also shows its catalog's metadata tables (another database).
TABLES_SQL = ("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
              "AND schema_name = 'main' AND NOT temporary ORDER BY table_name")


class ExportError(WarehouseError):
    pass


@dataclass(slots=True)
class ExportResult:
    out_dir: Path
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


# on_table(table, rows, tables done, tables in all), after each table is written (progress)
TableDone = Callable[[str, int, int, int], None]


def export_parquet(db_path: str | Path, out_dir: str | Path, *, wait_seconds: float = 60.0,
                   compression: str = "zstd", on_table: TableDone | None = None) -> ExportResult:
    """Write every user table of the database under out_dir as Parquet; returns rows written per table."""
    started = datetime.now(UTC)
    out = Path(out_dir).resolve()
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    result = ExportResult(out_dir=out)
    con = connect(db_path, read_only=True, wait_seconds=wait_seconds)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out))
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute("BEGIN TRANSACTION")  # every table as of one moment (a lake: one snapshot)
        tables = [r[0] for r in con.execute(TABLES_SQL).fetchall() if r[0] not in SKIP]
        for table in tables:
            target = staging / table
            if table in PARTITIONED:
                select, parts = PARTITIONED[table]
                target.mkdir()
                con.execute(
                    f"COPY ({select}) TO {sql_literal(str(target))} (FORMAT parquet, COMPRESSION {compression}, "
                    f"PARTITION_BY ({', '.join(parts)}), OVERWRITE_OR_IGNORE, FILENAME_PATTERN 'part-{{i}}')")
            else:
                target.mkdir()
                con.execute(f"COPY (SELECT * FROM {quoted(table)}) TO {sql_literal(str(target / 'part-0.parquet'))} "
                            f"(FORMAT parquet, COMPRESSION {compression})")
            result.rows[table] = one_row(con, f"SELECT count(*) FROM {quoted(table)}")[0]
            if on_table is not None:
                on_table(table, result.rows[table], len(result.rows), len(tables))
        con.execute("COMMIT")
    except duckdb.Error as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ExportError(f"export to {out} failed: {exc}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        con.close()
    # Swap each table folder into place: rename is atomic, the old copy goes only after the new one is there.
    for table in result.rows:
        final = out / table
        old = None
        if final.exists():
            old = out / f".old-{table}-{os.getpid()}"
            final.rename(old)
        (staging / table).rename(final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)
    result.seconds = (datetime.now(UTC) - started).total_seconds()
    manifest = {
        "exported_at": started.isoformat(), "database": display_location(db_path), "format": "parquet",
        "duckdb_version": duckdb.__version__, "rows": result.rows,
        "partitioning": {t: p for t, (_, p) in PARTITIONED.items()},
        "read_with": f"read_parquet('{out}/<table>/**/*.parquet', hive_partitioning = true)",
    }
    (out / "_export.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return result
