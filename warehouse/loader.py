"""The bulk, idempotent load of one batch into an open connection: articles, raw pages, story clusters,
mentions and entities, URL aliases and the fetch log.

`load_batch(con, ...)` runs its statements on the connection it is given and leaves the transaction to the
caller (Warehouse.load opens the warehouse for one transaction). Every upsert is a MERGE, so the same statements
run on a DuckDB file and on a DuckLake. Re-loading the same articles changes no row counts.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from extractors.arabic import clean_text
from extractors.dedup import NEAR_DUPLICATE_SIMILARITY, similarity
from extractors.discover.urls import article_id as article_id_of
from extractors.records import FetchLogRow, ProcessedArticle
from warehouse.aliases import refresh_entities
from warehouse.arrow_records import (
    articles_table,
    bands_table,
    fetches_table,
    item_band_keys,
    mentions_table,
    raw_table,
)
from warehouse.tables import ARTICLES, MENTIONS, RAW_PAGES, STORY_BANDS, URL_ALIASES

# Kept as stored on a re-load: the key, the first source that stored the article, and when that was.
ARTICLE_KEPT_COLUMNS = ("article_id", "source", "first_stored_at")

UPSERT_ARTICLES = ARTICLES.merge("batch_articles", key=("article_id",), keep=ARTICLE_KEPT_COLUMNS)

# Stories with a stored article sharing an LSH band with an article of the batch, and their first copy's
# signature: near-duplicate candidates are compared with the story's first copy only, so a popular story
# costs one comparison, not one per copy. "Not the same article" compares the two band rows (s, b): written
# as a.article_id <> b.article_id it let DuckDB plan a nested-loop join of every stored article with every band
# of the batch (48 million rows, 1.4 GB per 1,000-page load after 3,000 stored: the flow's RSS grew with the
# run, issue 18), before the equality join that makes it a handful of rows.
STORY_CANDIDATES = """
WITH hits AS (
    SELECT DISTINCT b.article_id AS batch_id, a.story_id
    FROM batch_bands b
    JOIN story_bands s ON s.band = b.band AND s.key = b.key AND s.article_id <> b.article_id
    JOIN articles a ON a.article_id = s.article_id
    WHERE a.story_id IS NOT NULL
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
INSERT_BANDS = f"INSERT INTO story_bands SELECT {STORY_BANDS.column_list()} FROM batch_bands"

UPSERT_RAW = RAW_PAGES.merge("batch_raw", key=("article_id",))

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
INSERT_MENTIONS = f"INSERT INTO mentions SELECT {MENTIONS.column_list()} FROM batch_mentions"


# a URL already known as another article's alias stays that article's
INSERT_ALIASES = URL_ALIASES.merge(f"(SELECT DISTINCT ON (alias_id) {URL_ALIASES.column_list()} FROM batch_aliases)",
                                   key=("alias_id",), update=False)
INSERT_FETCHES = "INSERT INTO fetches BY NAME SELECT * FROM batch_fetches"


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


@dataclass(slots=True)
class LoadCounts:
    """Rows one load wrote: articles upserted, mentions inserted, fetch-log rows appended."""

    articles: int = 0
    mentions: int = 0
    fetches: int = 0


def assign_stories(con: duckdb.DuckDBPyConnection, items: Sequence[ProcessedArticle],
                   keys: dict[str, list[int]] | None = None) -> set[str]:
    """Set `story_id` on each item: the story of its nearest stored or earlier-in-batch near duplicate,
    else itself. An article whose text did not change keeps its story. Returns the ids stored before.
    Needs the batch's `batch_tagged` and `batch_bands` tables registered on the connection."""
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
            it.story_id = _nearest_story(it, pool)
        for key in item_keys:
            seen_in_batch.setdefault(key, {}).setdefault(it.story_id, it.minhash)
    return set(existing)


def _nearest_story(item: ProcessedArticle, pool: dict[str, bytes]) -> str:
    """The most similar candidate story when it is a near duplicate, else the item's own id."""
    best = max(((similarity(sig, item.minhash), story) for story, sig in pool.items() if story and sig), default=None)
    return best[1] if best and best[0] >= NEAR_DUPLICATE_SIMILARITY else item.article_id


def _aliases_table(items: Sequence[ProcessedArticle]) -> pa.Table:
    aliased = [a for a in items if a.fetched_url]
    return pa.table({"alias_id": [article_id_of(a.fetched_url) for a in aliased if a.fetched_url],
                     "url": [a.fetched_url for a in aliased], "article_id": [a.article_id for a in aliased]},
                    schema=URL_ALIASES.arrow_schema())


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, tables: dict[str, pa.Table]) -> Iterator[None]:
    """Arrow tables registered as views on the connection for the duration of the block."""
    for name, table in tables.items():
        con.register(name, table)
    try:
        yield
    finally:
        for name in tables:
            con.unregister(name)


def _store_articles(con: duckdb.DuckDBPyConnection, unique: list[ProcessedArticle], run_id: str | None,
                    keys: dict[str, list[int]], has_raw: bool) -> None:
    """Upsert the articles and replace what hangs off them (mentions, bands, entities, raw page, aliases).
    The batch's tables other than its articles are registered already."""
    stored_before = assign_stories(con, unique, keys)
    aliases = _aliases_table(unique)
    with registered(con, {"batch_articles": articles_table(unique, run_id), "batch_aliases": aliases}):
        con.execute(TOUCHED_ENTITIES if stored_before else TOUCHED_ENTITIES_NEW_ONLY)
        con.execute(UPSERT_ARTICLES)
        if stored_before:
            con.execute(DELETE_MENTIONS)
            con.execute(DELETE_BANDS)
        con.execute(INSERT_MENTIONS)
        refresh_entities(con)
        con.execute(INSERT_BANDS)
        if has_raw:
            con.execute(UPSERT_RAW)
        if aliases.num_rows:
            con.execute(INSERT_ALIASES)


def load_batch(con: duckdb.DuckDBPyConnection, articles: Sequence[ProcessedArticle],
               fetch_rows: Sequence[FetchLogRow], run_id: str | None) -> LoadCounts:
    """Upsert articles, replace their mentions, refresh their entities and append the fetch log, on an open
    connection inside the caller's transaction."""
    # The same URL twice in one batch would violate the key; keep the last version.
    unique = list({a.article_id: a for a in articles}.values())
    keys = item_band_keys(unique)
    try:
        tables = _batch_tables(unique, fetch_rows, run_id, keys)
    except (UnicodeError, pa.ArrowException):
        # one record Arrow cannot hold (a string with a lone surrogate, say) must not lose the whole batch:
        # leave out the articles that fail, and log why on their fetch rows
        unique, fetch_rows = _without_unstorable(unique, fetch_rows, run_id)
        keys = item_band_keys(unique)
        tables = _batch_tables(unique, fetch_rows, run_id, keys)
    batch_mentions, batch_raw = tables["batch_mentions"], tables["batch_raw"]
    with registered(con, tables):
        if unique:
            _store_articles(con, unique, run_id, keys, has_raw=batch_raw.num_rows > 0)
        if fetch_rows:
            con.execute(INSERT_FETCHES)
    return LoadCounts(articles=len(unique), mentions=batch_mentions.num_rows, fetches=len(fetch_rows))


def _batch_tables(unique: Sequence[ProcessedArticle], fetch_rows: Sequence[FetchLogRow], run_id: str | None,
                  keys: dict[str, list[int]]) -> dict[str, pa.Table]:
    """The batch's Arrow tables, registered for the load's statements; the articles' table is built later (with
    their stories), here only to find out whether Arrow can hold it."""
    articles_table(unique, run_id)
    return {"batch_mentions": mentions_table([a for a in unique if a.mentions is not None]),
            "batch_tagged": pa.table({"article_id": pa.array([a.article_id for a in unique], pa.string())}),
            "batch_fetches": fetches_table(fetch_rows, run_id), "batch_bands": bands_table(unique, keys),
            "batch_raw": raw_table(unique)}


def _without_unstorable(unique: Sequence[ProcessedArticle], fetch_rows: Sequence[FetchLogRow],
                        run_id: str | None) -> tuple[list[ProcessedArticle], list[FetchLogRow]]:
    """The articles whose rows Arrow can hold, and the fetch rows with the others' reasons (every string of
    the fetch rows cleaned of code points that cannot be stored)."""
    kept: list[ProcessedArticle] = []
    reasons: dict[str, str] = {}
    for a in unique:
        try:
            _batch_tables([a], [], run_id, item_band_keys([a]))
            kept.append(a)
        except (UnicodeError, pa.ArrowException) as exc:
            reasons[a.fetched_url or a.url] = clean_text(f"not stored: {type(exc).__name__}: {exc}")[:500]
    rows = []
    for row in fetch_rows:
        error = reasons.pop(row.url) if row.final and row.url in reasons else row.error
        rows.append(replace(row, url=clean_text(row.url), source=_clean(row.source), error=_clean(error),
                            final_url=_clean(row.final_url), content_type=_clean(row.content_type)))
    rows.extend(FetchLogRow(url=clean_text(url), source=None, kind="article", status=None, error=reason,
                            fetched_at=datetime.now(UTC)) for url, reason in reasons.items())
    return kept, rows


def _clean(value: str | None) -> str | None:
    return clean_text(value) if value is not None else None
