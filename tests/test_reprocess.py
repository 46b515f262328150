"""Raw archive and the reprocess flow: re-extract and re-tag stored pages without fetching."""

import duckdb
import pytest

from flows.sample_site import StaticSite

pytestmark = pytest.mark.usefixtures("prefect_harness")


def q(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_reprocess_rebuilds_articles_and_mentions_from_the_archive_without_fetching(tmp_path):
    from flows.ingest import ingest
    from flows.reprocess import reprocess

    db = tmp_path / "r.duckdb"
    with StaticSite() as site:
        src = tmp_path / "s.toml"
        src.write_text(site.sources_toml(), encoding="utf-8")
        ingest(sources_file=str(src), db_path=str(db), allow_private_addresses=True)
    # the site is gone now: reprocess must work from the archive alone
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
