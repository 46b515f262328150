"""The lake: many writers, one truth.

Workers write each batch as Parquet files to a lake directory (a local path or any fsspec URL: `file://`,
`s3://bucket/akhbar` with s3fs, `gs://` with gcsfs, `memory://` in tests) instead of opening the DuckDB file, and
one loader, `merge_lake`, merges the files it has not merged yet into DuckDB with the same idempotent upsert as a
direct load (`Warehouse.load`: articles by `article_id`, mentions replaced per article, entities refreshed, near
duplicates clustered, fetch log appended). So concurrent runs never fight over the DuckDB lock, and a crashed
run's finished batches are merged by the next merge.

Layout (Hive-style, one directory per run):

    <lake>/articles/run_id=<id>/batch-<n>-<uuid>.parquet      articles of one batch (+ fetched_url); written
                                                              last: it marks the batch complete
    <lake>/mentions/run_id=<id>/batch-<n>-<uuid>.parquet      their entity mentions
    <lake>/raw_pages/run_id=<id>/batch-<n>-<uuid>.parquet     their fetched HTML (zlib), for `akhbar reprocess`
    <lake>/fetches/run_id=<id>/batch-<n>-<uuid>.parquet       the fetch log of the batch
    <lake>/runs/run_id=<id>/{start,finish}-<uuid>.parquet     the run's row (as in the `runs` table)
    <lake>/sources/run_id=<id>/sources-<uuid>.parquet         the run's sources and their settings
    <lake>/feed_state/run_id=<id>/feed_state-<uuid>.parquet   conditional-GET state, written when a run completes

The files of one batch share their name; a batch counts only once its articles file exists (an empty one for
batches of failures or feed fetches only), so a batch cut short by a crash is never merged half. Local files are
written under a temporary name and renamed; object stores make a file visible only once it is complete.
`lake_files` (warehouse/schema/007_lake.sql) records every merged file by its path relative to the lake, in the
same transaction as its rows: merging again changes nothing.

`lake_views(con, lake)` creates the views `lake_articles`, `lake_mentions`, `lake_fetches` (and `lake_runs`)
over the files, for querying the lake directly; any Parquet engine (Trino, Spark, Polars, ...) reads the same
`<lake>/<table>/**/*.parquet` globs.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from extractors.config import Source
from extractors.discover.feed_state import FeedState, save_feed_states
from extractors.records import ExtractedArticle, FetchLogRow, Mention, ProcessedArticle, RawPage
from warehouse.store import (
    LoadCounts,
    Warehouse,
    articles_table,
    connect,
    fetches_table,
    mentions_table,
    migrate,
    raw_table,
)

BATCH_TABLES = ("mentions", "raw_pages", "fetches")  # written before the batch's articles file
VIEW_TABLES = ("articles", "mentions", "fetches", "runs")
META_WRITTEN = b"akhbar.written_at"
META_RUN = b"akhbar.run_id"

RUN_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("flow", pa.string()), ("started_at", pa.timestamp("us", tz="UTC")),
    ("finished_at", pa.timestamp("us", tz="UTC")), ("discovered", pa.int32()), ("fetched", pa.int32()),
    ("stored", pa.int32()), ("failed", pa.int32()), ("status", pa.string()), ("parameters", pa.string()),
])
SOURCE_SCHEMA = pa.schema([
    ("name", pa.string()), ("homepage", pa.string()), ("feeds", pa.list_(pa.string())),
    ("sitemaps", pa.list_(pa.string())), ("max_articles", pa.int32()), ("requests_per_second", pa.float64()),
    ("max_concurrency", pa.int32()), ("timezone", pa.string()),
])
FEED_STATE_SCHEMA = pa.schema([
    ("url", pa.string()), ("etag", pa.string()), ("last_modified", pa.string()), ("body_sha256", pa.string()),
    ("checked_at", pa.timestamp("us", tz="UTC")),
])

# Run rows: per run the most finished row wins (a finish row over a start row), whatever order they merge in.
UPSERT_RUNS = """
INSERT INTO runs (run_id, flow, started_at, finished_at, discovered, fetched, stored, failed, status, parameters)
SELECT run_id, flow, started_at, finished_at, discovered, fetched, stored, failed, status, parameters
FROM lake_runs_batch
QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY finished_at DESC NULLS LAST) = 1
ON CONFLICT (run_id) DO UPDATE SET
    flow = coalesce(runs.flow, excluded.flow),
    started_at = coalesce(runs.started_at, excluded.started_at),
    parameters = coalesce(runs.parameters, excluded.parameters),
    finished_at = coalesce(excluded.finished_at, runs.finished_at),
    discovered = CASE WHEN excluded.finished_at IS NOT NULL THEN excluded.discovered ELSE runs.discovered END,
    fetched = CASE WHEN excluded.finished_at IS NOT NULL THEN excluded.fetched ELSE runs.fetched END,
    stored = CASE WHEN excluded.finished_at IS NOT NULL THEN excluded.stored ELSE runs.stored END,
    failed = CASE WHEN excluded.finished_at IS NOT NULL THEN excluded.failed ELSE runs.failed END,
    status = CASE WHEN excluded.finished_at IS NOT NULL OR runs.finished_at IS NULL THEN excluded.status
                  ELSE runs.status END
"""

MARK_FILES = """
INSERT INTO lake_files (path, lake, table_name, run_id, rows, merged_at)
SELECT path, lake, table_name, run_id, rows, merged_at FROM lake_marks
ON CONFLICT (path) DO NOTHING
"""


class LakeError(RuntimeError):
    pass


def _fs(lake: str | Path) -> tuple[Any, str]:
    """(fsspec filesystem, root path in that filesystem) of a lake URL or local path."""
    from fsspec.core import url_to_fs

    lake = str(lake)
    fs, root = url_to_fs(lake)
    if _is_local(fs):
        root = str(Path(root).resolve())
    return fs, root.rstrip("/")


def _is_local(fs: Any) -> bool:
    proto = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
    return "file" in proto or "local" in proto


def _safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", part) or "_"


_counters: dict[str, Iterator[int]] = {}
_counters_lock = threading.Lock()


def _next_batch_no(run_id: str) -> int:
    with _counters_lock:
        return next(_counters.setdefault(run_id, itertools.count(1)))


# ---------------------------------------------------------------------------------------------------------
# writing


class LakeWriter:
    """Writes one run's rows to the lake; cheap to create (one per task call is fine)."""

    def __init__(self, lake: str | Path, run_id: str) -> None:
        self.lake = str(lake)
        self.run_id = run_id
        self.fs, self.root = _fs(lake)
        self._local = _is_local(self.fs)

    def _dir(self, table: str) -> str:
        return f"{self.root}/{table}/run_id={_safe(self.run_id)}"

    def _write(self, table: str, name: str, data: pa.Table) -> str:
        folder = self._dir(table)
        path = f"{folder}/{name}.parquet"
        meta = dict(data.schema.metadata or {})
        meta[META_WRITTEN] = datetime.now(UTC).isoformat().encode()
        meta[META_RUN] = self.run_id.encode()
        data = data.replace_schema_metadata(meta)
        if self._local:
            self.fs.makedirs(folder, exist_ok=True)
            tmp = f"{folder}/.{name}.parquet.tmp"
            with self.fs.open(tmp, "wb") as f:
                pq.write_table(data, f, compression="zstd")
            self.fs.mv(tmp, path)
        else:  # object stores publish an object only once it is complete
            with self.fs.open(path, "wb") as f:
                pq.write_table(data, f, compression="zstd")
        return path

    def write_batch(self, articles: Sequence[ProcessedArticle], fetch_rows: Sequence[FetchLogRow]) -> LoadCounts:
        """The rows `Warehouse.load` would load, as Parquet files of one batch; the articles file last."""
        unique = list({a.article_id: a for a in articles}.values())  # as Warehouse.load: the last one wins
        tagged = [a for a in unique if a.mentions is not None]
        name = f"batch-{_next_batch_no(self.run_id):05d}-{uuid.uuid4().hex}"
        mentions = mentions_table(tagged)
        parts = {"mentions": mentions, "raw_pages": raw_table(unique), "fetches": fetches_table(fetch_rows, self.run_id)}
        for table in BATCH_TABLES:
            if parts[table].num_rows:
                self._write(table, name, parts[table])
        arts = articles_table(unique, self.run_id)
        # the story is decided when merging (it depends on what is stored); keep the alias URL for url_aliases
        arts = arts.set_column(arts.schema.get_field_index("story_id"), "story_id", pa.nulls(len(unique), pa.string()))
        arts = arts.append_column("fetched_url", pa.array([a.fetched_url for a in unique], pa.string()))
        self._write("articles", name, arts)
        return LoadCounts(articles=len(unique), mentions=mentions.num_rows, fetches=len(fetch_rows))

    def write_run(self, *, flow: str, started_at: datetime, parameters: dict[str, Any],
                  finished_at: datetime | None = None, discovered: int | None = None, fetched: int | None = None,
                  stored: int | None = None, failed: int | None = None, status: str = "running") -> str:
        row = {"run_id": self.run_id, "flow": flow, "started_at": started_at, "finished_at": finished_at,
               "discovered": discovered, "fetched": fetched, "stored": stored, "failed": failed, "status": status,
               "parameters": json.dumps(parameters, ensure_ascii=False, default=str)}
        kind = "start" if finished_at is None else "finish"
        return self._write("runs", f"{kind}-{uuid.uuid4().hex}", pa.Table.from_pylist([row], schema=RUN_SCHEMA))

    def write_sources(self, sources: Sequence[Source]) -> str | None:
        if not sources:
            return None
        rows = [s.settings_dict() for s in sources]
        return self._write("sources", f"sources-{uuid.uuid4().hex}", pa.Table.from_pylist(rows, schema=SOURCE_SCHEMA))

    def write_feed_states(self, states: Sequence[FeedState]) -> str | None:
        if not states:
            return None
        rows = [{"url": s.url, "etag": s.etag, "last_modified": s.last_modified, "body_sha256": s.body_sha256,
                 "checked_at": s.checked_at} for s in states]
        return self._write("feed_state", f"feed_state-{uuid.uuid4().hex}",
                           pa.Table.from_pylist(rows, schema=FEED_STATE_SCHEMA))


# ---------------------------------------------------------------------------------------------------------
# merging


@dataclass(slots=True)
class MergeCounts:
    files: int = 0  # files merged now
    batches: int = 0
    articles: int = 0  # article rows upserted (an article in two batches counts twice)
    mentions: int = 0
    fetches: int = 0
    runs: int = 0
    sources: int = 0
    feed_states: int = 0
    incomplete: int = 0  # files of batches without their articles file (cut short by a crash): not merged
    seconds: float = 0.0
    run_ids: list[str] = field(default_factory=list)


class _MergeWarehouse(Warehouse):
    """Warehouse over one open connection whose transactions also record the lake files they merge.

    `Warehouse.load` and `upsert_sources` run unchanged (same upsert semantics as a direct load); the files
    queued with `mark()` are inserted into `lake_files` in the same transaction, just before COMMIT.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str | Path, lake: str) -> None:
        super().__init__(path)
        self._con = con
        self._lake = lake
        self._marks: list[tuple[str, str, str | None, int]] = []

    def mark(self, rel: str, table: str, run_id: str | None, rows: int) -> None:
        self._marks.append((rel, table, run_id, rows))

    @contextmanager
    def connection(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        yield self._con

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = self._con
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
            if self._marks:
                now = datetime.now(UTC)
                marks = pa.table({
                    "path": [m[0] for m in self._marks], "lake": [self._lake] * len(self._marks),
                    "table_name": [m[1] for m in self._marks], "run_id": [m[2] for m in self._marks],
                    "rows": pa.array([m[3] for m in self._marks], pa.int64()),
                    "merged_at": pa.array([now] * len(self._marks), pa.timestamp("us", tz="UTC")),
                })
                con.register("lake_marks", marks)
                con.execute(MARK_FILES)
                con.unregister("lake_marks")
        except BaseException:
            con.execute("ROLLBACK")
            self._marks.clear()
            raise
        con.execute("COMMIT")
        self._marks.clear()


def _read(fs: Any, path: str) -> pa.Table:
    with fs.open(path, "rb") as f:
        return pq.read_table(f)


def _written_at(fs: Any, path: str) -> str:
    with fs.open(path, "rb") as f:
        meta = pq.read_schema(f).metadata or {}
    return meta.get(META_WRITTEN, b"").decode()


def _run_of(rel: str) -> str | None:
    m = re.search(r"/run_id=([^/]+)/", "/" + rel)
    return m.group(1) if m else None


def articles_from_lake(arts: pa.Table, mentions: pa.Table | None, raw: pa.Table | None) -> list[ProcessedArticle]:
    """The ProcessedArticles a batch's lake files were written from (story_id left to the merge)."""
    by_article: dict[str, list[Mention]] = {}
    for m in (mentions.to_pylist() if mentions is not None else ()):
        by_article.setdefault(m["article_id"], []).append(
            Mention(entity_type=m["entity_type"], text=m["text"], canonical=m["canonical"], start=m["start"],
                    end=m["end"]))
    raws: dict[str, RawPage] = {}
    for r in (raw.to_pylist() if raw is not None else ()):
        raws[r["article_id"]] = RawPage(url=r["url"], source=r["source"], fetched_at=r["fetched_at"],
                                        html_zlib=r["html_zlib"], final_url=r["final_url"], status=r["status"],
                                        content_type=r["content_type"], encoding=r["encoding"],
                                        hint_published_at=r["hint_published_at"])
    out = []
    for a in arts.to_pylist():
        art = ExtractedArticle(
            url=a["url"], title=a["title"], author=a["author"], published_at=a["published_at"],
            language=a["language"], text=a["text"], credit=a["credit"], description=a["description"],
            categories=list(a["categories"] or []), tags=list(a["tags"] or []), image=a["image"],
            modified_at=a["modified_at"], published_evidence=a["published_evidence"])
        tagged = a["ner_backend"] is not None
        out.append(ProcessedArticle(
            article_id=a["article_id"], url=a["url"], source=a["source"], article=art,
            content_hash=a["content_hash"], fetched_at=a["fetched_at"], final_url=a["final_url"],
            mentions=by_article.get(a["article_id"], []) if tagged else None, backend=a["ner_backend"],
            minhash=a["minhash"] or b"", raw=raws.get(a["article_id"]), fetched_url=a.get("fetched_url")))
    return out


def fetch_rows_from_lake(fetches: pa.Table | None) -> list[FetchLogRow]:
    if fetches is None:
        return []
    return [FetchLogRow(url=r["url"], source=r["source"], kind=r["kind"], status=r["status"], error=r["error"],
                        fetched_at=r["fetched_at"], elapsed_ms=r["elapsed_ms"], final_url=r["final_url"],
                        content_type=r["content_type"], bytes=r["bytes"])
            for r in fetches.to_pylist()]


def list_lake(lake: str | Path) -> dict[str, str]:
    """Every Parquet file of the lake: path relative to the lake -> full path in its filesystem."""
    fs, root = _fs(lake)
    if not fs.exists(root):
        return {}
    out = {}
    for p in fs.find(root):
        p = str(p)
        if not p.endswith(".parquet"):
            continue
        rel = p[len(root):].lstrip("/") if p.startswith(root) else p.split(root.lstrip("/"), 1)[-1].lstrip("/")
        if rel.split("/")[-1].startswith("."):
            continue
        out[rel] = p
    return out


def merge_lake(db_path: str | Path, lake: str | Path, *, wait_seconds: float = 300.0,
               on_wait: Callable[[str], None] | None = None,
               log: Callable[[str], None] | None = None) -> MergeCounts:
    """Merge the lake files not merged yet into the DuckDB file, idempotently; returns what was merged.

    Holds the DuckDB file for the duration of the merge (one writer); each batch is one transaction with its
    `lake_files` rows. Complete batches are merged in the order they were written, so the result is that of
    loading them directly in that order.
    """
    started = time.perf_counter()
    counts = MergeCounts()
    fs, _root = _fs(lake)
    lake_s = str(lake)
    con = connect(db_path, wait_seconds=wait_seconds, on_wait=on_wait)
    try:
        migrate(con)
        files = list_lake(lake)  # listed while holding the lock: a concurrent merge has finished by now
        done = {p for (p,) in con.execute("SELECT path FROM lake_files").fetchall()}
        new = {rel: full for rel, full in files.items() if rel not in done}
        if not new:
            counts.seconds = time.perf_counter() - started
            return counts
        wh = _MergeWarehouse(con, db_path, lake_s)
        by_table: dict[str, list[str]] = {}
        for rel in new:
            by_table.setdefault(rel.split("/", 1)[0], []).append(rel)
        runs_seen: set[str] = set()

        # 1. sources (settings as the runs saw them; the last written wins)
        for rel in sorted(by_table.get("sources", []), key=lambda r: _written_at(fs, new[r])):
            tbl = _read(fs, new[rel])
            sources = [Source(name=r["name"], homepage=r["homepage"], feeds=tuple(r["feeds"] or ()),
                              sitemaps=tuple(r["sitemaps"] or ()), max_articles=r["max_articles"],
                              requests_per_second=r["requests_per_second"], max_concurrency=r["max_concurrency"],
                              timezone=r["timezone"]) for r in tbl.to_pylist()]
            wh.mark(rel, "sources", _run_of(rel), tbl.num_rows)
            wh.upsert_sources(sources)
            counts.files += 1
            counts.sources += len(sources)

        # 2. complete batches, in the order they were written
        markers = sorted(by_table.get("articles", []), key=lambda r: (_written_at(fs, new[r]), r))
        complete: set[str] = set()
        for rel in markers:
            name = rel.split("/", 1)[1]  # run_id=<id>/batch-....parquet
            complete.add(name)
            arts = _read(fs, new[rel])
            parts: dict[str, pa.Table | None] = {}
            for table in BATCH_TABLES:
                sib = f"{table}/{name}"
                if sib in new:
                    parts[table] = _read(fs, new[sib])
                    wh.mark(sib, table, _run_of(rel), parts[table].num_rows)
                    counts.files += 1
                else:  # nothing of this kind in the batch
                    parts[table] = None
            run_id = (arts.schema.metadata or {}).get(META_RUN, b"").decode() or _run_of(rel)
            articles = articles_from_lake(arts, parts["mentions"], parts["raw_pages"])
            fetch_rows = fetch_rows_from_lake(parts["fetches"])
            wh.mark(rel, "articles", _run_of(rel), arts.num_rows)
            loaded = wh.load(articles, fetch_rows, run_id)
            counts.files += 1
            counts.batches += 1
            counts.articles += loaded.articles
            counts.mentions += loaded.mentions
            counts.fetches += loaded.fetches
            if run_id:
                runs_seen.add(run_id)
        for table in BATCH_TABLES:
            counts.incomplete += sum(1 for rel in by_table.get(table, []) if rel.split("/", 1)[1] not in complete)

        # 3. feed state of completed runs
        for rel in sorted(by_table.get("feed_state", []), key=lambda r: _written_at(fs, new[r])):
            tbl = _read(fs, new[rel])
            states = [FeedState(url=r["url"], etag=r["etag"], last_modified=r["last_modified"],
                                body_sha256=r["body_sha256"], checked_at=r["checked_at"]) for r in tbl.to_pylist()]
            wh.mark(rel, "feed_state", _run_of(rel), tbl.num_rows)
            with wh.transaction() as c:
                save_feed_states(c, states)
            counts.files += 1
            counts.feed_states += len(states)

        # 4. run rows, after their data
        run_files = sorted(by_table.get("runs", []))
        if run_files:
            tables = [_read(fs, new[rel]) for rel in run_files]
            batch = pa.concat_tables([t.cast(RUN_SCHEMA) for t in tables]).replace_schema_metadata(None)
            for rel, t in zip(run_files, tables):
                wh.mark(rel, "runs", _run_of(rel), t.num_rows)
            with wh.transaction() as c:
                c.register("lake_runs_batch", batch)
                c.execute(UPSERT_RUNS)
                c.unregister("lake_runs_batch")
            counts.files += len(run_files)
            counts.runs = len(set(batch.column("run_id").to_pylist()))
            runs_seen.update(batch.column("run_id").to_pylist())
        counts.run_ids = sorted(runs_seen)
    finally:
        con.close()
    counts.seconds = time.perf_counter() - started
    if log is not None:
        log(f"lake {lake_s}: merged {counts.files} files ({counts.batches} batches: {counts.articles} articles, "
            f"{counts.mentions} mentions, {counts.fetches} fetches; {counts.runs} runs) into {db_path} "
            f"in {counts.seconds:.1f}s" + (f"; {counts.incomplete} files of unfinished batches left"
                                            if counts.incomplete else ""))
    return counts


# ---------------------------------------------------------------------------------------------------------
# views


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def lake_glob(lake: str | Path, table: str) -> str:
    """The glob DuckDB (or any engine) reads a lake table from."""
    lake = str(lake)
    if "://" not in lake:
        lake = str(Path(lake).resolve())
    elif lake.startswith("file://"):
        lake = lake[len("file://"):]
    return f"{lake.rstrip('/')}/{table}/**/*.parquet"


def lake_views(con: duckdb.DuckDBPyConnection, lake: str | Path, *, temporary: bool = True,
               tables: Sequence[str] = VIEW_TABLES) -> list[str]:
    """Create views `lake_<table>` over the lake's Parquet files on this connection; returns the view names.

    Tables with no file yet are skipped. For URLs DuckDB cannot read itself (memory://, or s3:// without the
    httpfs extension), the lake's fsspec filesystem is registered on the connection.
    """
    lake = str(lake)
    files = list_lake(lake)
    if "://" in lake and not lake.startswith("file://"):
        fs, _ = _fs(lake)
        try:
            con.register_filesystem(fs)
        except Exception:
            pass
    made = []
    for table in tables:
        if not any(rel.startswith(f"{table}/") for rel in files):
            continue
        name = f"lake_{table}"
        temp = "TEMP " if temporary else ""
        con.execute(f"CREATE OR REPLACE {temp}VIEW {name} AS SELECT * FROM read_parquet("
                    f"{_sql_str(lake_glob(lake, table))}, hive_partitioning = true, union_by_name = true)")
        made.append(name)
    return made
