import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from extractors.records import ExtractedArticle, FetchLogRow, Mention, ProcessedArticle
from warehouse.connection import WarehouseError, WarehouseLocked, migrations
from warehouse.queries import QueryArgumentError, QueryError, named_queries, run_query
from warehouse.store import Warehouse

T0 = datetime(2024, 3, 15, 9, 0, tzinfo=UTC)


def art(aid, text, mentions, source="s", published=T0):
    a = ExtractedArticle(url=f"https://e.com/{aid}", title=f"title {aid}", author=None, published_at=published,
                         language="ar", text=text)
    return ProcessedArticle(article_id=aid, url=a.url, source=source, article=a, content_hash="h" + aid,
                            fetched_at=T0, final_url=None, mentions=mentions, backend="crf")


def m(t, text, canonical, start):
    return Mention(t, text, canonical, start, start + len(text))


def counts(wh):
    with wh.connection(read_only=True) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("articles", "mentions", "entities", "fetches")}


@pytest.fixture
def wh(tmp_path):
    w = Warehouse(tmp_path / "w.duckdb", wait_seconds=5)
    w.migrate()
    return w


def test_migrations_are_versioned_and_idempotent(wh):
    assert [v for v, _, _ in migrations()][0] == 1
    assert wh.migrate() == []
    with wh.connection(read_only=True) as con:
        cols = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name='articles'").fetchall()}
    assert {"article_id", "url", "source", "title", "author", "published_at", "language", "text", "content_hash",
            "fetched_at"} <= cols


def test_load_is_idempotent_and_retag_replaces_mentions(wh):
    a1 = art("a1", "سوريا ولبنان", [m("LOC", "سوريا", "سوريا", 0), m("LOC", "لبنان", "لبنان", 7)])
    a2 = art("a2", "لسوريا", [m("LOC", "لسوريا", "سوريا", 0)], published=T0 + timedelta(days=1))
    fetch = FetchLogRow(url="https://e.com/a1", source="s", kind="article", status=200, error=None, fetched_at=T0)
    wh.load([a1, a2], [fetch], "run-1")
    first = counts(wh)
    assert first == {"articles": 2, "mentions": 3, "entities": 2, "fetches": 1}
    wh.load([a1, a2], [fetch], "run-2")
    again = counts(wh)
    assert {k: again[k] for k in ("articles", "mentions", "entities")} == {k: first[k] for k in ("articles", "mentions", "entities")}
    assert again["fetches"] == 2  # the log grows
    with wh.connection(read_only=True) as con:
        row = con.execute("SELECT mention_count, article_count, first_seen, last_seen FROM entities WHERE canonical='سوريا'").fetchone()
    assert row[:2] == (2, 2) and row[2] == T0 and row[3] == T0 + timedelta(days=1)
    # re-tagging a1 with no mention of لبنان removes that entity
    wh.load([art("a1", "سوريا ولبنان", [m("LOC", "سوريا", "سوريا", 0)])], [], "run-3")
    with wh.connection(read_only=True) as con:
        assert con.execute("SELECT count(*) FROM entities WHERE canonical='لبنان'").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM mentions WHERE article_id='a1'").fetchone()[0] == 1


def test_first_source_is_kept(wh):
    wh.load([art("a1", "x", [], source="first")], [], "r1")
    wh.load([art("a1", "x", [], source="second")], [], "r2")
    with wh.connection(read_only=True) as con:
        assert con.execute("SELECT source FROM articles").fetchone()[0] == "first"


def test_named_queries_run_and_take_parameters(wh):
    wh.load([art("a1", "سوريا ولبنان", [m("LOC", "سوريا", "سوريا", 0), m("LOC", "لبنان", "لبنان", 7)]),
             art("a2", "سوريا", [m("LOC", "سوريا", "سوريا", 0)])], [
        FetchLogRow(url="u", source="s", kind="article", status=404, error="HTTP 404", fetched_at=T0)], "r1")
    assert {"top-entities", "articles-per-day", "source-health"} <= set(named_queries())
    cols, rows = run_query(wh.path, "top-entities", {"limit": "1"})
    assert rows == [rows[0]] and rows[0][cols.index("entity")] == "سوريا" and rows[0][cols.index("mentions")] == 2
    cols, rows = run_query(wh.path, "articles-per-day")
    assert rows[0][cols.index("articles")] == 2
    cols, rows = run_query(wh.path, "source-health")
    assert rows[0][cols.index("failed")] == 1 and "HTTP 404" in rows[0][cols.index("failure_reasons")]
    with pytest.raises(QueryArgumentError, match="no parameter"):
        run_query(wh.path, "top-entities", {"nope": "1"})
    with pytest.raises(QueryArgumentError, match="no named query"):
        run_query(wh.path, "no-such-query")


def test_raw_sql_is_read_only(wh):
    cols, rows = run_query(wh.path, "SELECT count(*) AS n FROM articles")
    assert cols == ["n"] and rows == [(0,)]
    with pytest.raises(QueryError):
        run_query(wh.path, "DELETE FROM articles")


def test_missing_database_is_a_clear_error(tmp_path):
    with pytest.raises(WarehouseError, match="akhbar ingest"):
        run_query(tmp_path / "none.duckdb", "top-entities")


def test_writer_waits_for_a_lock_held_by_another_process(tmp_path):
    path = tmp_path / "locked.duckdb"
    Warehouse(path).migrate()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, time, sys
        con = duckdb.connect({str(path)!r})
        print("locked", flush=True)
        time.sleep(2.5)
        con.close()
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    messages = []
    t0 = time.monotonic()
    Warehouse(path, wait_seconds=30, on_wait=messages.append).load([art("a1", "x", [])], [], "r")
    waited = time.monotonic() - t0
    holder.wait(timeout=10)
    assert waited > 1.0 and len(messages) == 1 and "in use by another process" in messages[0]
    assert counts(Warehouse(path))["articles"] == 1


def test_lock_held_too_long_gives_clear_error(tmp_path):
    path = tmp_path / "locked.duckdb"
    Warehouse(path).migrate()
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('x', flush=True); time.sleep(10)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        holder.stdout.readline()
        with pytest.raises(WarehouseLocked, match="locked by another process"):
            Warehouse(path, wait_seconds=1).migrate()
    finally:
        holder.kill()
        holder.wait()


def test_loads_append_small_row_groups_and_keep_the_file_readable(tmp_path):
    """Loads attach the file with a small ROW_GROUP_SIZE so a checkpoint rewrites one small group, not the
    whole table; the file is then read with a plain read-only connection (views, queries)."""
    w = Warehouse(tmp_path / "it's here.duckdb", wait_seconds=5, load_row_group_rows=2048)  # a quote in the path must survive ATTACH
    w.migrate()
    for k in range(3):
        rows = [FetchLogRow(url=f"https://e.com/{k}/{i}", source="s", kind="article", status=200, error=None,
                            fetched_at=T0) for i in range(1500)]
        w.load([art(f"a{k}", "سوريا", [m("LOC", "سوريا", "سوريا", 0)])], rows, f"run-{k}")
    con = duckdb.connect(str(w.path), read_only=True)
    groups = con.execute("SELECT row_group_id, max(count) FROM pragma_storage_info('fetches') GROUP BY ALL").fetchall()
    assert con.execute("SELECT count(*) FROM fetches").fetchone()[0] == 4500
    assert len(groups) >= 3 and max(n for _, n in groups) <= 2048
    assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == 3
    con.close()
    assert counts(w)["entities"] == 1


def test_loads_lower_the_gil_switch_interval_only_while_they_run():
    from warehouse.loader import LOAD_SWITCH_INTERVAL, responsive_gil

    before = sys.getswitchinterval()
    low = min(LOAD_SWITCH_INTERVAL, before)
    with responsive_gil():
        assert sys.getswitchinterval() == pytest.approx(low)  # stored in microseconds
        with responsive_gil():  # nested (e.g. two loads in threads): still low
            assert sys.getswitchinterval() == pytest.approx(low)
        assert sys.getswitchinterval() == pytest.approx(low)
    assert sys.getswitchinterval() == before


def test_load_works_while_this_process_holds_the_file_open(wh):
    """A notebook may hold a read-write connection in the same process; the load shares it instead of failing."""
    held = duckdb.connect(str(wh.path))
    try:
        wh.load([art("a1", "سوريا", [m("LOC", "سوريا", "سوريا", 0)])], [], "r")
        assert held.execute("SELECT count(*) FROM articles").fetchone()[0] == 1
    finally:
        held.close()
    assert counts(wh)["mentions"] == 1


def test_table_specs_match_the_migrated_tables(wh):
    """Each table's one column spec (warehouse/tables.py) describes the table the migrations build."""
    import pyarrow as pa

    from warehouse.tables import ALL_TABLES

    with wh.connection(read_only=True) as con:
        for spec in ALL_TABLES:
            described = [(name, sql_type) for name, sql_type, *_ in con.execute(f"DESCRIBE {spec.name}").fetchall()]
            assert described == [(c.name, c.type.sql) for c in spec.columns], spec.name
    with wh.transaction() as con:  # and rows of each spec's Arrow schema insert as they are
        for spec in ALL_TABLES:
            con.register("empty_rows", pa.table({n: [] for n in spec.names}, schema=spec.arrow_schema()))
            con.execute(f"INSERT INTO {spec.name} SELECT * FROM empty_rows")
            con.unregister("empty_rows")


def test_retried_attempts_are_logged_with_final_false(wh):
    from extractors.batch import fetch_log_rows
    from extractors.records import FetchAttempt, FetchedPage

    page = FetchedPage(url="https://e.com/a", source="s", fetched_at=T0, status=200, body=b"<html></html>",
                       earlier_attempts=[FetchAttempt(url="https://e.com/a", status=503, error="HTTP 503",
                                                      fetched_at=T0 - timedelta(seconds=1))])
    rows = fetch_log_rows(page)
    assert [(r.status, r.error, r.final) for r in rows] == [(503, "HTTP 503", False), (200, None, True)]
    wh.load([], rows, "r1")
    with wh.connection(read_only=True) as con:
        assert con.execute("SELECT status, error, final FROM fetches ORDER BY fetched_at").fetchall() == [
            (503, "HTTP 503", False), (200, None, True)]


def migrate_before(con, version: int) -> None:
    """A database as an akhbar of an earlier version left it: the migrations before `version`, recorded as the
    runner records them."""
    from warehouse.connection import CREATE_MIGRATIONS_TABLE, RECORD_MIGRATION

    con.execute(CREATE_MIGRATIONS_TABLE)
    for number, name, sql in migrations():
        if number < version:
            con.execute(sql)
            con.execute(RECORD_MIGRATION, [number, name, datetime.now(UTC)])


def test_migration_8_turns_the_retried_suffix_into_final_false(tmp_path):
    from warehouse.connection import connect, migrate

    con = connect(tmp_path / "old.duckdb")
    try:
        migrate_before(con, 8)
        con.execute("INSERT INTO fetches (url, fetched_at, error) VALUES ('u', now(), 'HTTP 503 (retried)'), "
                    "('u', now(), 'HTTP 503'), ('u', now(), NULL)")
        assert 8 in migrate(con)
        assert con.execute("SELECT error, final FROM fetches ORDER BY ALL").fetchall() == [
            ("HTTP 503", False), ("HTTP 503", True), (None, True)]
    finally:
        con.close()


def test_readers_bring_a_file_of_an_older_version_up_to_date(tmp_path):
    """A file last written before the normalisation macro and the health/stories macros existed: the named
    queries and search (which call them) still work, because a reader migrates the file first."""
    from warehouse.connection import connect

    path = tmp_path / "old.duckdb"
    con = connect(path)
    try:
        migrate_before(con, 9)
    finally:
        con.close()
    cols, rows = run_query(path, "entity-timeline", {"name": "سوريا"})
    assert rows == [] and "mentions" in cols
    cols, rows = run_query(path, "source-health")
    assert rows == []
    latest = migrations()[-1][0]
    assert run_query(path, "SELECT max(version) AS v FROM schema_migrations")[1] == [(latest,)]


def test_raw_sql_reaches_no_file_outside_the_database(wh, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours", encoding="utf-8")
    out = tmp_path / "out.csv"
    for sql in (f"COPY (SELECT 1) TO '{out}'", f"SELECT * FROM read_text('{secret}')",
                f"ATTACH '{tmp_path / 'other.duckdb'}' AS other", "INSTALL httpfs"):
        with pytest.raises(QueryError, match="--allow-files"):
            run_query(wh.path, sql)
    with pytest.raises(QueryError, match="locked"):
        run_query(wh.path, "SET enable_external_access = true")
    assert not out.exists() and not (tmp_path / "other.duckdb").exists()
    # named queries keep working, and the flag lets local analysis read files
    assert run_query(wh.path, "top-entities")[1] == []
    assert run_query(wh.path, f"SELECT content FROM read_text('{secret}')", allow_files=True)[1] == [("not yours",)]
