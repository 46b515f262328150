"""The DuckDB warehouse: connection (waiting politely for the file lock), migrations and bulk idempotent loads.

The file is held open only while writing, so people can query between loads. All loads are Arrow bulk
inserts inside one transaction per batch; re-loading the same articles changes no row counts.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from extractors.config import Source
from extractors.dedup import NEAR_DUPLICATE_SIMILARITY, band_keys, similarity
from extractors.discover.urls import article_id as article_id_of
from extractors.records import FetchLogRow, ProcessedArticle, RawPage

log = logging.getLogger("akhbar.warehouse")

DEFAULT_DB_PATH = "data/akhbar.duckdb"
LOCK_ERROR = re.compile(r"Could not set lock|Conflicting lock|database is locked|lock on file", re.I)


# DuckDB's Python client re-acquires the GIL many times while a statement runs (Arrow scans of the registered
# batch tables, interrupt checks, results). When another Python thread of the process is busy (the flow's
# background fetcher), each re-acquisition waits up to the interpreter's switch interval (5 ms by default): a
# 2,000-page load measured 1.0 s alone took 5.1 s beside one busy Python thread, and 1.2 s with the interval
# lowered to LOAD_SWITCH_INTERVAL for the duration of the load.
LOAD_SWITCH_INTERVAL = 0.0002
_switch_lock = threading.Lock()
_switch_users = 0
_switch_saved = 0.005


@contextmanager
def responsive_gil(interval: float = LOAD_SWITCH_INTERVAL) -> Iterator[None]:
    """Lower the GIL switch interval while the block runs (nestable and thread-safe; the value found by the
    first caller is restored when the last one leaves)."""
    global _switch_users, _switch_saved
    with _switch_lock:
        if _switch_users == 0:
            _switch_saved = sys.getswitchinterval()
            sys.setswitchinterval(min(interval, _switch_saved))
        _switch_users += 1
    try:
        yield
    finally:
        with _switch_lock:
            _switch_users -= 1
            if _switch_users == 0:
                sys.setswitchinterval(_switch_saved)


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


# Rows per row group of the data a load appends. DuckDB's default (122,880) makes every load's checkpoint
# rewrite the table's whole last, partly filled row group, i.e. every article stored so far until 122,880 of
# them: measured, the checkpoint at close grew linearly with the table (0.08 s after 1,000 rows of 12 KB, 0.31 s
# after 20,000) and the file held twice its data in freed blocks; with 2,048-row groups it stayed at 0.03 s.
# 8,192 keeps that bound (about 100 MB of pages per rewrite at most) without the cost of tiny groups in
# whole-table rebuilds, which keep the default (the search index build needed 531 MB with 2,048, 290 with it).
LOAD_ROW_GROUP_ROWS = 8192
WRITER_ALIAS = "akhbar"


def _connect_writer(path: Path, row_group_rows: int | None) -> duckdb.DuckDBPyConnection:
    """A read-write connection to the file. With `row_group_rows` the file is ATTACHed with that ROW_GROUP_SIZE
    (an ATTACH option) as the default catalog, so unqualified names mean the warehouse's tables as in a plain
    `duckdb.connect(path)`."""
    if row_group_rows is None:
        return duckdb.connect(str(path))
    con = duckdb.connect()
    try:
        literal = str(path).replace("'", "''")
        con.execute(f"ATTACH '{literal}' AS {WRITER_ALIAS} (ROW_GROUP_SIZE {int(row_group_rows)})")
        con.execute(f"USE {WRITER_ALIAS}")
        # spill files next to the database, as a plain connection to it would (not in the working directory)
        con.execute(f"SET temp_directory = '{literal}.tmp'")
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


def connect(
    path: str | Path,
    *,
    read_only: bool = False,
    wait_seconds: float = 300.0,
    on_wait: Callable[[str], None] | None = None,
    row_group_rows: int | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file, waiting up to `wait_seconds` while another process holds its lock.
    `row_group_rows`: row group size of the data this (write) connection appends (see LOAD_ROW_GROUP_ROWS)."""
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
            con = duckdb.connect(str(path), read_only=True) if read_only else _connect_writer(path, row_group_rows)
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
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, name, datetime.now(UTC)])
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

# The DELETEs (a semi-join over the whole batch) run only when some article of the batch
# was stored before (re-fetched or re-tagged); a batch of new articles only inserts.
DELETE_BANDS = "DELETE FROM story_bands WHERE article_id IN (SELECT article_id FROM batch_tagged)"
INSERT_BANDS = "INSERT INTO story_bands SELECT article_id, band, key FROM batch_bands"

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
TOUCHED_ENTITIES_NEW_ONLY = """
CREATE OR REPLACE TEMP TABLE touched_entities AS SELECT DISTINCT canonical, entity_type FROM batch_mentions
"""

DELETE_MENTIONS = "DELETE FROM mentions WHERE article_id IN (SELECT article_id FROM batch_tagged)"
INSERT_MENTIONS = """
INSERT INTO mentions SELECT article_id, entity_type, text, canonical, start, "end", backend FROM batch_mentions
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
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def articles_table(items: Sequence[ProcessedArticle], run_id: str | None) -> pa.Table:
    now = datetime.now(UTC)
    arts = [it.article for it in items]
    cols: dict[str, list[Any]] = {
        "article_id": [it.article_id for it in items], "url": [it.url for it in items],
        "source": [it.source for it in items], "title": [a.title for a in arts], "author": [a.author for a in arts],
        "published_at": [_utc(a.published_at) for a in arts], "language": [a.language for a in arts],
        "text": [a.text for a in arts], "content_hash": [it.content_hash for it in items],
        "fetched_at": [_utc(it.fetched_at) for it in items], "credit": [a.credit for a in arts],
        "description": [a.description for a in arts], "categories": [list(a.categories or []) for a in arts],
        "tags": [list(a.tags or []) for a in arts], "image": [a.image for a in arts],
        "modified_at": [_utc(a.modified_at) for a in arts],
        "published_evidence": [a.published_evidence for a in arts], "final_url": [it.final_url for it in items],
        "ner_backend": [it.backend for it in items], "first_stored_at": [now] * len(items),
        "updated_at": [now] * len(items), "run_id": [run_id] * len(items),
        "minhash": [it.minhash or None for it in items],
        "story_id": [it.story_id or it.article_id for it in items],
    }
    return pa.table(cols, schema=_ARTICLE_SCHEMA)


def raw_table(items: Sequence[ProcessedArticle]) -> pa.Table:
    pairs = [(it.article_id, it.raw) for it in items if it.raw is not None]
    raws: list[RawPage] = [r for _, r in pairs]
    return pa.table({
        "article_id": [aid for aid, _ in pairs], "url": [r.url for r in raws], "source": [r.source for r in raws],
        "final_url": [r.final_url for r in raws], "fetched_at": [_utc(r.fetched_at) for r in raws],
        "status": [r.status for r in raws], "content_type": [r.content_type for r in raws],
        "encoding": [r.encoding for r in raws], "hint_published_at": [_utc(r.hint_published_at) for r in raws],
        "html_zlib": [r.html_zlib for r in raws],
    }, schema=_RAW_SCHEMA)


def item_band_keys(items: Sequence[ProcessedArticle]) -> dict[str, list[int]]:
    """LSH band keys of each item with a MinHash signature, computed once per load."""
    return {it.article_id: band_keys(it.minhash) for it in items if it.minhash}


def bands_table(items: Sequence[ProcessedArticle], keys: dict[str, list[int]] | None = None) -> pa.Table:
    keys = item_band_keys(items) if keys is None else keys
    ids, band_no, values = [], [], []
    for it in items:
        ks = keys.get(it.article_id) if it.minhash else None
        if not ks:
            continue
        ids.extend([it.article_id] * len(ks))
        band_no.extend(range(len(ks)))
        values.extend(ks)
    return pa.table({"article_id": ids, "band": band_no, "key": values}, schema=_BAND_SCHEMA)


def assign_stories(con: duckdb.DuckDBPyConnection, items: Sequence[ProcessedArticle],
                   keys: dict[str, list[int]] | None = None) -> set[str]:
    """Set `story_id` on each item: the story of its nearest stored or earlier-in-batch near duplicate,
    else itself. An article whose text did not change keeps its story. Returns the ids stored before."""
    keys = item_band_keys(items) if keys is None else keys
    existing = {aid: (story, sig) for aid, story, sig in con.execute(EXISTING_STORIES).fetchall()}
    candidates: dict[str, list[tuple[str, bytes]]] = {}
    for batch_id, story, sig in con.execute(STORY_CANDIDATES).fetchall():
        candidates.setdefault(batch_id, []).append((story, sig))
    # band key -> {story_id: signature of the story's first copy in this batch}
    seen_in_batch: dict[tuple[int, int], dict[str, bytes]] = {}
    for it in items:
        item_keys = list(enumerate(keys.get(it.article_id, ()))) if it.minhash else []
        old = existing.get(it.article_id)
        if old and old[0] and old[1] and similarity(old[1], it.minhash) >= NEAR_DUPLICATE_SIMILARITY:
            it.story_id = old[0]
        else:
            pool = dict(candidates.get(it.article_id, []))
            for key in item_keys:
                for story, sig in seen_in_batch.get(key, {}).items():
                    pool.setdefault(story, sig)
            best = max(((similarity(sig, it.minhash), story) for story, sig in pool.items() if story and sig),
                       default=None)
            it.story_id = best[1] if best and best[0] >= NEAR_DUPLICATE_SIMILARITY else it.article_id
        for key in item_keys:
            seen_in_batch.setdefault(key, {}).setdefault(it.story_id, it.minhash)
    return set(existing)


def mentions_table(items: Sequence[ProcessedArticle]) -> pa.Table:
    pairs = [(it, m) for it in items for m in it.mentions or ()]
    return pa.table({
        "article_id": [it.article_id for it, _ in pairs], "entity_type": [m.entity_type for _, m in pairs],
        "text": [m.text for _, m in pairs], "canonical": [m.canonical for _, m in pairs],
        "start": [m.start for _, m in pairs], "end": [m.end for _, m in pairs],
        "backend": [it.backend for it, _ in pairs],
    }, schema=_MENTION_SCHEMA)


def fetches_table(rows: Sequence[FetchLogRow], run_id: str | None) -> pa.Table:
    return pa.table({
        "url": [r.url for r in rows], "source": [r.source for r in rows], "kind": [r.kind for r in rows],
        "status": [r.status for r in rows], "error": [r.error for r in rows],
        "fetched_at": [_utc(r.fetched_at) for r in rows], "run_id": [run_id] * len(rows),
        "elapsed_ms": [r.elapsed_ms for r in rows], "final_url": [r.final_url for r in rows],
        "content_type": [r.content_type for r in rows], "bytes": [r.bytes for r in rows],
    }, schema=_FETCH_SCHEMA)


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
    def connection(self, *, read_only: bool = False,
                   row_group_rows: int | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        con = connect(self.path, read_only=read_only, wait_seconds=self.wait_seconds, on_wait=self.on_wait,
                      row_group_rows=row_group_rows)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write transaction; its appends use LOAD_ROW_GROUP_ROWS-row groups."""
        with self.connection(row_group_rows=LOAD_ROW_GROUP_ROWS) as con:
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
            con.execute(START_RUN, [run_id, flow, datetime.now(UTC),
                                    json.dumps(parameters, ensure_ascii=False, default=str)])

    def finish_run(self, run_id: str, *, discovered: int, fetched: int, stored: int, failed: int,
                   status: str = "completed") -> None:
        with self.transaction() as con:
            con.execute(FINISH_RUN, [datetime.now(UTC), discovered, fetched, stored, failed, status, run_id])

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
        with responsive_gil():
            return self._load(articles, fetch_rows, run_id)

    def _load(self, articles: Sequence[ProcessedArticle], fetch_rows: Sequence[FetchLogRow],
              run_id: str | None) -> LoadCounts:
        counts = LoadCounts(fetches=len(fetch_rows))
        # The same URL twice in one batch would violate the key; keep the last version.
        unique = list({a.article_id: a for a in articles}.values())
        tagged = [a for a in unique if a.mentions is not None]
        batch_mentions = mentions_table(tagged)
        batch_tagged = pa.table({"article_id": pa.array([a.article_id for a in unique], pa.string())})
        batch_fetches = fetches_table(fetch_rows, run_id)
        keys = item_band_keys(unique)
        batch_bands = bands_table(unique, keys)
        batch_raw = raw_table(unique)
        tables = {"batch_mentions": batch_mentions, "batch_tagged": batch_tagged, "batch_fetches": batch_fetches,
                  "batch_bands": batch_bands, "batch_raw": batch_raw}
        with self.transaction() as con:
            for name, table in tables.items():
                con.register(name, table)
            if unique:
                stored_before = assign_stories(con, unique, keys)
                con.register("batch_articles", articles_table(unique, run_id))
                con.execute(TOUCHED_ENTITIES if stored_before else TOUCHED_ENTITIES_NEW_ONLY)
                con.execute(UPSERT_ARTICLES)
                if stored_before:
                    con.execute(DELETE_MENTIONS)
                    con.execute(DELETE_BANDS)
                con.execute(INSERT_MENTIONS)
                con.execute(REFRESH_ENTITIES)
                con.execute(INSERT_BANDS)
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
