"""The `akhbar` command line (docs/ARCHITECTURE.md, contracts).

Every command is a `cmd_*` function taking the parsed arguments and returning the exit code; heavy modules
(Prefect, the extractors) are imported by the commands that need them, so `akhbar query` starts fast. The
`AKHBAR_*` settings are validated before any command runs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TextIO, TypeVar

import flows  # noqa: F401  (telemetry defaults before Prefect loads)
from extractors.config import VERSION, ConfigError, load_config
from extractors.discover.urls import BadURL, canonical_url, without_userinfo
from extractors.entities.base import BACKENDS
from flows.cli_common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, positive_int
from flows.cli_common import error as _err
from flows.local_api import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    PrefectUnavailable,
    Terminated,
    prefect_api,
    raise_if_stop_requested,
    stop_signal,
    stop_signals,
)
from flows.settings import SettingsError, load_settings
from warehouse.connection import (
    DEFAULT_DB_PATH,
    WarehouseError,
    check_database,
    is_lake,
    location_problem,
    storage_problem,
)
from warehouse.formatting import DEFAULT_CELL_WIDTH
from warehouse.lake_location import catalog_file, display_location
from warehouse.queries import QueryArgumentError

if TYPE_CHECKING:
    from prefect import Flow

    from extractors.discover.probe import SourceCheck
    from flows.ingest import Backend
    from flows.run_summary import ProgressEvent, RunSummary

DEMO_DB_PATH = "data/demo.duckdb"
FORMATS = ["table", "csv", "json"]

P = ParamSpec("P")
R = TypeVar("R")


class UsageError(ValueError):
    """A bad argument: its message is printed as one error line and the command exits 2."""


def _write(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _with_configured_runner(flow: Flow[P, R]) -> Flow[P, R]:
    """The flow with the task runner AKHBAR_TASK_RUNNER names (validated when the command line started)."""
    from flows.runners import configured_task_runner

    return flow.with_options(task_runner=configured_task_runner())


class ProgressDisplay:
    """A long command's progress on standard error: a bar on a terminal (rich, which Prefect brings), one plain
    line per report otherwise (a pipe, a log file, cron). Fed with the runs' ProgressEvents, or by hand."""

    def __init__(self, what: str, unit: str, stream: TextIO | None = None) -> None:
        self.what, self.unit = what, unit
        self.stream = stream or sys.stderr
        self.done = 0
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> ProgressDisplay:
        if self.stream.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn(f"{self.unit}  {{task.fields[note]}}"), TimeElapsedColumn(),
                                 console=Console(file=self.stream), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.what, total=None, note="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def update(self, done: int, total: int | None, note: str) -> None:
        self.done = max(self.done, done)  # fetched and loaded counts arrive interleaved: never step back
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, total=total or None, note=note)
        else:  # written, not print()ed: a flow with log_prints would turn a print into a log record
            self.stream.write(f"akhbar: {self.what}: {self.done}/{total if total else '?'} {self.unit}, {note}\n")
            self.stream.flush()

    def run_event(self, event: ProgressEvent) -> None:
        self.update(event.done, event.total, f"{event.stored} stored, {event.failed} failed ({event.stage})")


@contextmanager
def _run_progress(what: str, unit: str) -> Iterator[None]:
    """Show the progress of the runs made while the block runs."""
    from flows.run_summary import progress_listener

    with ProgressDisplay(what, unit) as display, progress_listener(display.run_event):
        yield


def _print_summary(summary: RunSummary, *, max_failures: int = 10) -> None:
    print()
    print(f"run {summary.run_id} finished in {summary.seconds:.1f}s")
    print(f"  discovered {summary.discovered}, fetched {summary.fetched}, stored {summary.stored}, "
          f"failed {summary.failed}, mentions {summary.mentions}")
    if summary.skipped:
        print(f"  skipped {summary.skipped}: another run into the same warehouse was fetching them (it stores them)")
    for name, st in summary.per_source.items():
        extra = f"  ({'; '.join(st.errors)})" if st.errors else ""
        print(f"  source {name}: discovered {st.discovered}, stored {st.stored}, failed {st.failed}{extra}")
    if summary.failures:
        print(f"  failures ({len(summary.failures)}; all are in the fetches table):")
        for url, reason in summary.failures[:max_failures]:
            print(f"    {url}: {reason}")
        if len(summary.failures) > max_failures:
            print(f"    ... and {len(summary.failures) - max_failures} more")
    print(f"  database: {display_location(summary.db_path)}")


def cell_width(text: str) -> int | None:
    """An argparse type for --width: characters per table cell, 0 for no cut (None)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number (0: no cut), got {text!r}") from None
    if value < 0 or 0 < value < 4:
        raise argparse.ArgumentTypeError(f"must be 0 (no cut) or at least 4, got {value}")
    return value or None


def since_date(text: str) -> date:
    """An argparse type: a UTC day (YYYY-MM-DD) not in the future, for a backfill."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a date such as 2024-02-01 (YYYY-MM-DD), got {text!r}") from None
    if day > datetime.now(UTC).date():
        raise argparse.ArgumentTypeError(f"{day} is in the future: nothing to backfill yet")
    return day


class OneLineParser(argparse.ArgumentParser):
    """argparse's errors as one line naming the option, exit 2 (its default prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"akhbar: error: {message} (see `{self.prog} --help`)\n")


def check_ingest(args: argparse.Namespace) -> None:
    """Before Prefect starts: the sources file (ConfigError: exit 2) and the warehouse."""
    load_config(args.sources)
    check_writable_warehouse(args)


def cmd_ingest(args: argparse.Namespace) -> int:
    from flows.ingest import ingest

    with _run_progress("ingest", "URLs"):
        summary = _with_configured_runner(ingest)(
            sources_file=args.sources, db_path=args.db, limit=args.limit,
            allow_private_addresses=args.allow_private_addresses, backend=args.backend, data_path=args.data_path,
            shared_politeness=args.shared_politeness, since=args.since)
    _print_summary(summary)
    return EXIT_OK


def _when(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if moment else "unknown (no dates)"


def _source_check_lines(check: SourceCheck) -> list[str]:
    """One source's probe as text: a head line, then one line per robots.txt, feed and sitemap."""
    state = "healthy" if check.healthy else "UNHEALTHY"
    lines = [f"{check.name}: {state}, {check.article_urls} article URLs, newest {_when(check.newest)}"]
    for robots in check.robots:
        lines.append(f"  robots.txt    {robots.status or '-':>3}  {robots.url}  {robots.verdict}")
    for doc in check.documents:
        unit = "sitemaps" if doc.kind == "sitemap-index" else "items"
        what = doc.error or f"{doc.items} {unit}, newest {_when(doc.newest)}"
        lines.append(f"  {doc.kind:13} {doc.status or '-':>3}  {doc.url}  {what}")
    if not check.documents:
        lines.append("  no feed or sitemap was read" + (f": {check.errors[0]}" if check.errors else ""))
    return lines


def _source_check_json(check: SourceCheck) -> dict[str, Any]:
    from dataclasses import asdict

    return {**asdict(check), "healthy": check.healthy}


def cmd_sources(args: argparse.Namespace) -> int:
    """`akhbar sources check FILE`: the file validated (exit 2 when it is not), then every source probed."""
    import asyncio

    from extractors.discover.probe import check_sources

    config = load_config(args.file)
    checks = asyncio.run(check_sources(config, allow_private_addresses=args.allow_private_addresses))
    healthy = sum(c.healthy for c in checks)
    if args.format == "json":
        _write(json.dumps([_source_check_json(c) for c in checks], ensure_ascii=False, indent=1,
                          default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)))
    else:
        for check in checks:
            _write("\n".join(_source_check_lines(check)))
        print(f"{args.file}: valid; {healthy} of {len(checks)} sources healthy (a check: nothing was fetched "
              "beyond robots.txt, feeds and sitemaps, nothing stored)")
    return EXIT_ERROR if args.strict and healthy < len(checks) else EXIT_OK


def check_migrate_warehouse(args: argparse.Namespace) -> None:
    """`--from` an existing DuckDB file, `--to` a lake that can be written (before DuckDB starts copying)."""
    source = args.source
    if is_lake(source):
        raise UsageError(f"--from {source}: give the DuckDB file to copy (a ducklake: warehouse is the --to side)")
    if not Path(source).is_file():
        raise UsageError(f"--from {source}: no such DuckDB file")
    if not is_lake(args.to):
        raise UsageError(f"--to {args.to}: give a ducklake: warehouse, e.g. ducklake:sqlite:data/akhbar.sqlite")
    check_location(args.to, args.data_path, writing=True)
    check_database(source)


def cmd_migrate_warehouse(args: argparse.Namespace) -> int:
    """Copy a DuckDB file into a lake table by table; exit 1 when a table's rows did not all arrive."""
    from warehouse.lake_copy import copy_warehouse

    source = Path(args.source)
    copies = copy_warehouse(source, args.to, args.data_path)
    for copy in copies:
        print(f"{copy.table}: {copy.source_rows} -> {copy.target_rows} rows")
    short = [c.table for c in copies if c.source_rows != c.target_rows]
    if short:
        _err(f"the row counts of {', '.join(short)} differ between {source} and {display_location(args.to)}: the "
             "copy is incomplete")
        return EXIT_ERROR
    print(f"copied {len(copies)} tables from {source} into {display_location(args.to)}")
    return EXIT_OK


def _checked_urls(urls: list[str]) -> list[str]:
    """The URLs as given, each checked before Prefect starts (exit 2 on the first unusable one), with any
    `user:password@` removed: akhbar never sends such credentials, and Prefect would store them with the run."""
    for url in urls:
        try:
            canonical_url(url)
        except BadURL as exc:
            raise UsageError(f"not an http(s) article URL: {without_userinfo(url)!r} ({exc})") from None
    cleaned = [without_userinfo(u) for u in urls]
    if cleaned != urls:
        print("akhbar: credentials in URLs are neither sent nor stored: removed them", file=sys.stderr)
    return cleaned


def check_ingest_urls(args: argparse.Namespace) -> None:
    args.urls = _checked_urls(args.urls)
    check_writable_warehouse(args)


def check_location(db: str, data_path: str | None, *, writing: bool) -> None:
    """--db and --data-path together (a PostgreSQL catalog written without --data-path, a lake that exists with
    another data path, ...): UsageError."""
    problem = location_problem(db, data_path, writing=writing)
    if problem:
        raise UsageError(problem)
    if writing and data_path and is_lake(db):
        check_lake_data_path(db, data_path)


def check_lake_data_path(db: str, data_path: str) -> None:
    """A lake keeps the data path it was made with: another --data-path would fail once the run has started
    (DuckLake refuses to attach with it), so it is refused first, naming both."""
    from warehouse.queries import lake_data_path, same_data_path

    held = lake_data_path(db)
    if held is not None and not same_data_path(data_path, held):
        raise UsageError(f"--data-path {data_path} is not the data path of {display_location(db)}, which keeps its "
                         f"files in {held}: leave --data-path out (the catalog remembers it) or give that one")


def check_writable_warehouse(args: argparse.Namespace) -> None:
    """--db and --data-path of a command that writes, before Prefect starts; a DuckDB file is checked cheaply."""
    check_location(args.db, args.data_path, writing=True)
    if not is_lake(args.db):
        check_database_arg(args.db)


def check_reprocess(args: argparse.Namespace) -> None:
    """Reprocessing needs a warehouse with archived pages: a missing one is an error (exit 1), before Prefect."""
    check_writable_warehouse(args)
    local = catalog_file(args.db) if is_lake(args.db) else Path(args.db)  # None: a catalog on a server
    if local is not None and not local.exists():
        raise WarehouseError(f"no database at {display_location(args.db)}: nothing to reprocess (pass --db)")


def check_serve(args: argparse.Namespace) -> None:
    """The warehouse the served runs will write."""
    check_location(args.db, args.data_path, writing=True)


def check_warehouse_location(args: argparse.Namespace) -> None:
    """--db of every command that takes one (and --data-path with it), before anything slow starts: a password in
    a PostgreSQL catalog, a lake that names no catalog, ... The writing commands' own checks add what writing
    needs (a PostgreSQL catalog's --data-path)."""
    db = getattr(args, "db", None)
    if db is not None:
        check_location(str(db), getattr(args, "data_path", None), writing=False)


def check_database_arg(db: str) -> None:
    """--db (a DuckDB file) before Prefect starts: a directory is a usage error; a damaged or foreign file a
    one-line error."""
    if Path(db).is_dir():
        raise UsageError(f"--db {db} is a directory; give the path of a DuckDB file, e.g. {Path(db) / 'akhbar.duckdb'}")
    check_database(db)


def cmd_ingest_urls(args: argparse.Namespace) -> int:
    from flows.ingest import ingest_urls

    with _run_progress("ingest-urls", "URLs"):
        summary = _with_configured_runner(ingest_urls)(
            urls=args.urls, db_path=args.db, source=args.source,
            allow_private_addresses=args.allow_private_addresses, backend=args.backend, data_path=args.data_path)
    _print_summary(summary)
    return EXIT_OK


def _demo_ingest(db: Path, backend: Backend) -> RunSummary:
    """Serve the bundled sample site and ingest it into a new file that replaces `db` only once the run has
    completed: an interrupted or failed demo leaves the previous demo database as it was."""
    from flows.ingest import ingest
    from flows.runners import task_runner_from_spec
    from flows.sample_site import StaticSite
    from warehouse.report import build_report

    db.parent.mkdir(parents=True, exist_ok=True)
    with StaticSite() as site, tempfile.TemporaryDirectory(dir=db.parent, prefix=".demo-") as tmp:
        building = Path(tmp) / db.name
        sources = Path(tmp) / "sources.toml"
        sources.write_text(site.sources_toml(), encoding="utf-8")
        print(f"serving the bundled sample site at {site.base_url}")
        # 16 pages: threads, no process workers to start
        summary = ingest.with_options(task_runner=task_runner_from_spec("thread"))(
            sources_file=str(sources), db_path=str(building), allow_private_addresses=True, backend=backend,
            write_report=False)
        raise_if_stop_requested()  # a Ctrl-C that Prefect swallowed as the run ended still keeps the old demo
        Path(f"{db}.wal").unlink(missing_ok=True)
        os.replace(building, db)
    summary.db_path = str(db)
    summary.report_path = str(build_report(db).out_path)
    return summary


def check_demo(args: argparse.Namespace) -> None:
    if is_lake(args.db):
        raise UsageError(f"--db {args.db}: the demo builds a DuckDB file (it replaces it on each run); ingest into a "
                         "lake with `akhbar ingest`, or copy the demo into one with `akhbar migrate-warehouse`")


def cmd_demo(args: argparse.Namespace) -> int:
    from warehouse.formatting import to_table
    from warehouse.queries import run_query

    db = Path(args.db)
    _print_summary(_demo_ingest(db, args.backend))
    cols, rows = run_query(db, "top-entities", {"limit": "10"})
    print(f"\ntop entities (akhbar query top-entities --db {db}):")
    print(to_table(cols, rows))
    print("\ntry:")
    print(f"  akhbar query articles-per-day --db {db}")
    print(f"  akhbar query \"SELECT title, published_at, author FROM articles ORDER BY published_at DESC\" --db {db}")
    print(f"  akhbar search العراق --db {db}")
    shell = duckdb_shell()
    if shell:
        print(f"  {shell} -readonly {db}    (the DuckDB shell)")
    return EXIT_OK


def duckdb_shell() -> str | None:
    """The DuckDB shell of the version akhbar's duckdb is (the duckdb-cli package, installed beside this Python),
    else None: the demo then suggests only what is there. Another `duckdb` on PATH may be too old for the file."""
    import shutil

    beside = shutil.which("duckdb", path=str(Path(sys.executable).parent))
    if beside is None:
        return None
    return "duckdb" if shutil.which("duckdb") == beside else beside


def _fetched_at(text: str | None) -> datetime | None:
    """--fetched-at as an aware date-time (UTC when it names no zone); UsageError when it is not ISO 8601."""
    if not text:
        return None
    try:
        fetched_at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--fetched-at must be an ISO 8601 date-time, got {text!r}") from None
    return fetched_at if fetched_at.tzinfo is not None else fetched_at.replace(tzinfo=UTC)


def cmd_extract(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        _err(f"no such file: {path}")
        return EXIT_ERROR
    fetched_at = _fetched_at(args.fetched_at)
    timezone = _timezone(args.timezone)  # checked before the extractors' slow import
    url = args.url or path.resolve().as_uri()
    from extractors.extract.article import ExtractionError, article_to_json, extract_article

    try:
        article = extract_article(path.read_bytes(), url, fetched_at=fetched_at, timezone=timezone)
    except ExtractionError as exc:
        _err(f"{path}: no article found ({exc})")
        return EXIT_ERROR
    # `timezone`: the zone assumed for dates and times the page prints without one («10:45 مساءً»)
    print(json.dumps({**article_to_json(article), "timezone": timezone}, ensure_ascii=False, indent=1))
    return EXIT_OK


def _timezone(name: str) -> str:
    """--timezone as a known IANA zone name; UsageError otherwise (dates would silently be read as UTC)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if name.upper() in ("UTC", "Z", "GMT"):
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--timezone must be an IANA zone name such as Asia/Beirut or UTC, got {name!r}") from None
    return name


def _params(pairs: list[str]) -> dict[str, str]:
    out = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep or not key:
            raise UsageError(f"--param must look like KEY=VALUE, got {p!r}")
        out[key.strip()] = value
    return out


def _list_queries() -> int:
    from warehouse.queries import named_queries

    for q in named_queries().values():
        params = ", ".join(f"{k}={v}" if v else k for k, v in q.defaults.items())
        print(f"{q.name:20} {q.description}" + (f"  [params: {params}]" if params else ""))
    return EXIT_OK


def cmd_query(args: argparse.Namespace) -> int:
    from warehouse.formatting import render
    from warehouse.queries import run_query

    if args.list:
        return _list_queries()
    if not args.query:
        raise UsageError("give a named query or SQL (see `akhbar query --list`)")
    cols, rows = run_query(args.db, args.query, _params(args.param), allow_files=args.allow_files,
                           as_of=args.as_of)
    _write(render(cols, rows, args.format, cap=args.width))
    return EXIT_OK


def as_of_moment(text: str) -> datetime:
    """An argparse type for --as-of: an ISO 8601 date or date-time (UTC when it names no zone)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an ISO 8601 date-time such as 2026-01-31T18:00:00Z, "
                                         f"got {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def check_query(args: argparse.Namespace) -> None:
    """--as-of reads a past snapshot, which only a lake keeps."""
    if args.as_of is not None and not is_lake(args.db):
        raise UsageError(f"--as-of needs a ducklake: warehouse ({args.db} is a DuckDB file, which keeps no past "
                         "snapshots; see `akhbar migrate-warehouse`)")


def cmd_serve(args: argparse.Namespace) -> int:
    from flows.serve import ServedPolicy, ServeError, ServeUsageError, serve

    policy = ServedPolicy(Path.cwd().resolve(), allow_any_path=args.allow_any_path,
                          allow_private_addresses=args.allow_private_addresses)
    try:
        return serve(host=args.host, port=args.port, db_path=args.db, sources_file=args.sources,
                     insecure=args.insecure, policy=policy, data_path=args.data_path)
    except ServeUsageError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except ServeError as exc:
        _err(str(exc))
        return EXIT_ERROR


def _search_index_state(db: str, reindex: bool) -> str:
    from warehouse.connection import connect
    from warehouse.search import index_state

    if reindex:
        return "stale"
    con = connect(db, read_only=True, wait_seconds=30)
    try:
        return index_state(con)
    finally:
        con.close()


def _refresh_search_index(db: str, reindex: bool) -> None:
    """Bring the index up to date when it is not (always with reindex)."""
    from warehouse.search import SearchIndexMissing, refresh_search_index

    state = _search_index_state(db, reindex)
    if state == "fresh":
        return
    # The index lives in the database file: building it needs the write lock for a moment. While an
    # ingest holds it, a stale index is still searched (with a note); a missing one waits for the lock.
    ok = refresh_search_index(db, force=reindex, wait_seconds=300 if state == "missing" else 5,
                              log=lambda msg: print(f"akhbar: {msg}", file=sys.stderr))
    if not ok and state == "missing":
        raise SearchIndexMissing(f"could not build the search index of {display_location(db)} (see above)")
    if not ok:
        print("akhbar: note: searching the previous index; articles stored since are not in it yet", file=sys.stderr)


def _rebuild_lake_search_cache(db: str) -> None:
    """--reindex on a lake: its local cache rebuilt now (search itself rebuilds it only when the lake changed);
    WarehouseError, one line with the reason, when it could not be."""
    from warehouse.search import NOT_REBUILT, refresh_search_index

    reasons: list[str] = []

    def log(message: str) -> None:  # notes (waiting for a lock) as they come; the failure goes into the error
        if message.startswith(NOT_REBUILT):
            reasons.append(message.removeprefix(NOT_REBUILT))
        else:
            print(f"akhbar: {message}", file=sys.stderr)

    if not refresh_search_index(db, force=True, log=log):
        reason = reasons[-1] if reasons else "see above"
        raise WarehouseError(f"the search index of {display_location(db)} was not rebuilt: {reason}")


def cmd_search(args: argparse.Namespace) -> int:
    from warehouse.formatting import render
    from warehouse.search import hit_rows, search

    db = args.db
    if is_lake(db):  # the index is a local cache of the lake, brought up to date by search itself when behind
        if args.reindex:
            _rebuild_lake_search_cache(db)
    elif not Path(db).exists():
        _err(f"no database at {db}: run `akhbar ingest` or `akhbar demo` first, or pass --db")
        return EXIT_ERROR
    else:
        _refresh_search_index(db, args.reindex)
    if not args.text:
        if args.reindex:
            print(f"search index of {display_location(db)} rebuilt")
            return EXIT_OK
        raise UsageError("give some words to search for")
    hits = search(db, " ".join(args.text), limit=args.limit, source=args.source or "", match_all=args.all)
    cols, rows = hit_rows(hits)
    _write(render(cols, rows, args.format, cap=args.width))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from warehouse.export import export_parquet

    try:
        Path(args.dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write the export to {args.dir}: {exc.strerror}") from None
    with ProgressDisplay("export", "tables") as display:
        def table_done(table: str, rows: int, done: int, total: int) -> None:
            display.update(done, total, f"{table}: {rows} rows")

        result = export_parquet(args.db, args.dir, on_table=table_done)
    total = sum(result.rows.values())
    print(f"exported {total} rows from {display_location(args.db)} to {result.out_dir} in {result.seconds:.1f}s:")
    for table, n in result.rows.items():
        print(f"  {table}: {n}")
    print(f"read with: SELECT * FROM read_parquet('{result.out_dir}/articles/**/*.parquet', hive_partitioning = true)")
    return EXIT_OK


def cmd_reprocess(args: argparse.Namespace) -> int:
    from flows.reprocess import reprocess

    with _run_progress("reprocess", "pages"):
        summary = _with_configured_runner(reprocess)(db_path=args.db, backend=args.backend, source=args.source,
                                                     data_path=args.data_path)
    print(f"reprocessed {summary.stored + summary.failed} archived pages in {summary.seconds:.1f}s: "
          f"{summary.stored} articles updated, {summary.failed} failed, {summary.mentions} mentions")
    for url, reason in summary.failures[:10]:
        print(f"  {url}: {reason}")
    return EXIT_OK


# ------------------------------------------------------------------------------------------------ the parser


@dataclass(frozen=True, slots=True)
class Option:
    """One `add_argument` call: the flags (or the positional name) and its keyword arguments."""

    flags: tuple[str, ...]
    settings: dict[str, Any]


def option(*flags: str, **settings: Any) -> Option:
    return Option(flags, settings)


def db_option(default: str = DEFAULT_DB_PATH) -> Option:
    return option("--db", default=default, metavar="PATH_OR_LAKE",
                  help=f"the warehouse: a DuckDB file (default: {default}) or ducklake:CATALOG, CATALOG being a "
                       ".ducklake file, sqlite:PATH or postgres:DSN (many writers at once)")


DATA_PATH = option("--data-path", default=None, metavar="DIR_OR_URL",
                   help="where a ducklake: warehouse keeps its Parquet files, e.g. s3://bucket/prefix (needed when "
                        "the lake is created: default beside a file catalog, required for postgres:; the catalog "
                        "remembers it)")


BACKEND = option("--backend", default="auto", choices=BACKENDS,
                 help="entity recogniser (default: auto = camel when its model is installed, else crf)")
TABLE_FORMAT = option("--format", default="table", choices=FORMATS,
                      help="table (cells cut at --width characters), csv or json (one array of objects); "
                           "default: table")
TABLE_WIDTH = option("--width", type=cell_width, default=DEFAULT_CELL_WIDTH, metavar="N",
                     help=f"cut table cells at N characters (default: {DEFAULT_CELL_WIDTH}); 0: no cut, for "
                          "copying whole URLs and texts")
PRIVATE_ADDRESSES = option("--allow-private-addresses", action="store_true",
                           help="allow private, loopback and link-local addresses (local test sites)")


@dataclass(frozen=True, slots=True)
class Command:
    """A subcommand: its name, its help line, the function that runs it and its options, in help order."""

    name: str
    help: str
    run: Callable[[argparse.Namespace], int]
    options: tuple[Option, ...]
    runs_flows: bool = False  # needs a Prefect API (started for the command when none is configured)
    check: Callable[[argparse.Namespace], None] | None = None  # argument checks that run before Prefect starts


COMMANDS = (
    Command("ingest", "run the ingest flow for every source in a sources.toml", cmd_ingest, (
        option("--sources", required=True, help="sources.toml file"),
        db_option(),
        option("--limit", type=positive_int, default=None, help="at most N new articles per source this run"),
        option("--since", type=since_date, default=None, metavar="DATE",
               help="backfill: only feed and sitemap entries dated on or after this UTC day (YYYY-MM-DD), every "
                    "child of a sitemap index from that day on; max_articles does not apply, --limit does"),
        DATA_PATH,
        PRIVATE_ADDRESSES,
        BACKEND,
        option("--shared-politeness", action="store_true", default=None,
               help="keep each host's limits across all workers through the Prefect server's global "
                    "concurrency limits (default: the AKHBAR_SHARED_POLITENESS environment variable)"),
    ), runs_flows=True, check=check_ingest),
    Command("sources", "check a sources.toml: validate it and probe its robots.txt, feeds and sitemaps "
            "(nothing is ingested or stored)", cmd_sources, (
        option("action", choices=["check"], help="what to do with the file: check"),
        option("file", metavar="FILE", help="the sources.toml to check"),
        PRIVATE_ADDRESSES,
        option("--strict", action="store_true",
               help="exit 1 unless every source is healthy (default: 0 for a valid file, unreachable sources "
                    "are reported)"),
        option("--format", default="table", choices=["table", "json"], help="output format (default: table)"),
    )),
    Command("ingest-urls", "fetch and process the given article URLs", cmd_ingest_urls, (
        option("urls", nargs="+", metavar="URL", help="http(s) article URLs (already stored ones are refreshed)"),
        db_option(),
        DATA_PATH,
        option("--source", default="adhoc", help="source name to record (default: adhoc)"),
        PRIVATE_ADDRESSES,
        BACKEND,
    ), runs_flows=True, check=check_ingest_urls),
    Command("demo", "serve the bundled sample site and ingest it into data/demo.duckdb", cmd_demo, (
        option("--db", default=DEMO_DB_PATH, help=f"DuckDB file (default: {DEMO_DB_PATH})"),
        BACKEND,
    ), runs_flows=True, check=check_demo),
    Command("extract", "extract one saved HTML file and print it as JSON", cmd_extract, (
        option("file", help="a saved HTML page"),
        option("--url", default=None, help="the page's URL (for relative links and metadata)"),
        option("--fetched-at", default=None, help="when the page was fetched (ISO 8601), for relative dates"),
        option("--timezone", default="UTC", help="the source's IANA zone, for dates and times written without one "
               "(default: UTC); the output's `timezone` says which was assumed"),
    )),
    Command("query", "run a named query or SQL against the database, read-only", cmd_query, (
        option("query", nargs="?", metavar="NAME_OR_SQL",
               help="a named query (see --list) or SQL, run on a read-only connection"),
        option("--param", action="append", default=[], metavar="KEY=VALUE",
               help="a parameter of the named query, e.g. --param type=LOC (repeat for more)"),
        db_option(),
        option("--as-of", type=as_of_moment, default=None, metavar="TIMESTAMP",
               help="read the warehouse as it was at this moment (ISO 8601; a ducklake: warehouse's snapshot)"),
        TABLE_FORMAT,
        TABLE_WIDTH,
        option("--list", action="store_true", help="list the named queries"),
        option("--allow-files", action="store_true",
               help="let the SQL read and write local files (read_csv, COPY ... TO); off by default"),
    ), check=check_query),
    Command("serve", "start a local Prefect server (UI) and serve the deployments, in the foreground", cmd_serve, (
        option("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"),
        option("--port", type=int, default=4200, help="port of the API and UI (default: 4200)"),
        db_option(),
        DATA_PATH,
        option("--sources", default="sources.toml",
               help="sources.toml of the nightly deployment (default: sources.toml in the working directory)"),
        option("--insecure", action="store_true",
               help="listen on another address than loopback without PREFECT_SERVER_API_AUTH_STRING (anyone who "
                    "reaches the port can start runs)"),
        option("--allow-any-path", action="store_true",
               help="let served runs use a db_path, sources_file or data_path outside the working directory"),
        option("--allow-private-addresses", action="store_true",
               help="let served runs fetch private, loopback and link-local addresses (allow_private_addresses)"),
    ), check=check_serve),
    Command("search", "Arabic full-text search over the stored articles (BM25, Arabic stemmer)", cmd_search, (
        option("text", nargs="*", metavar="TEXT", help="words to search for"),
        db_option(),
        option("--limit", type=positive_int, default=10, help="at most N results (default: 10)"),
        option("--source", default=None, help="only articles of this source"),
        option("--all", action="store_true", help="only articles containing every word"),
        TABLE_FORMAT,
        TABLE_WIDTH,
        option("--reindex", action="store_true", help="rebuild the search index first"),
    )),
    Command("export", "export the database as Parquet files (Hive-partitioned) for other engines", cmd_export, (
        option("dir", metavar="DIR", help="output directory (its table folders are replaced)"),
        option("--format", default="parquet", choices=["parquet"], help="output format (default: parquet)"),
        db_option(),
    )),
    Command("reprocess", "re-extract and re-tag archived pages without fetching (e.g. after a model update)",
            cmd_reprocess, (
        db_option(),
        DATA_PATH,
        BACKEND,
        option("--source", default=None, help="only this source's pages"),
    ), runs_flows=True, check=check_reprocess),
    Command("migrate-warehouse", "copy a DuckDB file's warehouse into a new ducklake: warehouse, table by table",
            cmd_migrate_warehouse, (
        option("--from", dest="source", required=True, metavar="FILE",
               help="the DuckDB file to copy (read; a file made by an older akhbar is first migrated in place)"),
        option("--to", required=True, metavar="LAKE",
               help="the lake to fill: ducklake:CATALOG (a .ducklake file, sqlite:PATH or postgres:DSN); it must "
                    "hold no articles yet"),
        DATA_PATH,
    ), check=check_migrate_warehouse),
)


EXIT_CODES_HELP = f"""exit codes:
  {EXIT_OK}    done (a run that completed, even if some URLs failed: they are in the fetches table)
  {EXIT_ERROR}    failed (a run that fetched nothing because of failures, a damaged or locked database, ...)
  {EXIT_USAGE}    bad usage: an option, argument, sources.toml or AKHBAR_* setting (reported before anything starts)
  {EXIT_INTERRUPTED}  stopped with Ctrl-C (what was loaded is kept)
  {EXIT_TERMINATED}  stopped with SIGTERM (what was loaded is kept)"""


def add_ner_parser(sub: argparse._SubParsersAction) -> None:
    """`akhbar ner` (flows/entities_cli.py) and its optional subcommand `adapt` (flows/ner_adapt.py); neither
    starts Prefect."""
    from flows.entities_cli import add_ner_parser as add_ner_command
    from flows.ner_adapt import add_adapt_arguments, cmd_ner_adapt

    ner = add_ner_command(sub, EXIT_CODES_HELP)
    actions = ner.add_subparsers(dest="ner_command", metavar="{adapt}",
                                 help="adapt: retrain the offline model on your own articles (optional)")
    adapt = actions.add_parser("adapt", help="retrain the crf model with word clusters learned from your warehouse's "
                               "articles (installed in your data directory; --reset goes back to the shipped model)",
                               epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_adapt_arguments(adapt)
    adapt.set_defaults(func=cmd_ner_adapt, runs_flows=False, check=None)


def build_parser() -> argparse.ArgumentParser:
    from flows.entities_cli import add_entities_parser
    from warehouse.report import add_report_parser

    p = OneLineParser(prog="akhbar", description="Arabic news into DuckDB: discover, fetch, extract, "
                                "find entities, query.", epilog=EXIT_CODES_HELP,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"akhbar {VERSION}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        sp = sub.add_parser(command.name, help=command.help, description=command.help, epilog=EXIT_CODES_HELP,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        for opt in command.options:
            sp.add_argument(*opt.flags, **opt.settings)
        sp.set_defaults(func=command.run, runs_flows=command.runs_flows, check=command.check)
    add_ner_parser(sub)
    add_entities_parser(sub)
    add_report_parser(sub)
    return p


def _failed_run_message(exc: Exception) -> str | None:
    """The message of a flow run that ended Failed without an exception of ours (FailedRun), else None."""
    if "prefect" not in sys.modules:
        return None
    from prefect.exceptions import FailedRun

    return str(exc) if isinstance(exc, FailedRun) else None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        load_settings()  # a bad AKHBAR_* value: one line and exit 2, before any command starts
        check_warehouse_location(args)
        if getattr(args, "check", None):
            args.check(args)
        with stop_signals(), (prefect_api() if getattr(args, "runs_flows", False) else nullcontext()):
            code = int(args.func(args))
            raise_if_stop_requested()  # stopped at the very end: say so instead of exiting 0 as if not asked
            return code
    except KeyboardInterrupt as exc:
        return _stopped(sigterm=isinstance(exc, Terminated))
    except Exception as exc:
        if stop_signal() is not None:  # the stop surfaced as another error (DuckDB's "Query interrupted")
            return _stopped(sigterm=stop_signal() == signal.SIGTERM)
        return _failed(exc, getattr(args, "db", None))


def _stopped(*, sigterm: bool) -> int:
    _err(f"{'stopped (SIGTERM)' if sigterm else 'interrupted'}; what was loaded is kept, run the same command again "
         "to continue")
    return EXIT_TERMINATED if sigterm else EXIT_INTERRUPTED


def _failed(exc: Exception, db: str | None) -> int:
    """The exit code of a command that raised `exc`, after one line saying what to do; raises what is a bug."""
    if isinstance(exc, (ConfigError, SettingsError, UsageError, QueryArgumentError)):
        _err(str(exc))
        return EXIT_USAGE
    if isinstance(exc, (WarehouseError, PrefectUnavailable)):
        _err(str(exc))
        return EXIT_ERROR
    if isinstance(exc, BrokenPipeError):
        return EXIT_OK
    failure = _failed_run_message(exc)
    if failure:  # the run fetched nothing: its causes, one line each
        for line in failure.splitlines():
            _err(line)
        return EXIT_ERROR
    problem = storage_problem(exc, db or "the database")  # a damaged database or a full disk met while working
    if problem is None:
        raise exc
    _err(str(problem))
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
