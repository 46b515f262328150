"""Named queries (warehouse/queries/*.sql) and read-only query execution.

A named query file starts with a comment line describing it and a `-- params: a=default, b=` line; its SQL
uses DuckDB named parameters ($a, $b). Values always travel as query parameters, never into the SQL text.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from extractors.entities.base import ENTITY_TYPES
from warehouse.connection import WarehouseError, connect, is_lake
from warehouse.errors import first_line
from warehouse.lake_location import connect_lake

_PARAMS_LINE = re.compile(r"^--\s*params:\s*(.*)$", re.M)
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class QueryArgumentError(ValueError):
    """A named query asked for wrongly (no such query or parameter, a missing or impossible value): bad usage."""


class QueryError(WarehouseError):
    pass


@dataclass(frozen=True, slots=True)
class NamedQuery:
    name: str
    description: str
    sql: str
    defaults: dict[str, str]


def _parse(name: str, sql: str) -> NamedQuery:
    first = sql.lstrip().splitlines()[0] if sql.strip() else ""
    description = first[2:].strip() if first.startswith("--") else ""
    defaults: dict[str, str] = {}
    m = _PARAMS_LINE.search(sql)
    if m:
        for item in filter(None, (p.strip() for p in m.group(1).split(","))):
            key, _, value = item.partition("=")
            defaults[key.strip()] = value.strip()
    return NamedQuery(name=name, description=description, sql=sql, defaults=defaults)


def named_queries() -> dict[str, NamedQuery]:
    folder = resources.files("warehouse").joinpath("queries")
    out = {}
    for p in folder.iterdir():
        if p.name.endswith(".sql"):
            name = p.name[:-4]
            out[name] = _parse(name, p.read_text(encoding="utf-8"))
    return dict(sorted(out.items()))


def resolve(name_or_sql: str, params: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """SQL and parameter values for a named query (defaults filled in) or raw SQL."""
    queries = named_queries()
    if name_or_sql in queries:
        q = queries[name_or_sql]
        unknown = set(params) - set(q.defaults)
        if unknown:
            raise QueryArgumentError(f"query {q.name!r} has no parameter {', '.join(sorted(unknown))}; "
                             f"its parameters are: {', '.join(q.defaults) or 'none'}")
        values = {**q.defaults, **params}
        missing = [k for k, v in values.items() if v == "" and k in _required(q)]
        if missing:
            raise QueryArgumentError(f"query {q.name!r} needs --param {missing[0]}=VALUE")
        _check_values(values)
        return q.sql, values
    if _NAME.match(name_or_sql):
        raise QueryArgumentError(f"no named query {name_or_sql!r}; named queries: {', '.join(queries)} (or pass SQL)")
    return name_or_sql, dict(params)


def _check_values(values: dict[str, str]) -> None:
    """Parameters whose wrong value would silently match nothing or fail inside the SQL."""
    entity_type = values.get("type", "").strip().upper()
    if entity_type and entity_type not in ENTITY_TYPES:
        near = difflib.get_close_matches(entity_type, ENTITY_TYPES, n=1, cutoff=0.5)
        hint = f"did you mean {near[0]}? " if near else ""
        raise QueryArgumentError(f"--param type={values['type']}: {hint}entity types are {', '.join(ENTITY_TYPES)}")
    for key in ("limit", "days"):
        if key in values and not (values[key].isdigit() and int(values[key]) >= 1):
            raise QueryArgumentError(f"--param {key}={values[key]}: must be a whole number of at least 1")


def _required(q: NamedQuery) -> set[str]:
    m = re.search(r"^--\s*required:\s*(.*)$", q.sql, re.M)
    return {p.strip() for p in m.group(1).split(",")} if m else set()


# Locked: the SQL that follows cannot switch file access back on.
NO_FILE_ACCESS = "SET enable_external_access = false; SET lock_configuration = true"
# A lake's tables are Parquet files under its data path: that one directory (or URL prefix) stays readable.
LAKE_DATA_PATH = "SELECT data_path FROM ducklake_settings(current_database())"
ALLOW_DIRECTORY = "SET allowed_directories = [$1]"


# `EXPLAIN [ANALYZE]` in front of a statement: ANALYZE runs it, so what follows must be a read too
EXPLAIN_PREFIX = re.compile(r"^\s*EXPLAIN\s+(ANALYZE\s+)?", re.I)
READ_ONLY_SQL = ("on a ducklake: warehouse, akhbar query runs SELECT statements only (and EXPLAIN of one), not "
                 "{kind}: write with SELECT, or pass --allow-files to let the SQL write files")


# DuckLake's maintenance functions change files even when called in a SELECT on a read-only attach (measured:
# ducklake_cleanup_old_files deleted a file, then failed to record it; ducklake_delete_orphaned_files would delete
# the files an in-flight writer has not committed yet)
LAKE_MAINTENANCE = re.compile(r"\bducklake_(cleanup|delete|expire|merge|rewrite|flush|set|add)\w*\s*\(", re.I)
LAKE_MAINTENANCE_SQL = ("akhbar query does not run DuckLake's maintenance functions ({name}): run them in a DuckDB "
                        "session of their own (docs/SCALING.md), or pass --allow-files")


def is_read(con: duckdb.DuckDBPyConnection, statement: duckdb.Statement) -> bool:
    """Whether a parsed statement only reads: a SELECT (DESCRIBE, SHOW, SUMMARIZE, FROM ... are SELECTs to
    DuckDB), or an EXPLAIN of one."""
    if statement.type == duckdb.StatementType.SELECT:
        return True
    if statement.type != duckdb.StatementType.EXPLAIN:
        return False
    explained = EXPLAIN_PREFIX.sub("", statement.query, count=1)
    if explained == statement.query:  # a comment before EXPLAIN, ...: not worth guessing
        return False
    inner = con.extract_statements(explained)
    return len(inner) == 1 and inner[0].type == duckdb.StatementType.SELECT


def refuse_writes(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """QueryArgumentError unless every statement of `sql` only reads. On a lake, the files under its data path
    stay reachable (its tables are those files), and DuckDB lets a read-only connection write there (COPY ... TO
    a table's Parquet file): only reads go."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(f"query failed: {first_line(exc)}") from None
    for statement in statements:
        if not is_read(con, statement):
            raise QueryArgumentError(READ_ONLY_SQL.format(kind=statement.type.name))
    maintenance = LAKE_MAINTENANCE.search(sql)
    if maintenance:
        raise QueryArgumentError(LAKE_MAINTENANCE_SQL.format(name=maintenance.group(0).rstrip("( ")))


def lake_data_path(db: str) -> str | None:
    """The data path a lake's catalog holds, None when there is no lake at `db` yet (or it cannot be read now:
    whoever opens it next says why)."""
    try:
        con = connect_lake(db, read_only=True)
    except WarehouseError:
        return None
    try:
        row = con.execute(LAKE_DATA_PATH).fetchone()
    except duckdb.Error:
        return None
    finally:
        con.close()
    return str(row[0]) if row and row[0] else None


def same_data_path(given: str, held: str) -> bool:
    """Whether `--data-path` names the data path a lake holds, as DuckLake compares them: a local path made
    absolute (against the working directory), with one trailing slash."""
    if "://" not in given:
        given = os.path.abspath(given)
    return given.rstrip("/") + "/" == held.rstrip("/") + "/"


def forbid_file_access(con: duckdb.DuckDBPyConnection, db_path: str | Path) -> None:
    """Let the SQL run on `con` reach nothing but the warehouse (for a lake, its own data files, to read)."""
    if is_lake(db_path):
        row = con.execute(LAKE_DATA_PATH).fetchone()
        if row and row[0]:
            con.execute(ALLOW_DIRECTORY, [row[0]])
    con.execute(NO_FILE_ACCESS)


def run_query(db_path: str | Path, name_or_sql: str, params: dict[str, str] | None = None,
              wait_seconds: float = 30.0, *, allow_files: bool = False,
              as_of: datetime | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run a named query or raw SQL on a read-only connection; returns (column names, rows). `as_of`: on a
    `ducklake:` warehouse, read the snapshot of that moment (warehouse/connection.py: connect).

    Unless `allow_files`, the SQL can reach nothing but the database: a read-only connection still lets DuckDB
    read any local file (read_text, read_csv), write one (COPY ... TO), attach or install extensions."""
    sql, values = resolve(name_or_sql, params or {})
    con = connect(db_path, read_only=True, wait_seconds=wait_seconds, as_of=as_of)
    try:
        if not allow_files:
            if is_lake(db_path):
                refuse_writes(con, sql)
            forbid_file_access(con, db_path)
        try:
            cur = con.execute(sql, values or None)
        except duckdb.PermissionException:
            raise QueryError("this SQL reads or writes files outside the database; run it with --allow-files "
                             "if that is what you want") from None
        except Exception as exc:  # duckdb raises many error types; all are the user's query problem here
            raise QueryError(f"query failed: {first_line(exc)}") from None  # not DuckDB's echo of the SQL
        if cur.description is None:
            return [], []
        cols = [d[0] for d in cur.description]
        return cols, cur.fetchall()
    finally:
        con.close()
