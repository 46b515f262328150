"""Opening the warehouse: a DuckDB file, or a DuckLake (`ducklake:<catalog>`, many writers at once; see
warehouse/lake_location.py); read-only or writer connections, waiting politely for the file lock, and the
migrations runner. Both forms open as a connection whose default catalog is the warehouse, so every statement
of the code base runs unchanged on either.

The file is held open only while writing, so people can query between loads; a writer that finds the file
locked by another process waits (up to `wait_seconds`) instead of failing at once.

Damage and full disks are reported in one line that names the file and what to do (`WarehouseDamaged`,
`WarehouseFull`; `storage_problem` turns DuckDB's and the OS's errors into them). Every writer checks the file
cheaply when it opens it (its catalog reads, and it is as long as its block count says: a truncated file is
caught here; readers skip this, so `akhbar export` can save what is still readable);
`verify_database`, run when a run starts writing, also reads every table's blocks, so DuckDB checks their
checksums (measured: 3.2 s for a 1.4 GB file of Arabic text, one DuckDB thread, load average 7 on 2 cores).
"""

from __future__ import annotations

import errno
import logging
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from warehouse.errors import WarehouseDamaged, WarehouseError, WarehouseFull, WarehouseLocked, first_line
from warehouse.lake_location import connect_lake, is_lake, lake_dialect
from warehouse.lake_location import location_problem as location_problem  # re-exported for the CLI
from warehouse.tables import quoted, sql_literal

log = logging.getLogger("akhbar.warehouse")

DEFAULT_DB_PATH = "data/akhbar.duckdb"
LOCK_ERROR = re.compile(r"Could not set lock|Conflicting lock|database is locked|lock on file", re.I)

# Rows per row group of the data a load appends. DuckDB's default (122,880) makes every load's checkpoint
# rewrite the table's whole last, partly filled row group, i.e. every article stored so far until 122,880 of
# them: measured, the checkpoint at close grew linearly with the table (0.08 s after 1,000 rows of 12 KB, 0.31 s
# after 20,000) and the file held twice its data in freed blocks; with 2,048-row groups it stayed at 0.03 s.
# 8,192 keeps that bound (about 100 MB of pages per rewrite at most) without the cost of tiny groups in
# whole-table rebuilds, which keep the default (the search index build needed 531 MB with 2,048, 290 with it).
LOAD_ROW_GROUP_ROWS = 8192
WRITER_ALIAS = "akhbar"

CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ)
"""
APPLIED_MIGRATIONS = "SELECT version FROM schema_migrations"
CURRENT_CATALOG_TYPE = "SELECT type FROM duckdb_databases() WHERE database_name = current_database()"
RECORD_MIGRATION = "INSERT INTO schema_migrations VALUES (?, ?, ?)"


DAMAGE_ERROR = re.compile(r"Corrupt database file|Could not read enough bytes|checksum|not a valid DuckDB database"
                          r"|truncated|Failed to load metadata|block .* out of range", re.I)
FULL_ERROR = re.compile(r"No space left on device|File too large|Disk quota exceeded", re.I)
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})
# The file's own idea of its size: three 4 KiB headers, then `total_blocks` blocks of `block_size` bytes.
FILE_HEADER_BYTES = 3 * 4096
# used, not total, blocks: DuckDB cuts free blocks off the end of the file, so a healthy file may be shorter
# than all its blocks, never than its used ones
DATABASE_SIZE = ("SELECT block_size, used_blocks FROM pragma_database_size() "
                 "WHERE database_name = current_database()")
CATALOG_TABLES = ("SELECT schema_name, table_name FROM duckdb_tables() "
                  "WHERE database_name = current_database() AND NOT temporary")


def damaged(path: str | Path, detail: str) -> WarehouseDamaged:
    return WarehouseDamaged(f"{path} is damaged ({detail}); restore it from a copy, or save what is still readable "
                            f"with `akhbar export DIR --db {path}` (a new ingest into another --db starts afresh)")


def storage_problem(exc: BaseException, path: str | Path) -> WarehouseError | None:
    """The one-line error for a damaged file or a full disk behind `exc`, or None when it is neither."""
    if isinstance(exc, WarehouseError):
        return exc
    if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS or FULL_ERROR.search(str(exc)):
        return WarehouseFull(f"no space left to write {path} ({first_line(exc, 200)}); free some disk space and run "
                             "again (what was being written was rolled back; everything stored before is kept)")
    if isinstance(exc, duckdb.Error) and DAMAGE_ERROR.search(str(exc)):
        return damaged(path, first_line(exc, 200))
    return None


def check_file(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Cheap checks on an open file: its catalog reads, and it is not shorter than its blocks (truncated)."""
    try:
        con.execute(CATALOG_TABLES).fetchall()
        row = con.execute(DATABASE_SIZE).fetchone()
    except duckdb.Error as exc:
        raise storage_problem(exc, path) or damaged(path, first_line(exc, 200)) from None
    if row is not None and path.exists():
        expected = FILE_HEADER_BYTES + int(row[0]) * int(row[1])
        size = path.stat().st_size
        if int(row[1]) and size < expected:
            raise damaged(path, f"the file has {size} bytes, its used blocks need {expected}: it was truncated")


def verify_database(path: str | Path, *, wait_seconds: float = 300.0,
                    on_wait: Callable[[str], None] | None = None) -> None:
    """Read every block of every table of the file, so DuckDB verifies their checksums; WarehouseDamaged when
    one does not match or the file is truncated. Nothing to do for a file that does not exist yet."""
    path = Path(path)
    if not path.exists():
        return
    con = _open_waiting(path, True, wait_seconds, on_wait, None)
    try:
        for schema, table in con.execute(CATALOG_TABLES).fetchall():
            con.execute(f"SELECT sum(hash(t)) FROM {quoted(schema)}.{quoted(table)} AS t").fetchall()
    except duckdb.Error as exc:
        raise storage_problem(exc, path) or damaged(path, first_line(exc, 200)) from None
    finally:
        con.close()


def check_database(path: str | Path, *, wait_seconds: float = 300.0) -> None:
    """The cheap checks of a writer's open (see check_file) on an existing file, before a command starts a run."""
    if Path(path).exists():
        _open_waiting(Path(path), False, wait_seconds, None, None).close()


def _connect_writer(path: Path, row_group_rows: int | None) -> duckdb.DuckDBPyConnection:
    """A read-write connection to the file. With `row_group_rows` the file is ATTACHed with that ROW_GROUP_SIZE
    (an ATTACH option) as the default catalog, so unqualified names mean the warehouse's tables as in a plain
    `duckdb.connect(path)`."""
    if row_group_rows is None:
        return duckdb.connect(str(path))
    con = duckdb.connect()
    try:
        literal = sql_literal(str(path))
        con.execute(f"ATTACH {literal} AS {WRITER_ALIAS} (ROW_GROUP_SIZE {int(row_group_rows)})")
        con.execute(f"USE {WRITER_ALIAS}")
        # spill files next to the database, as a plain connection to it would (not in the working directory)
        con.execute(f"SET temp_directory = {sql_literal(f'{path}.tmp')}")
    except duckdb.BinderException as exc:
        con.close()
        if "file handle conflict" not in str(exc).lower():
            raise
        # this process already holds the file open (a notebook's connection, say): DuckDB refuses a second
        # instance of it, so share that one through a plain connection (default row groups for this load)
        return duckdb.connect(str(path))
    except BaseException:
        con.close()
        raise
    return con


def _open_once(path: Path, read_only: bool, row_group_rows: int | None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path), read_only=True) if read_only else _connect_writer(path, row_group_rows)
    if not read_only:  # readers go on: `akhbar export` should save what is still readable
        try:
            check_file(con, path)
        except BaseException:
            con.close()
            raise
    con.execute("SET TimeZone = 'UTC'")
    if not read_only:
        # Loads are small bulk transactions next to CPU-bound extraction workers: one DuckDB thread
        # avoids fighting them for the cores (measured in benchmarks/pipeline.py).
        con.execute("SET threads = 1")
    return con


def connect(
    path: str | Path,
    *,
    read_only: bool = False,
    data_path: str | None = None,
    as_of: datetime | None = None,
    wait_seconds: float = 300.0,
    on_wait: Callable[[str], None] | None = None,
    row_group_rows: int | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse: a DuckDB file (waiting up to `wait_seconds` while another process holds its lock), or
    a `ducklake:` catalog (`data_path`: where a new lake puts its Parquet files; `as_of`: read the snapshot of
    that moment). `row_group_rows`: row group size of the data this (write) connection appends to a file (see
    LOAD_ROW_GROUP_ROWS)."""
    if is_lake(path):
        return _connect_lake_migrated(str(path), read_only=read_only, data_path=data_path, as_of=as_of)
    if as_of is not None:
        raise WarehouseError(f"{path} is a DuckDB file, which keeps no past snapshots: --as-of needs a ducklake: "
                             "warehouse (see `akhbar migrate-warehouse`)")
    path = Path(path)
    if read_only and not path.exists():
        raise WarehouseError(f"no database at {path}: run `akhbar ingest` or `akhbar demo` first, or pass --db")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = _open_waiting(path, read_only, wait_seconds, on_wait, row_group_rows)
    if read_only and _schema_behind(con):
        # a file last written by an older akhbar: readers rely on the views and macros of the newer
        # migrations, so bring it up to date (briefly as a writer) before reading
        con.close()
        writer = _open_waiting(path, False, wait_seconds, on_wait, None)
        try:
            migrate(writer)
        finally:
            writer.close()
        con = _open_waiting(path, True, wait_seconds, on_wait, None)
    return con


def _connect_lake_migrated(db: str, *, read_only: bool, data_path: str | None,
                           as_of: datetime | None) -> duckdb.DuckDBPyConnection:
    """A lake connection; a reader of a lake an older akhbar wrote brings it up to date first, as for files."""
    con = connect_lake(db, read_only=read_only, data_path=data_path, as_of=as_of)
    if read_only and as_of is None and _schema_behind(con):
        con.close()
        writer = connect_lake(db, read_only=False, data_path=data_path)
        try:
            lake_retrying(lambda: migrate(writer), what="migrate", transient=LAKE_SETUP_RACE)
        finally:
            writer.close()
        con = connect_lake(db, read_only=True, data_path=data_path)
    return con


def _schema_behind(con: duckdb.DuckDBPyConnection) -> bool:
    try:
        row = con.execute("SELECT max(version) FROM schema_migrations").fetchone()
    except duckdb.CatalogException:
        return False  # not an akhbar warehouse (or an empty file): nothing to migrate for a reader
    return row is None or row[0] is None or row[0] < migrations()[-1][0]


def _open_waiting(
    path: Path,
    read_only: bool,
    wait_seconds: float,
    on_wait: Callable[[str], None] | None,
    row_group_rows: int | None,
) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + wait_seconds
    delay = 0.2
    warned = False
    while True:
        try:
            return _open_once(path, read_only, row_group_rows)
        except duckdb.IOException as exc:
            if not LOCK_ERROR.search(str(exc)):
                raise storage_problem(exc, path) or WarehouseError(f"cannot open {path}: {exc}") from None
            holder = _holder(str(exc))
            if time.monotonic() >= deadline:
                raise WarehouseLocked(
                    f"{path} is locked by another process ({holder}) for more than {wait_seconds:.0f}s; "
                    "close that program (a duckdb shell or notebook holding it open) and run again"
                ) from None
            if not warned:
                (on_wait or log.warning)(f"{path} is in use by another process ({holder}); waiting for it "
                                         f"(up to {wait_seconds:.0f}s)...")
                warned = True
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)
        except duckdb.Error as exc:  # a damaged file can fail to open in other ways than I/O errors
            raise storage_problem(exc, path) or exc from None


def _holder(message: str) -> str:
    m = re.search(r"PID (\d+)", message)
    return f"PID {m.group(1)}" if m else "another program"


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction on an open connection: committed when the block ends, rolled back when it raises."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every migration in warehouse/schema, in order."""
    folder = resources.files("warehouse").joinpath("schema")
    found = []
    for entry in folder.iterdir():
        numbered = re.match(r"(\d+)_.*\.sql$", entry.name)
        if numbered:
            found.append((int(numbered.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def is_lake_connection(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the connection's default catalog is a DuckLake."""
    row = con.execute(CURRENT_CATALOG_TYPE).fetchone()
    return row is not None and row[0] == "ducklake"


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply the migrations not applied yet, each in its own transaction; returns the versions applied now.
    On a lake each is applied in DuckLake's dialect (warehouse/lake_location.py: lake_dialect)."""
    dialect = lake_dialect if is_lake_connection(con) else (lambda sql: sql)
    con.execute(dialect(CREATE_MIGRATIONS_TABLE))
    done = {v for (v,) in con.execute(APPLIED_MIGRATIONS).fetchall()}
    applied = []
    for version, name, sql in migrations():
        if version in done:
            continue
        with transaction(con):
            con.execute(dialect(sql))
            con.execute(RECORD_MIGRATION, [version, name, datetime.now(UTC)])
        applied.append(version)
    return applied


def one_row(con: duckdb.DuckDBPyConnection, sql: str, params: object = None) -> tuple[Any, ...]:
    """The row of a query that always returns exactly one (aggregates without GROUP BY)."""
    row = con.execute(sql, params).fetchone()
    if row is None:
        raise WarehouseError(f"no row from {sql.strip().splitlines()[0]!r}")
    return row


T = TypeVar("T")

# What a lake commit that lost a race says: a logical conflict DuckLake could not settle itself (two updates of
# writer_turn), or the SQLite catalog busy with another writer's commit.
LAKE_CONFLICT = re.compile(r"conflict|database is locked|could not serialize|maximum retry count", re.I)
# Two processes creating one new lake at once race in DuckLake's own set-up (measured: "Failed to load DuckLake
# - Table entry "runs" does not have any columns"), or a migration finds its table just made by the other; the
# set-up and the migrations are idempotent, so they are run again on those failures.
LAKE_SETUP_RACE = re.compile(LAKE_CONFLICT.pattern + r"|does not have any columns|with name \S+ already exists", re.I)
LAKE_WRITE_ATTEMPTS = 12  # with the back-off below, about 40 s of another writer's commits before giving up


def lake_retrying(write: Callable[[], T], *, what: str, attempts: int = LAKE_WRITE_ATTEMPTS,
                  transient: re.Pattern[str] = LAKE_CONFLICT) -> T:
    """`write()` (one whole transaction, opened and committed inside it), run again after a randomised, growing
    pause when it failed in a way `transient` matches (its commit lost a race with another writer of the lake);
    WarehouseError when it keeps failing."""
    delay = 0.1
    for attempt in range(1, attempts + 1):
        try:
            return write()
        except (duckdb.Error, WarehouseError) as exc:
            if not transient.search(str(exc)):
                raise
            if attempt == attempts:
                raise WarehouseError(f"{what}: the lake refused the commit {attempts} times ({first_line(exc, 200)}); "
                                     "other writers keep it busy: run again") from None
            log.warning("lake commit retried (%s, attempt %d): %s", what, attempt, first_line(exc, 200))
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 5.0)
    raise AssertionError("unreachable")


# Every write transaction on a lake updates this one row first (migration 017): DuckLake lets transactions that
# only insert into a table commit side by side, two updates of one row conflict, so writes are ordered.
TAKE_WRITER_TURN = "UPDATE writer_turn SET turn = turn + 1"


@contextmanager
def writing(db: str | Path, *, data_path: str | None = None, wait_seconds: float = 300.0,
            on_wait: Callable[[str], None] | None = None,
            row_group_rows: int | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """One write transaction on the warehouse `db`, committed when the block ends (a lake's takes the writer turn
    first); the warehouse is closed after. A lake commit that loses a race raises: write_transaction retries."""
    con = connect(db, data_path=data_path, wait_seconds=wait_seconds, on_wait=on_wait, row_group_rows=row_group_rows)
    try:
        with transaction(con):
            if is_lake(db):
                con.execute(TAKE_WRITER_TURN)
            yield con
    finally:
        con.close()


def write_transaction(db: str | Path, work: Callable[[duckdb.DuckDBPyConnection], T], *, what: str,
                      data_path: str | None = None, wait_seconds: float = 300.0,
                      on_wait: Callable[[str], None] | None = None, row_group_rows: int | None = None) -> T:
    """`work(con)` in one write transaction on the warehouse `db` (see `writing`), run again, whole, on a lake
    when its commit loses a race with another writer."""
    def once() -> T:
        with writing(db, data_path=data_path, wait_seconds=wait_seconds, on_wait=on_wait,
                     row_group_rows=row_group_rows) as con:
            return work(con)

    return lake_retrying(once, what=what) if is_lake(db) else once()
