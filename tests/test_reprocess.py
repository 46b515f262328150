"""Raw archive and the reprocess flow: re-extract and re-tag stored pages without fetching."""

import duckdb
import pytest
from conftest import copy_database

pytestmark = pytest.mark.usefixtures("prefect_harness")


def q(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_reprocess_rebuilds_articles_and_mentions_from_the_archive_without_fetching(sample_ingest, tmp_path):
    from flows.reprocess import reprocess

    db = copy_database(sample_ingest.db, tmp_path / "r.duckdb")
    requests_before = len(sample_ingest.site.requests)  # reprocess works from the archive alone: no request
    before = q(db, "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM mentions), (SELECT count(*) FROM raw_pages)")[0]
    assert before[0] == before[2] > 0
    con = duckdb.connect(str(db))
    con.execute("DELETE FROM mentions")
    con.execute("UPDATE articles SET text = 'stale', title = NULL")
    con.close()
    summary = reprocess(db_path=str(db), backend="crf")
    after = q(db, "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM mentions), (SELECT count(*) FROM raw_pages)")[0]
    assert after == before
    assert summary.stored == before[0] and summary.failed == 0
    assert q(db, "SELECT count(*) FROM articles WHERE text = 'stale' OR title IS NULL")[0][0] == 0
    assert q(db, "SELECT count(*) FROM runs WHERE flow = 'reprocess' AND status = 'completed'")[0][0] == 1
    assert len(sample_ingest.site.requests) == requests_before
