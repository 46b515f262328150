"""The columns of every warehouse table, defined once: name, SQL type and Arrow type.

The migrations in warehouse/schema/*.sql stay the source of the DDL (databases are migrated in place); these
specs describe the resulting tables, in their column order, and generate what the code needs from them: the
Arrow schema of a batch, the column list of an INSERT or SELECT, an upsert (MERGE).
tests/test_warehouse.py compares every spec with `DESCRIBE <table>` on a freshly migrated database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True, slots=True)
class ColumnType:
    """A column type in both worlds: as DuckDB's DESCRIBE names it, and as Arrow holds it."""

    sql: str
    arrow: pa.DataType


VARCHAR = ColumnType("VARCHAR", pa.string())
VARCHAR_LIST = ColumnType("VARCHAR[]", pa.list_(pa.string()))
TIMESTAMPTZ = ColumnType("TIMESTAMP WITH TIME ZONE", pa.timestamp("us", tz="UTC"))
TINYINT = ColumnType("TINYINT", pa.int8())
INTEGER = ColumnType("INTEGER", pa.int32())
BIGINT = ColumnType("BIGINT", pa.int64())
DOUBLE = ColumnType("DOUBLE", pa.float64())
BOOLEAN = ColumnType("BOOLEAN", pa.bool_())
BLOB = ColumnType("BLOB", pa.binary())


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: ColumnType


def quoted(name: str) -> str:
    """A name as a SQL identifier (some column names, such as "end", are keywords)."""
    return '"' + name.replace('"', '""') + '"'


def sql_literal(text: str) -> str:
    """`text` as a quoted SQL string literal, for the statements that take no parameters (ATTACH, SET, macros)."""
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One warehouse table: its name and its columns in table order."""

    name: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def arrow_schema(self, *, without: Iterable[str] = ()) -> pa.Schema:
        """The Arrow schema of rows of this table (optionally without some columns)."""
        skip = set(without)
        return pa.schema([(c.name, c.type.arrow) for c in self.columns if c.name not in skip])

    def column_list(self, *, prefix: str = "", without: Iterable[str] = ()) -> str:
        """`"a", "b", ...` for INSERT and SELECT lists; `prefix` qualifies each name (`t.`)."""
        skip = set(without)
        return ", ".join(prefix + quoted(c.name) for c in self.columns if c.name not in skip)

    def parameter_row(self, *, given: dict[str, str] | None = None) -> str:
        """`(SELECT $a::TYPE AS "a", ...)`: one row of this table from named query parameters, a MERGE source;
        `given` replaces a column's parameter with an SQL expression (`now()`)."""
        given = given or {}
        fields = ", ".join(f"{given.get(c.name, f'${c.name}::{c.type.sql}')} AS {quoted(c.name)}" for c in self.columns)
        return f"(SELECT {fields})"

    def merge(self, source: str, *, key: Iterable[str], keep: Iterable[str] = (), update: bool = True) -> str:
        """`MERGE INTO` this table from `source` (a table name or a parenthesised SELECT with this table's column
        names) on `key`: matched rows get every column but `key` and `keep` (unless update=False: left as they
        are), the others are inserted. MERGE, not INSERT ... ON CONFLICT, because a DuckLake warehouse has no
        primary keys to conflict on; the same statement serves both forms."""
        keys, kept = tuple(key), set(keep) | set(key)
        on = " AND ".join(f"t.{quoted(k)} = s.{quoted(k)}" for k in keys)
        assignments = ", ".join(f"{quoted(c.name)} = s.{quoted(c.name)}" for c in self.columns if c.name not in kept)
        matched = f"WHEN MATCHED THEN UPDATE SET {assignments}\n" if update and assignments else ""
        return (f"MERGE INTO {self.name} AS t USING {source} AS s ON {on}\n{matched}"
                f"WHEN NOT MATCHED THEN INSERT ({self.column_list()}) VALUES ({self.column_list(prefix='s.')})")


def _spec(name: str, *columns: tuple[str, ColumnType]) -> TableSpec:
    return TableSpec(name, tuple(Column(n, t) for n, t in columns))


SOURCES = _spec(
    "sources",
    ("name", VARCHAR), ("homepage", VARCHAR), ("feeds", VARCHAR_LIST), ("sitemaps", VARCHAR_LIST),
    ("max_articles", INTEGER), ("requests_per_second", DOUBLE), ("max_concurrency", INTEGER), ("timezone", VARCHAR),
    ("updated_at", TIMESTAMPTZ),
)

ARTICLES = _spec(
    "articles",
    ("article_id", VARCHAR), ("url", VARCHAR), ("source", VARCHAR), ("title", VARCHAR), ("author", VARCHAR),
    ("published_at", TIMESTAMPTZ), ("language", VARCHAR), ("text", VARCHAR), ("content_hash", VARCHAR),
    ("fetched_at", TIMESTAMPTZ), ("credit", VARCHAR), ("description", VARCHAR), ("categories", VARCHAR_LIST),
    ("tags", VARCHAR_LIST), ("image", VARCHAR), ("modified_at", TIMESTAMPTZ), ("published_evidence", VARCHAR),
    ("final_url", VARCHAR), ("ner_backend", VARCHAR), ("first_stored_at", TIMESTAMPTZ), ("updated_at", TIMESTAMPTZ),
    ("run_id", VARCHAR), ("minhash", BLOB), ("story_id", VARCHAR),
)

MENTIONS = _spec(
    "mentions",
    ("article_id", VARCHAR), ("entity_type", VARCHAR), ("text", VARCHAR), ("canonical", VARCHAR),
    ("start", INTEGER), ("end", INTEGER), ("backend", VARCHAR),
)

ENTITIES = _spec(
    "entities",
    ("canonical", VARCHAR), ("entity_type", VARCHAR), ("display", VARCHAR), ("first_seen", TIMESTAMPTZ),
    ("last_seen", TIMESTAMPTZ), ("mention_count", BIGINT), ("article_count", BIGINT),
)

FETCHES = _spec(
    "fetches",
    ("url", VARCHAR), ("source", VARCHAR), ("kind", VARCHAR), ("status", INTEGER), ("error", VARCHAR),
    ("fetched_at", TIMESTAMPTZ), ("run_id", VARCHAR), ("elapsed_ms", DOUBLE), ("final_url", VARCHAR),
    ("content_type", VARCHAR), ("bytes", BIGINT), ("final", BOOLEAN), ("replaced_bytes", INTEGER),
    ("cut", VARCHAR),
)

RUNS = _spec(
    "runs",
    ("run_id", VARCHAR), ("flow", VARCHAR), ("started_at", TIMESTAMPTZ), ("finished_at", TIMESTAMPTZ),
    ("discovered", INTEGER), ("fetched", INTEGER), ("stored", INTEGER), ("failed", INTEGER), ("status", VARCHAR),
    ("parameters", VARCHAR), ("ner_backend", VARCHAR), ("ner_model", VARCHAR),
)

STORY_BANDS = _spec("story_bands", ("article_id", VARCHAR), ("band", TINYINT), ("key", BIGINT))

RAW_PAGES = _spec(
    "raw_pages",
    ("article_id", VARCHAR), ("url", VARCHAR), ("source", VARCHAR), ("final_url", VARCHAR),
    ("fetched_at", TIMESTAMPTZ), ("status", INTEGER), ("content_type", VARCHAR), ("encoding", VARCHAR),
    ("hint_published_at", TIMESTAMPTZ), ("html_zlib", BLOB),
)

FEED_STATE = _spec(
    "feed_state",
    ("url", VARCHAR), ("etag", VARCHAR), ("last_modified", VARCHAR), ("body_sha256", VARCHAR),
    ("checked_at", TIMESTAMPTZ),
)

URL_ALIASES = _spec("url_aliases", ("alias_id", VARCHAR), ("url", VARCHAR), ("article_id", VARCHAR))

WRITER_TURN = _spec("writer_turn", ("turn", BIGINT))

LOAD_JOURNAL = _spec("load_journal", ("load_id", VARCHAR), ("started_at", TIMESTAMPTZ), ("article_ids", VARCHAR_LIST))

ENTITY_ALIASES = _spec(
    "entity_aliases",
    ("variant", VARCHAR), ("canonical", VARCHAR), ("variant_written", VARCHAR), ("canonical_written", VARCHAR),
    ("origin", VARCHAR), ("added_at", TIMESTAMPTZ),
)

ALL_TABLES = (SOURCES, ARTICLES, MENTIONS, ENTITIES, FETCHES, RUNS, STORY_BANDS, RAW_PAGES, FEED_STATE,
              URL_ALIASES, LOAD_JOURNAL, ENTITY_ALIASES, WRITER_TURN)
