"""A warehouse in DuckLake, DuckDB's lakehouse format: `--db ducklake:<catalog>` instead of a DuckDB file.

`<catalog>` is what DuckDB's `ATTACH 'ducklake:...'` takes: `sqlite:PATH` (many writers on one machine),
`postgres:DSN` (many machines) or a `.ducklake` file (DuckDB's own catalog file: one process at a time). The
tables' rows live as Parquet files under the lake's data path (a folder or an `s3://` URL), given when the lake
is created and remembered by the catalog. Many processes commit to one lake at once; readers see whole commits
(snapshots) and can read a past one (`as_of`).

The lake is attached as the catalog `akhbar` and made the default, so the code base's SQL runs on it unchanged,
except the migrations' DDL: DuckLake has no primary keys or indexes (`lake_dialect`). Keys stay unique because
every upsert is a MERGE and every write transaction takes the writer turn (migration 017).
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing, suppress
from datetime import datetime
from pathlib import Path

import duckdb

from warehouse.errors import WarehouseError, first_line
from warehouse.extensions import load_extension, s3_secret_from_environment
from warehouse.tables import sql_literal

LAKE_PREFIX = "ducklake:"
LAKE_ALIAS = "akhbar"


def is_lake(db: str | Path) -> bool:
    """Whether `--db` names a DuckLake catalog rather than a DuckDB file."""
    return str(db).startswith(LAKE_PREFIX)


def catalog_of(db: str) -> str:
    """`sqlite:PATH`, `postgres:DSN` or a file path: what follows `ducklake:`."""
    return db[len(LAKE_PREFIX):]


FILE_CATALOG_KINDS = ("sqlite:", "duckdb:")  # a bare path is a DuckDB catalog file too


def _file_catalog(db: str) -> tuple[str, Path] | None:
    """(kind prefix, file) of a catalog kept in a file, None for a PostgreSQL catalog."""
    catalog = catalog_of(db)
    if catalog.startswith("postgres:"):
        return None
    kind = next((k for k in FILE_CATALOG_KINDS if catalog.startswith(k)), "")
    return kind, Path(catalog[len(kind):])


def catalog_file(db: str) -> Path | None:
    """The catalog's own file (SQLite or DuckDB), None for a PostgreSQL catalog."""
    found = _file_catalog(db)
    return found[1] if found else None


def absolute_lake(db: str) -> str:
    """`db` with its catalog file made absolute (unchanged for a catalog on a server)."""
    found = _file_catalog(db)
    if found is None:
        return db
    kind, file = found
    return f"{LAKE_PREFIX}{kind}{file.expanduser().resolve()}"


def default_data_path(db: str) -> str | None:
    """Where a new file-catalog lake keeps its Parquet files: a folder beside the catalog (None: PostgreSQL)."""
    file = catalog_file(db)
    return f"{file.expanduser().resolve()}.files" if file is not None else None


# A password written into a PostgreSQL DSN: `password=...` or `postgresql://user:PASSWORD@host/...`
PASSWORD_IN_DSN = re.compile(r"(password\s*=\s*)('[^']*'|\S+)|(://[^/:@\s]+:)[^@\s]+(@)", re.I)


def display_location(db: str | Path) -> str:
    """The warehouse as messages, logs and reports name it: a file's absolute path, a lake without any password
    (location_problem refuses one in --db; this also covers a value that reached the code another way)."""
    if not is_lake(db):
        return str(Path(db).resolve())
    return PASSWORD_IN_DSN.sub(lambda m: f"{m.group(1)}***" if m.group(1) else f"{m.group(3)}***{m.group(4)}",
                               str(db))


def location_problem(db: str, data_path: str | None, *, writing: bool) -> str | None:
    """The one-line usage error of a `--db` / `--data-path` pair, or None when they make sense together."""
    if not is_lake(db):
        if data_path:
            return ("--data-path applies to a DuckLake warehouse only: use --db ducklake:sqlite:PATH, "
                    "ducklake:postgres:DSN or ducklake:PATH.ducklake")
        return None
    catalog = catalog_of(db)
    if catalog in ("", "sqlite:", "postgres:", "duckdb:"):
        return (f"--db {db} names no catalog: use ducklake:sqlite:PATH, ducklake:postgres:DSN "
                "or ducklake:PATH.ducklake")
    if catalog.startswith("postgres:") and PASSWORD_IN_DSN.search(catalog):
        return ("--db holds a password: give it to PostgreSQL through PGPASSWORD or ~/.pgpass instead (a --db "
                "value is shown in logs and stored with each run)")
    if catalog.startswith("postgres:") and writing and not data_path:
        return ("a PostgreSQL catalog needs --data-path DIR_OR_URL (where the lake's Parquet files go, e.g. "
                "s3://bucket/akhbar or a folder every writer sees; the same value on every writer)")
    return None


# DuckLake enforces no PRIMARY KEY/UNIQUE constraints and has no indexes: the migrations' DDL without them.
INLINE_KEY = re.compile(r"\s+(PRIMARY KEY|UNIQUE)(?=\s*[,\n)])", re.I)
TABLE_KEY = re.compile(r",\s*(PRIMARY KEY|UNIQUE)\s*\([^)]*\)", re.I)
INDEX_STATEMENT = re.compile(r"^\s*(CREATE|DROP)\s+(UNIQUE\s+)?INDEX\b[^;]*;", re.I | re.M)
# DuckLake takes only literal defaults: `true` is an expression to it, `'true'` a literal cast to the column's type
BOOLEAN_DEFAULT = re.compile(r"\bDEFAULT\s+(true|false)\b", re.I)


def lake_dialect(sql: str) -> str:
    """A migration as DuckLake takes it: no keys, no indexes, literal defaults.
    `INSERT OR IGNORE` only ever seeds a table the same migration created, so it becomes a plain INSERT."""
    sql = INDEX_STATEMENT.sub("", sql)
    sql = TABLE_KEY.sub("", sql)
    sql = INLINE_KEY.sub("", sql)
    sql = BOOLEAN_DEFAULT.sub(r"DEFAULT '\1'", sql)
    return re.sub(r"INSERT\s+OR\s+IGNORE\s+INTO", "INSERT INTO", sql, flags=re.I)


def _attach_statement(db: str, *, read_only: bool, data_path: str | None, as_of: datetime | None) -> str:
    options = []
    file = catalog_file(db)
    data_path = data_path or (default_data_path(db) if file is not None and not file.exists() else None)
    if data_path and "://" not in data_path:  # the catalog keeps it: relative, it would move with each cwd
        data_path = str(Path(data_path).expanduser().resolve())
    if data_path and not read_only:
        options.append(f"DATA_PATH {sql_literal(data_path)}")
    if read_only:
        options.append("READ_ONLY")
    if as_of is not None:
        options.append(f"SNAPSHOT_TIME {sql_literal(as_of.isoformat())}")
    with_options = f" ({', '.join(options)})" if options else ""
    return f"ATTACH {sql_literal(db)} AS {LAKE_ALIAS}{with_options}"


def _use_wal(file: Path) -> None:
    """Put a SQLite catalog in WAL mode (kept by the file), so readers do not hold up a writer's commit.
    Skipped when another process holds the file: the next writer tries again."""
    with suppress(sqlite3.Error), closing(sqlite3.connect(file, timeout=0.5)) as con:
        if con.execute("PRAGMA journal_mode").fetchone() != ("wal",):
            con.execute("PRAGMA journal_mode=WAL")


def connect_lake(db: str, *, read_only: bool = False, data_path: str | None = None,
                 as_of: datetime | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB session with the lake attached as its default catalog `akhbar`."""
    file = catalog_file(db)
    if read_only and file is not None and not file.exists():
        raise WarehouseError(f"no lake at {db}: run `akhbar ingest --db {db}` first, or "
                             f"`akhbar migrate-warehouse --to {db}`")
    if file is not None and not read_only:
        file.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        _load_lake_extensions(con, db)
        con.execute(_attach_statement(db, read_only=read_only, data_path=data_path, as_of=as_of))
        con.execute(f"USE {LAKE_ALIAS}")
        con.execute("SET TimeZone = 'UTC'")
    except duckdb.Error as exc:
        con.close()
        raise WarehouseError(f"cannot open {db}: {first_line(exc)}") from None
    except BaseException:
        con.close()
        raise
    if file is not None and catalog_of(db).startswith("sqlite:") and not read_only:
        _use_wal(file)
    return con


def _load_lake_extensions(con: duckdb.DuckDBPyConnection, db: str) -> None:
    load_extension(con, "ducklake")
    catalog = catalog_of(db)
    if catalog.startswith("sqlite:"):
        load_extension(con, "sqlite_scanner")
    elif catalog.startswith("postgres:"):
        load_extension(con, "postgres_scanner")
    load_extension(con, "httpfs")  # the data path may be on object storage, known only once attached
    s3_secret_from_environment(con)
