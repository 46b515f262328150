"""Many writers, one truth: ingest runs write Parquet batches to a lake, one merge loads them into DuckDB.

- two ingest runs at once (threads) write to one lake; merging gives the same articles, mentions and entities
  as a direct ingest of the same sources, and merging again changes nothing;
- a crashed run's finished batches merge on the next merge, a batch cut short (no articles file) does not;
- an fsspec URL (memory://) works as a lake, and views over the lake answer queries directly.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime

import duckdb
import pytest
from conftest import REPO

from flows.sample_site import StaticSite

TABLES = ("articles", "mentions", "entities", "fetches", "runs", "sources", "raw_pages", "feed_state", "story_bands")


def counts(db) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        con.close()


def rows(db, sql, params=None):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def two_sources(site: StaticSite) -> tuple[str, str]:
    """The sample site as two sources: its feed, and its news sitemap (they share three articles)."""
    common = "max_articles = 200\nrequests_per_second = 0\nmax_concurrency = 4\ntimezone = \"Asia/Riyadh\"\n"
    feed = f'[[sources]]\nname = "sample-feed"\nfeeds = ["{site.base_url}/rss.xml"]\nsitemaps = []\n{common}'
    sitemap = (f'[[sources]]\nname = "sample-sitemap"\nfeeds = []\nsitemaps = ["{site.base_url}/sitemap-news.xml"]\n'
               f"{common}")
    return feed, sitemap


def sample_pages(n: int = 3):
    """Processed articles of a few bundled sample pages, without any network."""
    from extractors.batch import process_pages
    from extractors.records import FetchedPage

    paths = sorted((REPO / "samples" / "site" / "world").glob("*.html"))[:n]
    now = datetime.now(UTC)
    pages = [FetchedPage(url=f"http://127.0.0.1:9/world/{p.name}", source="crashy", fetched_at=now, status=200,
                         content_type="text/html; charset=utf-8", body=p.read_bytes(), elapsed_ms=1.0)
             for p in paths]
    return process_pages(pages, backend_name="crf")


@pytest.fixture(scope="module")
def lake_runs(tmp_path_factory, prefect_harness):
    from flows.ingest import ingest
    from flows.merge import merge_lake_flow

    tmp = tmp_path_factory.mktemp("lake")
    lake = tmp / "lake"
    with StaticSite() as site:
        feed, sitemap = two_sources(site)
        (tmp / "feed.toml").write_text(feed, encoding="utf-8")
        (tmp / "sitemap.toml").write_text(sitemap, encoding="utf-8")
        (tmp / "both.toml").write_text(feed + "\n" + sitemap, encoding="utf-8")
        t0 = time.perf_counter()
        direct = ingest(sources_file=str(tmp / "both.toml"), db_path=str(tmp / "direct.duckdb"),
                        allow_private_addresses=True, batch_size=4, write_report=False)
        t_direct = time.perf_counter() - t0

        results, errors = {}, []

        def run(name: str) -> None:
            try:
                results[name] = ingest(sources_file=str(tmp / f"{name}.toml"), db_path=str(tmp / "merged.duckdb"),
                                       allow_private_addresses=True, batch_size=4, lake=str(lake))
            except BaseException as exc:
                errors.append(exc)

        t0 = time.perf_counter()
        threads = [threading.Thread(target=run, args=(n,)) for n in ("feed", "sitemap")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(240)
        t_lake = time.perf_counter() - t0
    assert not errors, errors
    assert not (tmp / "merged.duckdb").exists(), "lake runs must not touch the database"
    t0 = time.perf_counter()
    first = merge_lake_flow(lake=str(lake), db_path=str(tmp / "merged.duckdb"))
    t_merge = time.perf_counter() - t0
    after_first = counts(tmp / "merged.duckdb")
    second = merge_lake_flow(lake=str(lake), db_path=str(tmp / "merged.duckdb"))
    print(f"\n[lake: direct ingest {t_direct:.1f}s; two concurrent lake runs {t_lake:.1f}s "
          f"(stored {results['feed'].stored} + {results['sitemap'].stored}); merge {t_merge:.1f}s: {first}]")
    return dict(tmp=tmp, lake=lake, direct=direct, results=results, first=first, second=second,
                after_first=after_first)


def test_concurrent_lake_runs_merge_to_the_same_rows_as_a_direct_ingest(lake_runs):
    tmp = lake_runs["tmp"]
    d, m = counts(tmp / "direct.duckdb"), lake_runs["after_first"]
    for t in ("articles", "mentions", "entities", "raw_pages", "story_bands", "feed_state"):
        assert m[t] == d[t], (t, m, d)
    assert m["runs"] == 2 and m["sources"] == 2
    # the runs overlap on three shared articles: a run skips a URL the other has claimed, but one that finished
    # with it before the other started sees no claim, so the lake may hold it twice; the database holds it once
    assert lake_runs["results"]["feed"].stored + lake_runs["results"]["sitemap"].stored >= d["articles"]
    assert rows(tmp / "merged.duckdb", "SELECT article_id, url, title, text, content_hash FROM articles ORDER BY 1") == \
        rows(tmp / "direct.duckdb", "SELECT article_id, url, title, text, content_hash FROM articles ORDER BY 1")
    mention_sql = 'SELECT article_id, entity_type, text, canonical, start, "end", backend FROM mentions ORDER BY ALL'
    assert rows(tmp / "merged.duckdb", mention_sql) == rows(tmp / "direct.duckdb", mention_sql)
    runs = rows(tmp / "merged.duckdb", "SELECT run_id, status, finished_at IS NOT NULL, stored FROM runs ORDER BY 1")
    assert {r[0] for r in runs} == {r.run_id for r in lake_runs["results"].values()}
    assert all(status == "completed" and finished for _, status, finished, _ in runs)
    # every fetch of both runs is in the log, tagged with its run
    per_run = dict(rows(tmp / "merged.duckdb", "SELECT run_id, count(*) FROM fetches GROUP BY 1"))
    assert set(per_run) == {r.run_id for r in lake_runs["results"].values()}
    assert lake_runs["first"].incomplete == 0 and lake_runs["first"].batches >= 4


def test_merging_again_changes_nothing(lake_runs):
    assert lake_runs["second"].files == 0 and lake_runs["second"].articles == 0
    assert counts(lake_runs["tmp"] / "merged.duckdb") == lake_runs["after_first"]
    n_files = rows(lake_runs["tmp"] / "merged.duckdb", "SELECT count(*) FROM lake_files")[0][0]
    assert n_files == lake_runs["first"].files


def test_views_over_the_lake(lake_runs):
    from warehouse.lake import lake_views

    con = duckdb.connect()
    try:
        made = lake_views(con, lake_runs["lake"])
        assert {"lake_articles", "lake_mentions", "lake_fetches", "lake_runs"} <= set(made)
        results = lake_runs["results"]
        n = con.execute("SELECT count(*) FROM lake_articles").fetchone()[0]
        assert n == sum(r.stored for r in results.values())
        per_run = dict(con.execute("SELECT run_id, count(*) FROM lake_articles GROUP BY 1").fetchall())
        assert per_run == {r.run_id: r.stored for r in results.values()}
        distinct = con.execute("SELECT count(DISTINCT article_id) FROM lake_articles").fetchone()[0]
        assert distinct == lake_runs["after_first"]["articles"]
        assert con.execute("SELECT count(*) FROM lake_mentions").fetchone()[0] >= lake_runs["after_first"]["mentions"]
    finally:
        con.close()


def test_a_crashed_runs_finished_batches_merge_next_time(lake_runs, tmp_path):
    from warehouse.arrow_records import mentions_table
    from warehouse.lake import LakeWriter, merge_lake

    db = tmp_path / "crash.duckdb"
    lake = tmp_path / "lake"
    batch = sample_pages(3)
    assert len(batch.articles) == 3
    # a run that wrote one batch and then died: no finish row, and a second batch cut short (no articles file)
    writer = LakeWriter(lake, "crashed-run")
    writer.write_run(flow="ingest", started_at=datetime.now(UTC), parameters={"lake": str(lake)})
    writer.write_batch(batch.articles[:2], batch.fetch_rows[:2])
    writer._write("mentions", f"batch-00002-{uuid.uuid4().hex}", mentions_table(batch.articles[2:]))
    first = merge_lake(db, lake)
    assert (first.batches, first.articles, first.incomplete) == (1, 2, 1)
    assert rows(db, "SELECT count(*) FROM articles")[0][0] == 2
    assert rows(db, "SELECT status, finished_at FROM runs WHERE run_id = 'crashed-run'") == [("running", None)]
    assert rows(db, "SELECT count(DISTINCT article_id) FROM mentions")[0][0] == 2
    # the next run (same lake) finishes; the next merge adds only what is new
    again = LakeWriter(lake, "next-run")
    again.write_batch(batch.articles, batch.fetch_rows)
    second = merge_lake(db, lake)
    assert (second.batches, second.articles) == (1, 3)
    assert rows(db, "SELECT count(*) FROM articles")[0][0] == 3
    assert rows(db, "SELECT count(*) FROM fetches")[0][0] == len(batch.fetch_rows[:2]) + len(batch.fetch_rows)
    assert merge_lake(db, lake).files == 0


def test_an_fsspec_url_works_as_a_lake(tmp_path):
    from warehouse.lake import LakeWriter, lake_views, merge_lake

    lake = f"memory://akhbar-test-{uuid.uuid4().hex}"
    batch = sample_pages(2)
    LakeWriter(lake, "mem-run").write_batch(batch.articles, batch.fetch_rows)
    got = merge_lake(tmp_path / "mem.duckdb", lake)
    assert (got.batches, got.articles) == (1, 2)
    assert rows(tmp_path / "mem.duckdb", "SELECT count(*) FROM articles")[0][0] == 2
    con = duckdb.connect()
    try:
        assert "lake_articles" in lake_views(con, lake)
        assert con.execute("SELECT count(*), min(run_id) FROM lake_articles").fetchone() == (2, "mem-run")
    finally:
        con.close()


def test_fetch_rows_keep_final_through_the_lake_and_old_files_read_as_migrated():
    from datetime import timedelta

    import pyarrow as pa

    from extractors.records import FetchLogRow
    from warehouse.arrow_records import fetch_rows, fetches_table

    t0 = datetime(2024, 3, 15, 9, 0, tzinfo=UTC)
    logged = [FetchLogRow(url="u", source="s", kind="article", status=503, error="HTTP 503", fetched_at=t0,
                          final=False),
              FetchLogRow(url="u", source="s", kind="article", status=200, error=None,
                          fetched_at=t0 + timedelta(seconds=1))]
    table = fetches_table(logged, "run-1")
    assert fetch_rows(table) == logged
    # a file written before the `final` column marked the retried attempt with a suffix on its error
    old = table.drop_columns(["final"]).set_column(
        table.schema.get_field_index("error"), "error", pa.array(["HTTP 503 (retried)", None]))
    assert fetch_rows(old) == logged
