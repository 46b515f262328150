"""Arabic full-text search over articles with DuckDB's fts extension (BM25, Snowball Arabic stemmer).

How it works:
- The extension is loaded offline from the `duckdb-extension-fts` package (it ships the build for exactly the
  pinned DuckDB version); when that fails, from DuckDB's own extension directory (`INSTALL fts` done earlier).
- The index is built from `article_search`, a normalised copy of `articles(title, text)` that is dropped again
  once the index tables exist (they are all a search needs): the project's Arabic normalisation
  (extractors/arabic.py: no diacritics or tatweel, one alef, alef maqsura -> yaa, taa marbuta -> haa, ASCII
  digits) and the conjunctions و/ف split off
  before the article ال («والعراق» -> «العراق»; Snowball's Arabic stemmer keeps «وال...» whole). Queries are
  normalised by the same SQL expression, so «الحكومة» finds «الحكومه» and «والعراق» finds «العراق».
- The index does not follow inserts. `refresh_search_index(db)` rebuilds it when articles changed since the
  last build: the ingest flows call it once per run, after loading; `akhbar search` calls it when the index is
  missing or stale and the database is free.
- Searching needs only a read-only connection (the index lives in the database file, schema
  `fts_main_article_search`).
- A DuckLake warehouse (`ducklake:<catalog>`) cannot hold the index (DuckLake tables have no indexes or fts
  schemas), so its index lives in a local DuckDB cache file: beside a file catalog (`<catalog file>.search.duckdb`),
  else `<data dir>/search-cache/<hash of the catalog>.search.duckdb` (AKHBAR_DATA_DIR). The cache holds a copy
  of the article columns a hit shows (title, url, source, date, text) and the index built exactly as in a DuckDB
  file, so the results are the same (it takes about as much disk as a DuckDB file of the same articles). It
  records the lake snapshot and the articles' count and newest update it was built from; `search` rebuilds it
  first when the lake moved on and its articles changed, so a search never silently misses or shows stale
  articles. A rebuild writes a new file and renames it into place: readers of the old one and a concurrent
  rebuild are not disturbed, and the lake itself is only read.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from extractors.entities.crf.tagger import user_data_dir
from warehouse.arabic_sql import MACRO_NAME, macro_sql
from warehouse.connection import WarehouseError, connect, migrate, one_row
from warehouse.errors import first_line
from warehouse.extensions import load_extension
from warehouse.lake_location import catalog_file, display_location, is_lake

log = logging.getLogger("akhbar.search")
NOT_REBUILT = "search index not rebuilt: "  # how refresh_search_index's log gives the reason it failed

INDEX_TABLE = "article_search"
INFO_TABLE = "search_index_info"
FTS_SCHEMA = f"fts_main_{INDEX_TABLE}"
STEMMER = "arabic"
# Tokens are runs of letters, digits and combining marks; everything else separates them.
IGNORE = r"(\\.|[^\p{L}\p{N}\p{M}])+"

# و or ف glued to the article ال before a word of two letters or more («والعراق», «فالحكومه»).
_CONJ = r"(^|[^\p{L}\p{N}\p{M}])[\x{0648}\x{0641}](\x{0627}\x{0644}\p{L}{2,})"


def normalise_sql(expr: str) -> str:
    """SQL expression normalising Arabic text for search (used for the index and for queries alike): the
    project's one normalisation (the `akhbar_normalize` macro of warehouse/arabic_sql.py), then the
    conjunctions split off the article."""
    return f"regexp_replace({MACRO_NAME}({expr}), '{_CONJ}', '\\1\\2', 'g')"


class SearchError(WarehouseError):
    """Full-text search cannot run; the message says why and what to do."""


class SearchUnavailable(SearchError):
    pass


class SearchIndexMissing(SearchError):
    pass


def load_fts(con: duckdb.DuckDBPyConnection) -> None:
    """Load the fts extension without touching the network (warehouse/extensions.py), or raise SearchUnavailable."""
    con.execute("SET enable_progress_bar = false")  # it would draw on the terminal or fill a run's log
    try:
        load_extension(con, "fts")
    except WarehouseError as exc:
        raise SearchUnavailable(f"full-text search is unavailable: {exc}") from None


def _articles_state(con: duckdb.DuckDBPyConnection) -> tuple[int, datetime | None]:
    n, newest = one_row(con, "SELECT count(*), max(updated_at) FROM articles")
    return int(n), newest


def index_state(con: duckdb.DuckDBPyConnection) -> str:
    """'missing', 'stale' or 'fresh' (fresh: built after the last change to articles)."""
    has = one_row(con, "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = ?",
                  [INFO_TABLE])[0]
    has_fts = one_row(con, "SELECT count(*) FROM duckdb_schemas() WHERE schema_name = ?", [FTS_SCHEMA])[0]
    if not has or not has_fts:
        return "missing"
    row = con.execute(f"SELECT articles, newest_update FROM {INFO_TABLE}").fetchone()
    if row is None:
        return "missing"
    return "fresh" if (int(row[0]), row[1]) == _articles_state(con) else "stale"


def rebuild_index(con: duckdb.DuckDBPyConnection) -> int:
    """(Re)build the search index on a write connection; returns the number of articles indexed."""
    load_fts(con)
    n, newest = _articles_state(con)
    con.execute(
        f"CREATE OR REPLACE TABLE {INDEX_TABLE} AS SELECT article_id, {normalise_sql('title')} AS title, "
        f"{normalise_sql('text')} AS text FROM articles"
    )
    con.execute(
        f"PRAGMA create_fts_index('{INDEX_TABLE}', 'article_id', 'title', 'text', stemmer='{STEMMER}', "
        f"stopwords='none', ignore='{IGNORE}', strip_accents=0, lower=1, overwrite=1)"
    )
    # The index keeps its own term tables; the normalised copy is not needed once they are built.
    con.execute(f"DROP TABLE {INDEX_TABLE}")
    con.execute(f"CREATE OR REPLACE TABLE {INFO_TABLE} (built_at TIMESTAMPTZ, articles BIGINT, "
                "newest_update TIMESTAMPTZ, stemmer VARCHAR)")
    con.execute(f"INSERT INTO {INFO_TABLE} VALUES (now(), ?, ?, ?)", [n, newest, STEMMER])
    return n


def refresh_search_index(db_path: str | Path, *, force: bool = False, wait_seconds: float = 300.0,
                         log: Callable[[str], None] | None = None) -> bool:
    """Rebuild the index when articles changed since it was built (or always, with force).

    Never raises: search is an extra, a failure here must not fail an ingest run. Returns True when the index
    is fresh afterwards.
    """
    say = log or logging.getLogger("akhbar.search").warning
    if is_lake(db_path):
        return _refresh_lake_cache(str(db_path), force=force, wait_seconds=wait_seconds, say=say)
    try:
        con = connect(db_path, wait_seconds=wait_seconds, on_wait=say)
    except Exception as exc:
        say(f"{NOT_REBUILT}{exc}")
        return False
    try:
        migrate(con)  # the index is built with the normalisation macro of the migrations
        if not force and index_state(con) == "fresh":
            return True
        rebuild_index(con)
        return True
    except Exception as exc:
        say(f"{NOT_REBUILT}{exc}")
        return False
    finally:
        con.close()


# ---------------------------------------------------------------- the index of a lake: a local cache file

CACHE_SUFFIX = ".search.duckdb"
CACHE_FOLDER = "search-cache"  # under the user's data directory, for catalogs that are not local files
SNAPSHOT_COLUMN = "lake_snapshot"
# The columns of `articles` a hit shows, and `updated_at` for the freshness check (_articles_state).
CACHE_ARTICLES_SQL = "SELECT article_id, title, url, source, published_at, text, updated_at FROM articles"
CACHE_INFO_SQL = f"SELECT {SNAPSHOT_COLUMN}, articles, newest_update FROM {INFO_TABLE}"
CURRENT_CATALOG_SQL = "SELECT current_database()"
LAKE_SNAPSHOT_SQL = "SELECT id FROM {catalog}.current_snapshot()"  # DuckLake's table function of the catalog


def search_cache_path(db: str | Path) -> Path:
    """Where the search index of a lake is kept: beside a file catalog, else in the user's data directory under
    a name derived from the catalog string (the same lake always finds the same cache)."""
    file = catalog_file(str(db))
    if file is not None:
        return file.with_name(file.name + CACHE_SUFFIX)
    key = hashlib.sha256(str(db).encode("utf-8")).hexdigest()[:24]
    return user_data_dir() / CACHE_FOLDER / f"{key}{CACHE_SUFFIX}"


def lake_snapshot(con: duckdb.DuckDBPyConnection) -> int:
    """The latest snapshot of the lake that is the connection's default catalog."""
    catalog = str(one_row(con, CURRENT_CATALOG_SQL)[0])
    quoted = '"' + catalog.replace('"', '""') + '"'
    return int(one_row(con, LAKE_SNAPSHOT_SQL.format(catalog=quoted))[0])


def _cache_built_from(cache: Path) -> tuple[int, int, datetime | None] | None:
    """(lake snapshot, articles, newest update) the cache was built from; None when there is no usable cache."""
    if not cache.is_file():
        return None
    try:
        con = duckdb.connect(str(cache), read_only=True)
    except duckdb.Error:
        return None  # unreadable (say, left by a crash mid-rename on another OS): rebuilt
    try:
        if index_state(con) != "fresh":  # incomplete: no index, or rows that differ from what was recorded
            return None
        row = con.execute(CACHE_INFO_SQL).fetchone()
    except duckdb.Error:
        return None
    finally:
        con.close()
    if row is None or row[0] is None:
        return None
    return int(row[0]), int(row[1]), row[2]


def lake_index_state(db: str, *, wait_seconds: float = 30.0) -> str:
    """'missing', 'stale' or 'fresh' for a lake's cache. Fresh: built at the lake's latest snapshot, or at an
    earlier one whose articles (count, newest update) are still the same, as a file's index is judged."""
    built = _cache_built_from(search_cache_path(db))
    if built is None:
        return "missing"
    lake = connect(db, read_only=True, wait_seconds=wait_seconds)
    try:
        if lake_snapshot(lake) == built[0]:
            return "fresh"
        return "fresh" if _articles_state(lake) == built[1:] else "stale"
    finally:
        lake.close()


def rebuild_lake_cache(db: str, *, wait_seconds: float = 300.0,
                       on_wait: Callable[[str], None] | None = None) -> int:
    """Build the lake's search cache afresh from its articles; returns the number of articles indexed. The new
    file replaces the old one in one rename, so a search reading the old one meanwhile is not disturbed."""
    cache = search_cache_path(db)
    cache.parent.mkdir(parents=True, exist_ok=True)
    building = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
    for leftover in (building, Path(f"{building}.wal")):
        leftover.unlink(missing_ok=True)
    lake = connect(db, read_only=True, wait_seconds=wait_seconds, on_wait=on_wait)
    try:
        # The snapshot before the rows: a commit in between makes the cache look older than it is, never newer.
        snapshot = lake_snapshot(lake)
        indexed = _build_cache_file(building, lake.execute(CACHE_ARTICLES_SQL).to_arrow_reader(), snapshot)
    except BaseException:
        building.unlink(missing_ok=True)
        raise
    finally:
        lake.close()
    os.replace(building, cache)
    return indexed


def _build_cache_file(path: Path, articles: pa.RecordBatchReader, snapshot: int) -> int:
    """A cache file: the articles' copy, the normalisation macro, the index as in a warehouse file."""
    con = duckdb.connect(str(path))
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("lake_articles", articles)  # streamed batch by batch from the lake
        con.execute("CREATE TABLE articles AS SELECT * FROM lake_articles")
        con.unregister("lake_articles")
        con.execute(macro_sql())
        indexed = rebuild_index(con)
        con.execute(f"ALTER TABLE {INFO_TABLE} ADD COLUMN {SNAPSHOT_COLUMN} BIGINT")
        con.execute(f"UPDATE {INFO_TABLE} SET {SNAPSHOT_COLUMN} = ?", [snapshot])
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return indexed


def _refresh_lake_cache(db: str, *, force: bool, wait_seconds: float, say: Callable[[str], None]) -> bool:
    """refresh_search_index for a lake: never raises, True when the cache is fresh afterwards."""
    try:
        if not force and lake_index_state(db, wait_seconds=wait_seconds) == "fresh":
            return True
        rebuild_lake_cache(db, wait_seconds=wait_seconds, on_wait=say)
        return True
    except Exception as exc:
        say(f"{NOT_REBUILT}{exc}")
        return False


def search_index_state(db: str | Path, *, wait_seconds: float = 30.0) -> str:
    """'missing', 'stale' or 'fresh': the index of a DuckDB file, or a lake's cache."""
    if is_lake(db):
        return lake_index_state(str(db), wait_seconds=wait_seconds)
    con = connect(db, read_only=True, wait_seconds=wait_seconds)
    try:
        return index_state(con)
    finally:
        con.close()


def _fresh_lake_cache(db: str, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the lake's cache, rebuilt first when the lake's articles changed since."""
    if lake_index_state(db, wait_seconds=wait_seconds) != "fresh":
        try:
            rebuild_lake_cache(db, wait_seconds=wait_seconds, on_wait=log.warning)
        except (duckdb.Error, OSError) as exc:
            raise SearchError(f"the search index of {display_location(db)} could not be brought up to date "
                              f"({first_line(exc)}); a search now would miss articles, so none was run: fix that "
                              "and run again") from None
    con = duckdb.connect(str(search_cache_path(db)), read_only=True)
    con.execute("SET TimeZone = 'UTC'")  # as warehouse connections: hits' times in UTC
    return con


@dataclass(slots=True)
class Hit:
    title: str | None
    url: str
    source: str
    published_at: datetime | None
    score: float
    snippet: str
    article_id: str


HIT_COLUMNS = ["title", "url", "source", "published_at", "score", "snippet"]

SEARCH_SQL = f"""
SELECT a.article_id, a.title, a.url, a.source, a.published_at, s.score, a.text
FROM (SELECT name AS article_id, {FTS_SCHEMA}.match_bm25(name, $q, conjunctive := $all) AS score
      FROM {FTS_SCHEMA}.docs) s
JOIN articles a USING (article_id)
WHERE s.score IS NOT NULL AND ($source = '' OR a.source = $source)
ORDER BY s.score DESC, a.published_at DESC NULLS LAST, a.url  -- the url: ties in the same order everywhere
LIMIT $limit
"""

_WORD = re.compile(r"[^\W_][\w\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]*")


def search(db_path: str | Path, text: str, limit: int = 10, *, source: str = "", match_all: bool = False,
           wait_seconds: float = 30.0) -> list[Hit]:
    """Articles matching `text`, best first, on a read-only connection (a DuckDB file's index must exist; a
    lake's cache is built or brought up to date first)."""
    if not text.strip():
        raise SearchError("give some words to search for")
    con = _searchable(db_path, wait_seconds)
    try:
        load_fts(con)
        q = one_row(con, f"SELECT {normalise_sql('$t')}", {"t": text})[0]
        rows = con.execute(SEARCH_SQL, {"q": q, "all": 1 if match_all else 0, "source": source or "",
                                        "limit": int(limit)}).fetchall()
        terms = _stems(con, [q])[q]
        hits = []
        for article_id, title, url, src, published, score, body in rows:
            hits.append(Hit(title=title, url=url, source=src, published_at=published, score=round(score, 3),
                            snippet=_snippet(con, body or "", terms), article_id=article_id))
        return hits
    finally:
        con.close()


def _searchable(db_path: str | Path, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    """A read-only connection holding the index and the articles it finds: a lake's cache (made fresh first), or
    the DuckDB file itself (its index must exist)."""
    if is_lake(db_path):
        return _fresh_lake_cache(str(db_path), wait_seconds)
    con = connect(db_path, read_only=True, wait_seconds=wait_seconds)
    if index_state(con) == "missing":
        con.close()
        raise SearchIndexMissing(f"{db_path} has no search index yet: run `akhbar search --reindex` "
                                 "(or any ingest) to build it")
    return con


def _stems(con: duckdb.DuckDBPyConnection, texts: list[str]) -> dict[str, set[str]]:
    """Search terms of each text: normalised, tokenised and stemmed exactly as the index does it."""
    rows = con.execute(
        f"SELECT t, list_distinct(list_transform({FTS_SCHEMA}.tokenize({normalise_sql('t')}), "
        f"x -> stem(x, '{STEMMER}'))) FROM (SELECT unnest($texts) AS t)",
        {"texts": texts},
    ).fetchall()
    return {t: {s for s in (stems or []) if s} for t, stems in rows}


def _snippet(con: duckdb.DuckDBPyConnection, body: str, terms: set[str], width: int = 160) -> str:
    """About `width` characters of the text around the first word that matches a search term."""
    words = list(_WORD.finditer(body))
    at = None
    if terms and words:
        unique = list(dict.fromkeys(m.group(0) for m in words))
        stems = _stems(con, unique)
        for m in words:
            if stems.get(m.group(0), set()) & terms:
                at = m
                break
    if at is None:
        start = 0
    else:
        start = max(0, at.start() - width // 3)
        if start:  # begin at a word boundary
            space = body.rfind(" ", 0, start)
            start = space + 1 if space >= 0 and start - space < 30 else start
    end = min(len(body), start + width)
    if end < len(body):
        space = body.find(" ", end)
        end = space if 0 <= space - end < 30 else end
    snippet = " ".join(body[start:end].split())
    return ("…" if start else "") + snippet + ("…" if end < len(body) else "")


def hit_rows(hits: list[Hit]) -> tuple[list[str], list[tuple[Any, ...]]]:
    return HIT_COLUMNS, [(h.title, h.url, h.source, h.published_at, h.score, h.snippet) for h in hits]
