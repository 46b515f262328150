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
from extractors.dedup import NEAR_DUPLICATE_SIMILARITY, band_keys, similarity
from extractors.types import FetchLogRow, ProcessedArticle, RawPage
from extractors.urls import article_id as article_id_of

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
            if not read_only:
                # Loads are small bulk transactions next to CPU-bound extraction workers: one DuckDB thread
                # avoids fighting them for the cores (measured in benchmarks/pipeline.py).
                con.execute("SET threads = 1")
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

# A source name used by ingest-urls: recorded if new, never overwriting a configured source's settings.
ENSURE_SOURCE = """
INSERT INTO sources VALUES ($name, $homepage, $feeds, $sitemaps, $max_articles, $requests_per_second,
                            $max_concurrency, $timezone, now())
ON CONFLICT (name) DO NOTHING
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
    "first_stored_at, updated_at, run_id, minhash, story_id"
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
    run_id = excluded.run_id, minhash = excluded.minhash, story_id = excluded.story_id
"""

# Stories with a stored article sharing an LSH band with an article of the batch, and their first copy's
# signature: near-duplicate candidates are compared with the story's first copy only, so a popular story
# costs one comparison, not one per copy.
STORY_CANDIDATES = """
WITH hits AS (
    SELECT DISTINCT b.article_id AS batch_id, a.story_id
    FROM batch_bands b
    JOIN story_bands s ON s.band = b.band AND s.key = b.key
    JOIN articles a ON a.article_id = s.article_id
    WHERE a.article_id <> b.article_id AND a.story_id IS NOT NULL
)
SELECT h.batch_id, h.story_id, r.minhash
FROM hits h JOIN articles r ON r.article_id = h.story_id
"""

EXISTING_STORIES = """
SELECT article_id, story_id, minhash FROM articles WHERE article_id IN (SELECT article_id FROM batch_tagged)
"""

REPLACE_BANDS = """
DELETE FROM story_bands WHERE article_id IN (SELECT article_id FROM batch_tagged);
INSERT INTO story_bands SELECT article_id, band, key FROM batch_bands;
"""

UPSERT_RAW = """
INSERT OR REPLACE INTO raw_pages
SELECT article_id, url, source, final_url, fetched_at, status, content_type, encoding, hint_published_at, html_zlib
FROM batch_raw
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

RAW_PAGES_PAGE = """
SELECT article_id, url, source, final_url, fetched_at, status, content_type, encoding, hint_published_at, html_zlib
FROM raw_pages
WHERE article_id > $after AND ($source = '' OR source = $source)
ORDER BY article_id
LIMIT $limit
"""

SOURCE_TIMEZONES = "SELECT name, timezone FROM sources"

KNOWN_ARTICLES = """
SELECT article_id FROM articles WHERE article_id IN (SELECT unnest($ids))
UNION
SELECT alias_id FROM url_aliases WHERE alias_id IN (SELECT unnest($ids))
"""

INSERT_ALIASES = "INSERT OR IGNORE INTO url_aliases SELECT alias_id, url, article_id FROM batch_aliases"

_ARTICLE_SCHEMA = pa.schema([
    ("article_id", pa.string()), ("url", pa.string()), ("source", pa.string()), ("title", pa.string()),
    ("author", pa.string()), ("published_at", pa.timestamp("us", tz="UTC")), ("language", pa.string()),
    ("text", pa.string()), ("content_hash", pa.string()), ("fetched_at", pa.timestamp("us", tz="UTC")),
    ("credit", pa.string()), ("description", pa.string()), ("categories", pa.list_(pa.string())),
    ("tags", pa.list_(pa.string())), ("image", pa.string()), ("modified_at", pa.timestamp("us", tz="UTC")),
    ("published_evidence", pa.string()), ("final_url", pa.string()), ("ner_backend", pa.string()),
    ("first_stored_at", pa.timestamp("us", tz="UTC")), ("updated_at", pa.timestamp("us", tz="UTC")),
    ("run_id", pa.string()), ("minhash", pa.binary()), ("story_id", pa.string()),
])
_RAW_SCHEMA = pa.schema([
    ("article_id", pa.string()), ("url", pa.string()), ("source", pa.string()), ("final_url", pa.string()),
    ("fetched_at", pa.timestamp("us", tz="UTC")), ("status", pa.int32()), ("content_type", pa.string()),
    ("encoding", pa.string()), ("hint_published_at", pa.timestamp("us", tz="UTC")), ("html_zlib", pa.binary()),
])
_BAND_SCHEMA = pa.schema([("article_id", pa.string()), ("band", pa.int8()), ("key", pa.int64())])
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
            "run_id": run_id, "minhash": it.minhash or None, "story_id": it.story_id or it.article_id,
        }
        for k, v in row.items():
            cols[k].append(v)
    return pa.table(cols, schema=_ARTICLE_SCHEMA)


def raw_table(items: Sequence[ProcessedArticle]) -> pa.Table:
    cols: dict[str, list[Any]] = {f.name: [] for f in _RAW_SCHEMA}
    for it in items:
        r: RawPage | None = it.raw
        if r is None:
            continue
        for k, v in (("article_id", it.article_id), ("url", r.url), ("source", r.source), ("final_url", r.final_url),
                     ("fetched_at", _utc(r.fetched_at)), ("status", r.status), ("content_type", r.content_type),
                     ("encoding", r.encoding), ("hint_published_at", _utc(r.hint_published_at)),
                     ("html_zlib", r.html_zlib)):
            cols[k].append(v)
    return pa.table(cols, schema=_RAW_SCHEMA)


def bands_table(items: Sequence[ProcessedArticle]) -> pa.Table:
    ids, band_no, keys = [], [], []
    for it in items:
        if not it.minhash:
            continue
        for i, k in enumerate(band_keys(it.minhash)):
            ids.append(it.article_id)
            band_no.append(i)
            keys.append(k)
    return pa.table({"article_id": ids, "band": band_no, "key": keys}, schema=_BAND_SCHEMA)


def assign_stories(con: duckdb.DuckDBPyConnection, items: Sequence[ProcessedArticle]) -> None:
    """Set `story_id` on each item: the story of its nearest stored or earlier-in-batch near duplicate,
    else itself. An article whose text did not change keeps its story."""
    existing = {aid: (story, sig) for aid, story, sig in con.execute(EXISTING_STORIES).fetchall()}
    candidates: dict[str, list[tuple[str, bytes]]] = {}
    for batch_id, story, sig in con.execute(STORY_CANDIDATES).fetchall():
        candidates.setdefault(batch_id, []).append((story, sig))
    # band key -> {story_id: signature of the story's first copy in this batch}
    seen_in_batch: dict[tuple[int, int], dict[str, bytes]] = {}
    for it in items:
        keys = list(enumerate(band_keys(it.minhash))) if it.minhash else []
        old = existing.get(it.article_id)
        if old and old[0] and old[1] and similarity(old[1], it.minhash) >= NEAR_DUPLICATE_SIMILARITY:
            it.story_id = old[0]
        else:
            pool = dict(candidates.get(it.article_id, []))
            for key in keys:
                for story, sig in seen_in_batch.get(key, {}).items():
                    pool.setdefault(story, sig)
            best = max(((similarity(sig, it.minhash), story) for story, sig in pool.items() if story and sig),
                       default=None)
            it.story_id = best[1] if best and best[0] >= NEAR_DUPLICATE_SIMILARITY else it.article_id
        for key in keys:
            seen_in_batch.setdefault(key, {}).setdefault(it.story_id, it.minhash)


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

    def upsert_sources(self, sources: Sequence[Source], *, replace: bool = True) -> None:
        """Record the sources' settings; with replace=False only names not known yet are added."""
        with self.transaction() as con:
            for s in sources:
                con.execute(UPSERT_SOURCE if replace else ENSURE_SOURCE, s.settings_dict())

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
            return {r[0] for r in con.execute(KNOWN_ARTICLES, {"ids": list(ids)}).fetchall()}

    def raw_pages(self, *, source: str | None = None, batch_size: int = 200) -> Iterator[list[RawPage]]:
        """Archived pages in batches (the file is opened per batch, so loads can happen in between)."""
        after = ""
        while True:
            with self.connection() as con:
                rows = con.execute(RAW_PAGES_PAGE, {"after": after, "source": source or "", "limit": batch_size}).fetchall()
            if not rows:
                return
            after = rows[-1][0]
            yield [RawPage(url=r[1], source=r[2], final_url=r[3], fetched_at=r[4], status=r[5], content_type=r[6],
                           encoding=r[7], hint_published_at=r[8], html_zlib=r[9]) for r in rows]

    def source_timezones(self) -> dict[str, str]:
        with self.connection() as con:
            return {name: tz for name, tz in con.execute(SOURCE_TIMEZONES).fetchall() if tz}

    def load(self, articles: Sequence[ProcessedArticle], fetch_rows: Sequence[FetchLogRow],
             run_id: str | None) -> LoadCounts:
        """Upsert articles, replace their mentions, refresh their entities and append the fetch log: one
        transaction, so a crash leaves either the whole batch or none of it."""
        counts = LoadCounts(fetches=len(fetch_rows))
        # The same URL twice in one batch would violate the key; keep the last version.
        unique = list({a.article_id: a for a in articles}.values())
        tagged = [a for a in unique if a.mentions is not None]
        batch_mentions = mentions_table(tagged)
        batch_tagged = pa.table({"article_id": pa.array([a.article_id for a in unique], pa.string())})
        batch_fetches = fetches_table(fetch_rows, run_id)
        batch_bands = bands_table(unique)
        batch_raw = raw_table(unique)
        tables = {"batch_mentions": batch_mentions, "batch_tagged": batch_tagged, "batch_fetches": batch_fetches,
                  "batch_bands": batch_bands, "batch_raw": batch_raw}
        with self.transaction() as con:
            for name, table in tables.items():
                con.register(name, table)
            if unique:
                assign_stories(con, unique)
                con.register("batch_articles", articles_table(unique, run_id))
                con.execute(TOUCHED_ENTITIES)
                con.execute(UPSERT_ARTICLES)
                con.execute(REPLACE_MENTIONS)
                con.execute(REFRESH_ENTITIES)
                con.execute(REPLACE_BANDS)
                if batch_raw.num_rows:
                    con.execute(UPSERT_RAW)
                aliases = [(article_id_of(a.fetched_url), a.fetched_url, a.article_id) for a in unique if a.fetched_url]
                if aliases:
                    con.register("batch_aliases", pa.table(
                        {"alias_id": [x[0] for x in aliases], "url": [x[1] for x in aliases],
                         "article_id": [x[2] for x in aliases]}))
                    con.execute(INSERT_ALIASES)
                    con.unregister("batch_aliases")
                con.unregister("batch_articles")
            if fetch_rows:
                con.execute("INSERT INTO fetches BY NAME SELECT * FROM batch_fetches")
            for name in tables:
                con.unregister(name)
        counts.articles = len(unique)
        counts.mentions = batch_mentions.num_rows
        return counts
