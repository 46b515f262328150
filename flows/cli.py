"""The `akhbar` command line (DESIGN.md 3.1)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import flows  # noqa: F401  (telemetry defaults before Prefect loads)
from extractors.config import ConfigError, load_config
from warehouse.store import DEFAULT_DB_PATH, WarehouseError

EXIT_OK, EXIT_ERROR, EXIT_CONFIG = 0, 1, 2
DEMO_DB_PATH = "data/demo.duckdb"


def _err(msg: str) -> None:
    print(f"akhbar: error: {msg}", file=sys.stderr)


def _print_summary(summary, *, max_failures: int = 10) -> None:
    print()
    print(f"run {summary.run_id} finished in {summary.seconds:.1f}s")
    print(f"  discovered {summary.discovered}, fetched {summary.fetched}, stored {summary.stored}, "
          f"failed {summary.failed}, mentions {summary.mentions}")
    for name, st in summary.per_source.items():
        extra = f"  ({'; '.join(st.errors)})" if st.errors else ""
        print(f"  source {name}: discovered {st.discovered}, stored {st.stored}, failed {st.failed}{extra}")
    if summary.failures:
        print(f"  failures ({len(summary.failures)}; all are in the fetches table):")
        for url, reason in summary.failures[:max_failures]:
            print(f"    {url}: {reason}")
        if len(summary.failures) > max_failures:
            print(f"    ... and {len(summary.failures) - max_failures} more")
    print(f"  database: {Path(summary.db_path).resolve()}")


def cmd_ingest(args: argparse.Namespace) -> int:
    try:
        load_config(args.sources)  # fail fast with exit 2, before starting Prefect
    except ConfigError as exc:
        _err(str(exc))
        return EXIT_CONFIG
    from flows.ingest import ingest

    summary = ingest(sources_file=args.sources, db_path=args.db, limit=args.limit,
                     allow_private_addresses=args.allow_private_addresses, backend=args.backend,
                     lake=args.lake, shared_politeness=args.shared_politeness)
    _print_summary(summary)
    if args.lake:
        print(f"  lake: {args.lake} (merge it into the database with: akhbar merge-lake --lake {args.lake} --db {args.db})")
    return EXIT_OK


def cmd_merge_lake(args: argparse.Namespace) -> int:
    from flows.merge import merge_lake_flow

    counts = merge_lake_flow(lake=args.lake, db_path=args.db)
    print(f"merged {counts.files} new files from {args.lake} into {args.db} in {counts.seconds:.1f}s: "
          f"{counts.batches} batches, {counts.articles} articles, {counts.mentions} mentions, "
          f"{counts.fetches} fetches, {counts.runs} runs")
    if counts.incomplete:
        print(f"  {counts.incomplete} files of unfinished batches left for a later merge")
    return EXIT_OK


def cmd_ingest_urls(args: argparse.Namespace) -> int:
    from flows.ingest import ingest_urls

    summary = ingest_urls(urls=args.urls, db_path=args.db, source=args.source,
                          allow_private_addresses=args.allow_private_addresses, backend=args.backend)
    _print_summary(summary)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from flows.ingest import ingest
    from flows.runners import task_runner_from_spec
    from flows.sample_site import StaticSite
    from warehouse.formatting import to_table
    from warehouse.queries import run_query

    db = Path(args.db)
    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)  # the demo database is replaced on each run
    with StaticSite() as site, tempfile.TemporaryDirectory() as tmp:
        sources = Path(tmp) / "sources.toml"
        sources.write_text(site.sources_toml(), encoding="utf-8")
        print(f"serving the bundled sample site at {site.base_url}")
        # 16 pages: threads, no process workers to start
        summary = ingest.with_options(task_runner=task_runner_from_spec("thread"))(
            sources_file=str(sources), db_path=str(db), allow_private_addresses=True, backend=args.backend)
    _print_summary(summary)
    cols, rows = run_query(db, "top-entities", {"limit": "10"})
    print("\ntop entities (akhbar query top-entities --db %s):" % db)
    print(to_table(cols, rows))
    print("\ntry:")
    print(f"  akhbar query articles-per-day --db {db}")
    print(f"  akhbar query \"SELECT title, published_at, author FROM articles ORDER BY published_at DESC\" --db {db}")
    print(f"  duckdb -readonly {db}")
    return EXIT_OK


def cmd_extract(args: argparse.Namespace) -> int:
    from extractors.extract.article import ExtractionError, article_to_json, extract_article

    path = Path(args.file)
    if not path.is_file():
        _err(f"no such file: {path}")
        return EXIT_ERROR
    fetched_at = None
    if args.fetched_at:
        try:
            fetched_at = datetime.fromisoformat(args.fetched_at.replace("Z", "+00:00"))
        except ValueError:
            _err(f"--fetched-at must be an ISO 8601 date-time, got {args.fetched_at!r}")
            return EXIT_CONFIG
        if fetched_at.tzinfo is None:
            fetched_at = fetched_at.replace(tzinfo=UTC)
    url = args.url or path.resolve().as_uri()
    try:
        article = extract_article(path.read_bytes(), url, fetched_at=fetched_at, timezone=args.timezone)
    except ExtractionError as exc:
        _err(f"{path}: no article found ({exc})")
        return EXIT_ERROR
    print(json.dumps(article_to_json(article), ensure_ascii=False, indent=1))
    return EXIT_OK


def cmd_ner(args: argparse.Namespace) -> int:
    from extractors.entities.mentions import EntityError, get_backend, tag_conll

    try:
        backend = get_backend(args.backend)
    except EntityError as exc:
        _err(str(exc))
        return EXIT_ERROR
    stream = open(args.input, encoding="utf-8") if args.input else sys.stdin
    try:
        out = sys.stdout
        for line in tag_conll(stream, backend):
            out.write(line + "\n")
    finally:
        if args.input:
            stream.close()
    return EXIT_OK


def _params(pairs: list[str]) -> dict[str, str]:
    out = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep or not key:
            raise ValueError(f"--param must look like KEY=VALUE, got {p!r}")
        out[key.strip()] = value
    return out


def cmd_query(args: argparse.Namespace) -> int:
    from warehouse.formatting import render
    from warehouse.queries import named_queries, run_query

    if args.list:
        for q in named_queries().values():
            params = ", ".join(f"{k}={v}" if v else k for k, v in q.defaults.items())
            print(f"{q.name:20} {q.description}" + (f"  [params: {params}]" if params else ""))
        return EXIT_OK
    if not args.query:
        _err("give a named query or SQL (see `akhbar query --list`)")
        return EXIT_CONFIG
    try:
        params = _params(args.param)
    except ValueError as exc:
        _err(str(exc))
        return EXIT_CONFIG
    cols, rows = run_query(args.db, args.query, params)
    text = render(cols, rows, args.format)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from flows.serve import ServeError, serve

    try:
        return serve(host=args.host, port=args.port, db_path=args.db, sources_file=args.sources)
    except ServeError as exc:
        _err(str(exc))
        return EXIT_ERROR


def cmd_search(args: argparse.Namespace) -> int:
    from warehouse.formatting import render
    from warehouse.search import SearchIndexMissing, hit_rows, index_state, refresh_search_index, search
    from warehouse.store import connect

    db = Path(args.db)
    if not db.exists():
        _err(f"no database at {db}: run `akhbar ingest` or `akhbar demo` first, or pass --db")
        return EXIT_ERROR
    if args.reindex:
        state = "stale"
    else:
        con = connect(db, read_only=True, wait_seconds=30)
        try:
            state = index_state(con)
        finally:
            con.close()
    if state != "fresh":
        # The index lives in the database file: building it needs the write lock for a moment. While an
        # ingest holds it, a stale index is still searched (with a note); a missing one waits for the lock.
        ok = refresh_search_index(db, force=args.reindex, wait_seconds=300 if state == "missing" else 5,
                                  log=lambda msg: print(f"akhbar: {msg}", file=sys.stderr))
        if not ok and state == "missing":
            raise SearchIndexMissing(f"could not build the search index of {db} (see above)")
        if not ok:
            print("akhbar: note: searching the previous index; articles stored since are not in it yet",
                  file=sys.stderr)
    if not args.text:
        if args.reindex:
            print(f"search index of {db} rebuilt")
            return EXIT_OK
        _err("give some words to search for")
        return EXIT_CONFIG
    hits = search(db, " ".join(args.text), limit=args.limit, source=args.source or "", match_all=args.all)
    cols, rows = hit_rows(hits)
    text = render(cols, rows, args.format)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from warehouse.export import export_parquet

    result = export_parquet(args.db, args.dir)
    total = sum(result.rows.values())
    print(f"exported {total} rows from {args.db} to {result.out_dir} in {result.seconds:.1f}s:")
    for table, n in result.rows.items():
        print(f"  {table}: {n}")
    print(f"read with: SELECT * FROM read_parquet('{result.out_dir}/articles/**/*.parquet', hive_partitioning = true)")
    return EXIT_OK


def cmd_reprocess(args: argparse.Namespace) -> int:
    from flows.reprocess import reprocess

    if not Path(args.db).exists():
        _err(f"no database at {args.db}: nothing to reprocess (pass --db)")
        return EXIT_ERROR
    summary = reprocess(db_path=args.db, backend=args.backend, source=args.source)
    print(f"reprocessed {summary.stored + summary.failed} archived pages in {summary.seconds:.1f}s: "
          f"{summary.stored} articles updated, {summary.failed} failed, {summary.mentions} mentions")
    for url, reason in summary.failures[:10]:
        print(f"  {url}: {reason}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="akhbar", description="Arabic news into DuckDB: discover, fetch, extract, "
                                "find entities, query.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def db_opt(sp: argparse.ArgumentParser, default: str = DEFAULT_DB_PATH) -> None:
        sp.add_argument("--db", default=default, help=f"DuckDB file (default: {default})")

    def backend_opt(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--backend", default="auto", choices=["auto", "crf", "camel"],
                        help="entity recogniser (default: auto = camel when its model is installed, else crf)")

    sp = sub.add_parser("ingest", help="run the ingest flow for every source in a sources.toml")
    sp.add_argument("--sources", required=True, help="sources.toml file")
    db_opt(sp)
    sp.add_argument("--limit", type=int, default=None, help="at most N new articles per source this run")
    sp.add_argument("--allow-private-addresses", action="store_true",
                    help="allow private, loopback and link-local addresses (local test sites)")
    backend_opt(sp)
    sp.add_argument("--lake", default=None, metavar="URL",
                    help="write each batch as Parquet files to this lake (a directory or an fsspec URL such as "
                         "s3://bucket/akhbar) instead of the database; merge them with `akhbar merge-lake`")
    sp.add_argument("--shared-politeness", action="store_true", default=None,
                    help="keep each host's limits across all workers through the Prefect server's global "
                         "concurrency limits (default: the AKHBAR_SHARED_POLITENESS environment variable)")
    sp.set_defaults(func=cmd_ingest)

    sp = sub.add_parser("merge-lake", help="merge the Parquet files ingest runs wrote to a lake into the database")
    sp.add_argument("--lake", required=True, metavar="URL",
                    help="the lake: a directory or an fsspec URL such as s3://bucket/akhbar")
    db_opt(sp)
    sp.set_defaults(func=cmd_merge_lake)

    sp = sub.add_parser("ingest-urls", help="fetch and process the given article URLs")
    sp.add_argument("urls", nargs="+", metavar="URL")
    db_opt(sp)
    sp.add_argument("--source", default="adhoc", help="source name to record (default: adhoc)")
    sp.add_argument("--allow-private-addresses", action="store_true")
    backend_opt(sp)
    sp.set_defaults(func=cmd_ingest_urls)

    sp = sub.add_parser("demo", help="serve the bundled sample site and ingest it into data/demo.duckdb")
    db_opt(sp, DEMO_DB_PATH)
    backend_opt(sp)
    sp.set_defaults(func=cmd_demo)

    sp = sub.add_parser("extract", help="extract one saved HTML file and print it as JSON")
    sp.add_argument("file")
    sp.add_argument("--url", default=None, help="the page's URL (for relative links and metadata)")
    sp.add_argument("--fetched-at", default=None, help="when the page was fetched (ISO 8601), for relative dates")
    sp.add_argument("--timezone", default="UTC", help="zone for dates written without one (default: UTC)")
    sp.set_defaults(func=cmd_extract)

    sp = sub.add_parser("ner", help="tag CoNLL-style tokens (one per line, blank line between sentences)")
    backend_opt(sp)
    sp.add_argument("--input", default=None, help="input file (default: standard input)")
    sp.set_defaults(func=cmd_ner)

    sp = sub.add_parser("query", help="run a named query or SQL against the database, read-only")
    sp.add_argument("query", nargs="?", metavar="NAME_OR_SQL")
    sp.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    db_opt(sp)
    sp.add_argument("--format", default="table", choices=["table", "csv", "json"])
    sp.add_argument("--list", action="store_true", help="list the named queries")
    sp.set_defaults(func=cmd_query)

    sp = sub.add_parser("serve", help="start a local Prefect server (UI) and serve the deployments, in the foreground")
    sp.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    sp.add_argument("--port", type=int, default=4200, help="port of the API and UI (default: 4200)")
    db_opt(sp)
    sp.add_argument("--sources", default="sources.toml", help="sources.toml of the nightly deployment "
                    "(default: sources.toml in the working directory)")
    sp.set_defaults(func=cmd_serve)

    sp = sub.add_parser("search", help="Arabic full-text search over the stored articles (BM25, Arabic stemmer)")
    sp.add_argument("text", nargs="*", metavar="TEXT", help="words to search for")
    db_opt(sp)
    sp.add_argument("--limit", type=int, default=10, help="at most N results (default: 10)")
    sp.add_argument("--source", default=None, help="only articles of this source")
    sp.add_argument("--all", action="store_true", help="only articles containing every word")
    sp.add_argument("--format", default="table", choices=["table", "csv", "json"])
    sp.add_argument("--reindex", action="store_true", help="rebuild the search index first")
    sp.set_defaults(func=cmd_search)

    sp = sub.add_parser("export", help="export the database as Parquet files (Hive-partitioned) for other engines")
    sp.add_argument("dir", metavar="DIR", help="output directory (its table folders are replaced)")
    sp.add_argument("--format", default="parquet", choices=["parquet"], help="output format (default: parquet)")
    db_opt(sp)
    sp.set_defaults(func=cmd_export)

    sp = sub.add_parser("reprocess", help="re-extract and re-tag archived pages without fetching (e.g. after a model update)")
    db_opt(sp)
    backend_opt(sp)
    sp.add_argument("--source", default=None, help="only this source's pages")
    sp.set_defaults(func=cmd_reprocess)

    from warehouse.report import add_report_parser

    add_report_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        _err(str(exc))
        return EXIT_CONFIG
    except WarehouseError as exc:
        _err(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        _err("interrupted; what was loaded is kept, run the same command again to continue")
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
