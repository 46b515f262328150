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
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from warehouse.arabic_sql import MACRO_NAME
from warehouse.connection import WarehouseError, connect, migrate, one_row

log = logging.getLogger("akhbar.search")

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


def fts_extension_path() -> Path | None:
    """The fts extension file bundled by the `duckdb-extension-fts` package for this DuckDB version."""
    try:
        import duckdb_extension_fts
    except ImportError:
        return None
    base = Path(duckdb_extension_fts.__file__).parent / "extensions"
    exact = base / f"v{duckdb.__version__}" / "fts.duckdb_extension"
    if exact.is_file():
        return exact
    return None


def load_fts(con: duckdb.DuckDBPyConnection) -> None:
    """Load the fts extension without touching the network, or raise SearchUnavailable."""
    con.execute("SET enable_progress_bar = false")  # it would draw on the terminal or fill a run's log
    errors = []
    path = fts_extension_path()
    if path is not None:
        try:
            con.execute(f"LOAD '{_sql_str(str(path))}'")
            return
        except duckdb.Error as exc:
            errors.append(f"{path}: {exc}")
    else:
        errors.append(f"the duckdb-extension-fts package for DuckDB {duckdb.__version__} is not installed")
    try:
        con.execute("LOAD fts")  # installed earlier with `INSTALL fts` (needs no network now)
        return
    except duckdb.Error as exc:
        errors.append(f"LOAD fts: {str(exc).splitlines()[0]}")
    raise SearchUnavailable(
        "full-text search needs DuckDB's fts extension, which could not be loaded ("
        + "; ".join(errors)
        + f"). Install `duckdb-extension-fts=={duckdb.__version__}` (pip), or run `INSTALL fts` once in DuckDB "
        "on a machine with internet."
    )


def _sql_str(s: str) -> str:
    return s.replace("'", "''")


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
    try:
        con = connect(db_path, wait_seconds=wait_seconds, on_wait=say)
    except Exception as exc:
        say(f"search index not rebuilt: {exc}")
        return False
    try:
        migrate(con)  # the index is built with the normalisation macro of the migrations
        if not force and index_state(con) == "fresh":
            return True
        rebuild_index(con)
        return True
    except Exception as exc:
        say(f"search index not rebuilt: {exc}")
        return False
    finally:
        con.close()


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
ORDER BY s.score DESC, a.published_at DESC NULLS LAST
LIMIT $limit
"""

_WORD = re.compile(r"[^\W_][\w\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]*")


def search(db_path: str | Path, text: str, limit: int = 10, *, source: str = "", match_all: bool = False,
           wait_seconds: float = 30.0) -> list[Hit]:
    """Articles matching `text`, best first, on a read-only connection (the index must exist)."""
    if not text.strip():
        raise SearchError("give some words to search for")
    con = connect(db_path, read_only=True, wait_seconds=wait_seconds)
    try:
        state = index_state(con)
        if state == "missing":
            raise SearchIndexMissing(f"{db_path} has no search index yet: run `akhbar search --reindex` "
                                     "(or any ingest) to build it")
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
