"""The lake: many writers, one truth.

Workers write each batch as Parquet files to a lake directory (a local path or any fsspec URL: `file://`,
`s3://bucket/akhbar` with s3fs, `gs://` with gcsfs, `memory://` in tests) instead of opening the DuckDB file, and
one loader, `merge_lake`, merges the files it has not merged yet into DuckDB with the same idempotent upsert as a
direct load (warehouse.loader.load_batch: articles by `article_id`, mentions replaced per article, entities
refreshed, near duplicates clustered, fetch log appended). So concurrent runs never fight over the DuckDB lock,
and a crashed run's finished batches are merged by the next merge.

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
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from extractors.config import Source
from extractors.discover.feed_state import FeedState
from extractors.records import FetchLogRow, ProcessedArticle
from warehouse.arrow_records import (
    articles_table,
    fetch_rows,
    fetches_table,
    mentions_table,
    processed_articles,
    raw_table,
    spec_table,
)
from warehouse.connection import connect, migrate, transaction
from warehouse.feed_states import save_feed_states
from warehouse.loader import LoadCounts, load_batch, registered
from warehouse.store import upsert_sources
from warehouse.tables import FEED_STATE, LAKE_FILES, RUNS, SOURCES

BATCH_TABLES = ("mentions", "raw_pages", "fetches")  # written before the batch's articles file
VIEW_TABLES = ("articles", "mentions", "fetches", "runs")
META_WRITTEN = b"akhbar.written_at"
META_RUN = b"akhbar.run_id"

RUN_SCHEMA = RUNS.arrow_schema()
SOURCE_SCHEMA = SOURCES.arrow_schema(without=("updated_at",))  # the merge stamps updated_at

# Run rows: per run the most finished row wins (a finish row over a start row), whatever order they merge in.
UPSERT_RUNS = f"""
INSERT INTO runs ({RUNS.column_list()})
SELECT {RUNS.column_list()}
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
                  ELSE runs.status END,
    ner_backend = coalesce(excluded.ner_backend, runs.ner_backend),
    ner_model = coalesce(excluded.ner_model, runs.ner_model)
"""

MARK_FILES = f"""
INSERT INTO lake_files ({LAKE_FILES.column_list()})
SELECT {LAKE_FILES.column_list()} FROM lake_marks
ON CONFLICT (path) DO NOTHING
"""
MERGED_FILES = "SELECT path FROM lake_files"


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
        """The rows a direct load would load, as Parquet files of one batch; the articles file last."""
        unique = list({a.article_id: a for a in articles}.values())  # as a direct load: the last one wins
        tagged = [a for a in unique if a.mentions is not None]
        name = f"batch-{_next_batch_no(self.run_id):05d}-{uuid.uuid4().hex}"
        mentions = mentions_table(tagged)
        parts = {"mentions": mentions, "raw_pages": raw_table(unique),
                 "fetches": fetches_table(fetch_rows, self.run_id)}
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
                  stored: int | None = None, failed: int | None = None, status: str = "running",
                  ner_backend: str | None = None, ner_model: str | None = None) -> str:
        row = {"run_id": self.run_id, "flow": flow, "started_at": started_at, "finished_at": finished_at,
               "discovered": discovered, "fetched": fetched, "stored": stored, "failed": failed, "status": status,
               "parameters": json.dumps(parameters, ensure_ascii=False, default=str),
               "ner_backend": ner_backend, "ner_model": ner_model}
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
        return self._write("feed_state", f"feed_state-{uuid.uuid4().hex}", spec_table(FEED_STATE, states))


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


@dataclass(slots=True)
class _Merge:
    """One merge in progress: the open connection, the lake files not merged yet (relative path -> full path)
    by table, and the files read since the last commit, to be recorded in `lake_files` with their rows."""

    con: duckdb.DuckDBPyConnection
    fs: Any
    lake: str
    new: dict[str, str]
    counts: MergeCounts = field(default_factory=MergeCounts)
    runs_seen: set[str] = field(default_factory=set)
    marks: list[tuple[str, str, str | None, int]] = field(default_factory=list)

    def files_of(self, table: str) -> list[str]:
        return [rel for rel in self.new if rel.split("/", 1)[0] == table]

    def by_write_time(self, table: str) -> list[str]:
        return sorted(self.files_of(table), key=lambda rel: (_written_at(self.fs, self.new[rel]), rel))

    def read(self, rel: str) -> pa.Table:
        """The file's rows; the file is recorded as merged by the next commit."""
        data = _read(self.fs, self.new[rel])
        self.marks.append((rel, rel.split("/", 1)[0], _run_of(rel), data.num_rows))
        self.counts.files += 1
        return data

    @contextmanager
    def commit(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction holding the block's rows and the `lake_files` rows of the files read for them."""
        try:
            with transaction(self.con):
                yield self.con
                self._record_marks()
        finally:
            self.marks.clear()

    def _record_marks(self) -> None:
        if not self.marks:
            return
        now = datetime.now(UTC)
        marks = pa.table({
            "path": [m[0] for m in self.marks], "lake": [self.lake] * len(self.marks),
            "table_name": [m[1] for m in self.marks], "run_id": [m[2] for m in self.marks],
            "rows": [m[3] for m in self.marks], "merged_at": [now] * len(self.marks),
        }, schema=LAKE_FILES.arrow_schema())
        with registered(self.con, {"lake_marks": marks}):
            self.con.execute(MARK_FILES)


def _source_of(row: dict[str, Any]) -> Source:
    return Source(name=row["name"], homepage=row["homepage"], feeds=tuple(row["feeds"] or ()),
                  sitemaps=tuple(row["sitemaps"] or ()), max_articles=row["max_articles"],
                  requests_per_second=row["requests_per_second"], max_concurrency=row["max_concurrency"],
                  timezone=row["timezone"])


def _merge_sources(m: _Merge) -> None:
    """Sources' settings as the runs saw them; the last written wins."""
    for rel in m.by_write_time("sources"):
        sources = [_source_of(r) for r in m.read(rel).to_pylist()]
        with m.commit() as con:
            upsert_sources(con, sources)
        m.counts.sources += len(sources)


def _merge_batch(m: _Merge, rel: str) -> None:
    """One complete batch (its articles file and the other files of the same name), in one transaction."""
    name = rel.split("/", 1)[1]  # run_id=<id>/batch-....parquet
    arts = m.read(rel)
    parts = {table: m.read(f"{table}/{name}") if f"{table}/{name}" in m.new else None for table in BATCH_TABLES}
    run_id = (arts.schema.metadata or {}).get(META_RUN, b"").decode() or _run_of(rel)
    articles = processed_articles(arts, parts["mentions"], parts["raw_pages"])
    with m.commit() as con:
        loaded = load_batch(con, articles, fetch_rows(parts["fetches"]), run_id)
    m.counts.batches += 1
    m.counts.articles += loaded.articles
    m.counts.mentions += loaded.mentions
    m.counts.fetches += loaded.fetches
    if run_id:
        m.runs_seen.add(run_id)


def _merge_batches(m: _Merge) -> None:
    """Complete batches, in the order they were written; files of batches without an articles file wait."""
    markers = m.by_write_time("articles")
    for rel in markers:
        _merge_batch(m, rel)
    complete = {rel.split("/", 1)[1] for rel in markers}
    for table in BATCH_TABLES:
        m.counts.incomplete += sum(1 for rel in m.files_of(table) if rel.split("/", 1)[1] not in complete)


def _merge_feed_states(m: _Merge) -> None:
    """Feed state of completed runs."""
    for rel in m.by_write_time("feed_state"):
        states = [FeedState(**r) for r in m.read(rel).to_pylist()]
        with m.commit() as con:
            save_feed_states(con, states)
        m.counts.feed_states += len(states)


def _run_rows(table: pa.Table) -> pa.Table:
    """A lake's runs file as RUN_SCHEMA: files written before a column existed get it as NULLs."""
    for name in RUN_SCHEMA.names:
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(table.num_rows, RUN_SCHEMA.field(name).type))
    return table.select(RUN_SCHEMA.names).cast(RUN_SCHEMA)


def _merge_runs(m: _Merge) -> None:
    """Run rows, after their data: all files at once, so a run's finish row wins over its start row."""
    run_files = sorted(m.files_of("runs"))
    if not run_files:
        return
    tables = [m.read(rel) for rel in run_files]
    batch = pa.concat_tables([_run_rows(t) for t in tables]).replace_schema_metadata(None)
    with m.commit() as con, registered(con, {"lake_runs_batch": batch}):
        con.execute(UPSERT_RUNS)
    run_ids = batch.column("run_id").to_pylist()
    m.counts.runs = len(set(run_ids))
    m.runs_seen.update(run_ids)


def _merge_message(counts: MergeCounts, lake: str, db_path: str | Path) -> str:
    unfinished = f"; {counts.incomplete} files of unfinished batches left" if counts.incomplete else ""
    return (f"lake {lake}: merged {counts.files} files ({counts.batches} batches: {counts.articles} articles, "
            f"{counts.mentions} mentions, {counts.fetches} fetches; {counts.runs} runs) into {db_path} "
            f"in {counts.seconds:.1f}s{unfinished}")


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
    con = connect(db_path, wait_seconds=wait_seconds, on_wait=on_wait)
    try:
        migrate(con)
        files = list_lake(lake)  # listed while holding the lock: a concurrent merge has finished by now
        done = {p for (p,) in con.execute(MERGED_FILES).fetchall()}
        new = {rel: full for rel, full in files.items() if rel not in done}
        if not new:
            counts.seconds = time.perf_counter() - started
            return counts
        merge = _Merge(con=con, fs=_fs(lake)[0], lake=str(lake), new=new, counts=counts)
        for step in (_merge_sources, _merge_batches, _merge_feed_states, _merge_runs):
            step(merge)
        counts.run_ids = sorted(merge.runs_seen)
    finally:
        con.close()
    counts.seconds = time.perf_counter() - started
    if log is not None:
        log(_merge_message(counts, str(lake), db_path))
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
        with suppress(Exception):
            con.register_filesystem(fs)
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
