"""The DuckDB warehouse: connection (waiting politely for the file lock), migrations and bulk idempotent loads.

The file is held open only while writing, so people can query between loads. All loads are Arrow bulk
inserts inside one transaction per batch; re-loading the same articles changes no row counts.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from extractors.config import Source
from extractors.types import FetchLogRow, ProcessedArticle

log = logging.getLogger("akhbar.warehouse")

DEFAULT_DB_PATH = "data/akhbar.duckdb"
LOCK_ERROR = re.compile(r"Could not set lock|Conflicting lock|database is locked|lock on file", re.I)


class WarehouseError(RuntimeError):
    """A warehouse problem the user can act on; the message says what to do."""


class WarehouseLocked(WarehouseError):
    pass


def _sql_files(package: str) -> dict[str, str]:
    folder = resources.files("warehouse").joinpath(package)
    return {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir() if p.name.endswith(".sql")}


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every migration in warehouse/schema, in order."""
    out = []
    for name, sql in _sql_files("schema").items():
        m = re.match(r"(\d+)_", name)
        if m:
            out.append((int(m.group(1)), name, sql))
    return sorted(out)


def connect(
    path: str | Path,
    *,
    read_only: bool = False,
    wait_seconds: float = 300.0,
    on_wait: Callable[[str], None] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file, waiting up to `wait_seconds` while another process holds its lock."""
    path = Path(path)
    if read_only and not path.exists():
        raise WarehouseError(f"no database at {path}: run `akhbar ingest` or `akhbar demo` first, or pass --db")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    delay = 0.2
    warned = False
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            con.execute("SET TimeZone = 'UTC'")
            return con
        except duckdb.IOException as exc:
            if not LOCK_ERROR.search(str(exc)):
                raise WarehouseError(f"cannot open {path}: {exc}") from None
            if time.monotonic() >= deadline:
                raise WarehouseLocked(
                    f"{path} is locked by another process ({_holder(str(exc))}) for more than {wait_seconds:.0f}s; "
                    "close that program (a duckdb shell or notebook holding it open) and run again"
                ) from None
            if not warned:
                msg = (f"{path} is in use by another process ({_holder(str(exc))}); waiting for it "
                       f"(up to {wait_seconds:.0f}s)...")
                (on_wait or log.warning)(msg)
                warned = True
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)


def _holder(message: str) -> str:
    m = re.search(r"PID (\d+)", message)
    return f"PID {m.group(1)}" if m else "another program"


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply the migrations not applied yet; returns the versions applied now."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ)"
    )
    done = {v for (v,) in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for version, name, sql in migrations():
        if version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, name, datetime.now(timezone.utc)])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied


UPSERT_SOURCE = """
INSERT INTO sources VALUES ($name, $homepage, $feeds, $sitemaps, $max_articles, $requests_per_second,
                            $max_concurrency, $timezone, now())
ON CONFLICT (name) DO UPDATE SET homepage = excluded.homepage, feeds = excluded.feeds,
    sitemaps = excluded.sitemaps, max_articles = excluded.max_articles,
    requests_per_second = excluded.requests_per_second, max_concurrency = excluded.max_concurrency,
    timezone = excluded.timezone, updated_at = excluded.updated_at
"""

START_RUN = """
INSERT INTO runs (run_id, flow, started_at, status, parameters) VALUES (?, ?, ?, 'running', ?)
ON CONFLICT (run_id) DO UPDATE SET status = 'running'
"""

FINISH_RUN = """
UPDATE runs SET finished_at = ?, discovered = ?, fetched = ?, stored = ?, failed = ?, status = ? WHERE run_id = ?
"""

ARTICLE_COLUMNS = (
    "article_id, url, source, title, author, published_at, language, text, content_hash, fetched_at, credit, "
    "description, categories, tags, image, modified_at, published_evidence, final_url, ner_backend, "
    "first_stored_at, updated_at, run_id"
)

UPSERT_ARTICLES = f"""
INSERT INTO articles ({ARTICLE_COLUMNS})
SELECT {ARTICLE_COLUMNS} FROM batch_articles
ON CONFLICT (article_id) DO UPDATE SET
    url = excluded.url, title = excluded.title, author = excluded.author, published_at = excluded.published_at,
    language = excluded.language, text = excluded.text, content_hash = excluded.content_hash,
    fetched_at = excluded.fetched_at, credit = excluded.credit, description = excluded.description,
    categories = excluded.categories, tags = excluded.tags, image = excluded.image,
    modified_at = excluded.modified_at, published_evidence = excluded.published_evidence,
    final_url = excluded.final_url, ner_backend = excluded.ner_backend, updated_at = excluded.updated_at,
    run_id = excluded.run_id
"""

# Entity keys touched by this batch: before (old mentions) and after (new mentions) the replacement.
TOUCHED_ENTITIES = """
CREATE OR REPLACE TEMP TABLE touched_entities AS
SELECT DISTINCT canonical, entity_type FROM mentions WHERE article_id IN (SELECT article_id FROM batch_tagged)
UNION
SELECT DISTINCT canonical, entity_type FROM batch_mentions
"""

REPLACE_MENTIONS = """
DELETE FROM mentions WHERE article_id IN (SELECT article_id FROM batch_tagged);
INSERT INTO mentions SELECT article_id, entity_type, text, canonical, start, "end", backend FROM batch_mentions;
"""

REFRESH_ENTITIES = """
DELETE FROM entities WHERE (canonical, entity_type) IN (SELECT canonical, entity_type FROM touched_entities);
INSERT INTO entities
SELECT m.canonical, m.entity_type,
       mode(m.text) AS display,
       min(coalesce(a.published_at, a.fetched_at)) AS first_seen,
       max(coalesce(a.published_at, a.fetched_at)) AS last_seen,
       count(*) AS mention_count,
       count(DISTINCT m.article_id) AS article_count
FROM mentions m JOIN articles a USING (article_id)
WHERE (m.canonical, m.entity_type) IN (SELECT canonical, entity_type FROM touched_entities)
GROUP BY m.canonical, m.entity_type;
"""

KNOWN_ARTICLES = "SELECT article_id FROM articles WHERE article_id IN (SELECT unnest(?))"

_ARTICLE_SCHEMA = pa.schema([
    ("article_id", pa.string()), ("url", pa.string()), ("source", pa.string()), ("title", pa.string()),
    ("author", pa.string()), ("published_at", pa.timestamp("us", tz="UTC")), ("language", pa.string()),
    ("text", pa.string()), ("content_hash", pa.string()), ("fetched_at", pa.timestamp("us", tz="UTC")),
    ("credit", pa.string()), ("description", pa.string()), ("categories", pa.list_(pa.string())),
    ("tags", pa.list_(pa.string())), ("image", pa.string()), ("modified_at", pa.timestamp("us", tz="UTC")),
    ("published_evidence", pa.string()), ("final_url", pa.string()), ("ner_backend", pa.string()),
    ("first_stored_at", pa.timestamp("us", tz="UTC")), ("updated_at", pa.timestamp("us", tz="UTC")),
    ("run_id", pa.string()),
])
_MENTION_SCHEMA = pa.schema([
    ("article_id", pa.string()), ("entity_type", pa.string()), ("text", pa.string()), ("canonical", pa.string()),
    ("start", pa.int32()), ("end", pa.int32()), ("backend", pa.string()),
])
_FETCH_SCHEMA = pa.schema([
    ("url", pa.string()), ("source", pa.string()), ("kind", pa.string()), ("status", pa.int32()),
    ("error", pa.string()), ("fetched_at", pa.timestamp("us", tz="UTC")), ("run_id", pa.string()),
    ("elapsed_ms", pa.float64()), ("final_url", pa.string()), ("content_type", pa.string()), ("bytes", pa.int64()),
])


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def articles_table(items: Sequence[ProcessedArticle], run_id: str | None) -> pa.Table:
    now = datetime.now(timezone.utc)
    cols: dict[str, list[Any]] = {f.name: [] for f in _ARTICLE_SCHEMA}
    for it in items:
        a = it.article
        row = {
            "article_id": it.article_id, "url": it.url, "source": it.source, "title": a.title, "author": a.author,
            "published_at": _utc(a.published_at), "language": a.language, "text": a.text,
            "content_hash": it.content_hash, "fetched_at": _utc(it.fetched_at), "credit": a.credit,
            "description": a.description, "categories": list(a.categories or []), "tags": list(a.tags or []),
            "image": a.image, "modified_at": _utc(a.modified_at), "published_evidence": a.published_evidence,
            "final_url": it.final_url, "ner_backend": it.backend, "first_stored_at": now, "updated_at": now,
            "run_id": run_id,
        }
        for k, v in row.items():
            cols[k].append(v)
    return pa.table(cols, schema=_ARTICLE_SCHEMA)


def mentions_table(items: Sequence[ProcessedArticle]) -> pa.Table:
    cols: dict[str, list[Any]] = {f.name: [] for f in _MENTION_SCHEMA}
    for it in items:
        for m in it.mentions or ():
            for k, v in (("article_id", it.article_id), ("entity_type", m.entity_type), ("text", m.text),
                         ("canonical", m.canonical), ("start", m.start), ("end", m.end),
                         ("backend", it.backend)):
                cols[k].append(v)
    return pa.table(cols, schema=_MENTION_SCHEMA)


def fetches_table(rows: Sequence[FetchLogRow], run_id: str | None) -> pa.Table:
    cols: dict[str, list[Any]] = {f.name: [] for f in _FETCH_SCHEMA}
    for r in rows:
        for k, v in (("url", r.url), ("source", r.source), ("kind", r.kind), ("status", r.status),
                     ("error", r.error), ("fetched_at", _utc(r.fetched_at)), ("run_id", run_id),
                     ("elapsed_ms", r.elapsed_ms), ("final_url", r.final_url), ("content_type", r.content_type),
                     ("bytes", r.bytes)):
            cols[k].append(v)
    return pa.table(cols, schema=_FETCH_SCHEMA)


@dataclass(slots=True)
class LoadCounts:
    articles: int = 0
    mentions: int = 0
    fetches: int = 0


class Warehouse:
    """The akhbar DuckDB file. Every method opens the file, does its work in one transaction and closes it."""

    def __init__(self, path: str | Path = DEFAULT_DB_PATH, *, wait_seconds: float = 300.0,
                 on_wait: Callable[[str], None] | None = None) -> None:
        self.path = Path(path)
        self.wait_seconds = wait_seconds
        self.on_wait = on_wait

    @contextmanager
    def connection(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        con = connect(self.path, read_only=read_only, wait_seconds=self.wait_seconds, on_wait=self.on_wait)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.connection() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def migrate(self) -> list[int]:
        with self.connection() as con:
            return migrate(con)

    def upsert_sources(self, sources: Sequence[Source]) -> None:
        with self.transaction() as con:
            for s in sources:
                con.execute(UPSERT_SOURCE, s.settings_dict())

    def start_run(self, run_id: str, flow: str, parameters: dict[str, Any]) -> None:
        with self.transaction() as con:
            con.execute(START_RUN, [run_id, flow, datetime.now(timezone.utc),
                                    json.dumps(parameters, ensure_ascii=False, default=str)])

    def finish_run(self, run_id: str, *, discovered: int, fetched: int, stored: int, failed: int,
                   status: str = "completed") -> None:
        with self.transaction() as con:
            con.execute(FINISH_RUN, [datetime.now(timezone.utc), discovered, fetched, stored, failed, status, run_id])

    def known_article_ids(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        with self.connection() as con:
            return {r[0] for r in con.execute(KNOWN_ARTICLES, [list(ids)]).fetchall()}

    def load(self, articles: Sequence[ProcessedArticle], fetch_rows: Sequence[FetchLogRow],
             run_id: str | None) -> LoadCounts:
        """Upsert articles, replace their mentions, refresh their entities and append the fetch log: one
        transaction, so a crash leaves either the whole batch or none of it."""
        counts = LoadCounts(fetches=len(fetch_rows))
        # The same URL twice in one batch would violate the key; keep the last version.
        unique = list({a.article_id: a for a in articles}.values())
        batch_articles = articles_table(unique, run_id)
        tagged = [a for a in unique if a.mentions is not None]
        batch_mentions = mentions_table(tagged)
        batch_tagged = pa.table({"article_id": pa.array([a.article_id for a in unique], pa.string())})
        batch_fetches = fetches_table(fetch_rows, run_id)
        with self.transaction() as con:
            con.register("batch_articles", batch_articles)
            con.register("batch_mentions", batch_mentions)
            con.register("batch_tagged", batch_tagged)
            con.register("batch_fetches", batch_fetches)
            if unique:
                con.execute(TOUCHED_ENTITIES)
                con.execute(UPSERT_ARTICLES)
                con.execute(REPLACE_MENTIONS)
                con.execute(REFRESH_ENTITIES)
            if fetch_rows:
                con.execute("INSERT INTO fetches BY NAME SELECT * FROM batch_fetches")
            for name in ("batch_articles", "batch_mentions", "batch_tagged", "batch_fetches"):
                con.unregister(name)
        counts.articles = len(unique)
        counts.mentions = batch_mentions.num_rows
        return counts
