"""Refetch and retention from sources.toml, applied by real ingest runs (Prefect, a local HTTP site on 127.0.0.1,
a real DuckDB file): a stored article past `refetch_after_days` is fetched again and its latest version wins;
`keep_fetches_days` and `keep_raw_days` delete old log and archive rows, never articles."""

import duckdb
import pytest
from conftest import REPO
from localsite import html

from extractors.config import ConfigError, load_config

pytestmark = pytest.mark.usefixtures("prefect_harness")

PAGE = (REPO / "samples" / "site" / "world" / "nepal-fuel-shortage.html").read_text(encoding="utf-8")
TITLE = "نقص حاد في الوقود بنيبال بعد إغلاق المحطات للمطالبة بتعويضات"
NEW_TITLE = "عودة الوقود إلى محطات نيبال بعد اتفاق على التعويضات في كاتمندو"


def rows(db, sql, params=None):
    con = duckdb.connect(str(db))
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def serve_article(site, title):
    site.routes["/a.html"] = html(PAGE.replace("{{BASE}}", site.base).replace(TITLE, title))


def sources_file(tmp_path, site, crawl="", source=""):
    path = tmp_path / "sources.toml"
    rss = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
        <item><title>x</title><link>{site.base}/a.html</link></item></channel></rss>"""
    site.routes["/rss.xml"] = (200, {"Content-Type": "application/rss+xml"}, rss.encode())
    path.write_text(f'[crawl]\n{crawl}\n[[sources]]\nname = "s"\nfeeds = ["{site.base}/rss.xml"]\n'
                    f'requests_per_second = 0\n{source}\n', encoding="utf-8")
    return str(path)


def article_requests(site):
    return sum(1 for r in site.requests if r.path == "/a.html")


def test_page_shows_the_title_replaced():
    assert PAGE.count(TITLE) >= 2  # the test's second version really differs from the first


def test_a_stored_article_older_than_refetch_after_days_is_fetched_again_and_its_latest_version_wins(site, tmp_path):
    from flows.ingest import ingest

    serve_article(site, TITLE)
    src = sources_file(tmp_path, site, source="refetch_after_days = 1")
    db = tmp_path / "r.duckdb"
    ingest(sources_file=src, db_path=str(db), allow_private_addresses=True)
    assert rows(db, "SELECT title FROM articles") == [(TITLE,)]
    mentions_before = rows(db, "SELECT count(*) FROM mentions")[0][0]

    serve_article(site, NEW_TITLE)  # the publisher corrects the story
    ingest(sources_file=src, db_path=str(db), allow_private_addresses=True)
    assert article_requests(site) == 1  # stored today: not due yet
    assert rows(db, "SELECT title FROM articles") == [(TITLE,)]

    rows(db, "UPDATE articles SET fetched_at = fetched_at - INTERVAL 2 DAY")  # stored two days ago
    summary = ingest(sources_file=src, db_path=str(db), allow_private_addresses=True)
    assert article_requests(site) == 2 and summary.stored == 1
    assert rows(db, "SELECT title FROM articles") == [(NEW_TITLE,)]  # the latest version, once
    assert rows(db, "SELECT count(*) FROM raw_pages") == [(1,)]
    # its mentions were replaced, not added to: each offset points into the new text
    mentions = rows(db, 'SELECT m.text, a.text, m.start, m."end" FROM mentions m JOIN articles a USING (article_id)')
    assert all(text[start:end] == written for written, text, start, end in mentions)
    assert len(mentions) <= mentions_before + 5
    assert rows(db, "SELECT count(*) FROM mentions WHERE text = 'كاتمندو'")[0][0] >= 1


def test_without_refetch_after_days_a_stored_article_is_never_fetched_again(site, tmp_path):
    from flows.ingest import ingest

    serve_article(site, TITLE)
    src = sources_file(tmp_path, site)
    db = tmp_path / "n.duckdb"
    ingest(sources_file=src, db_path=str(db), allow_private_addresses=True)
    rows(db, "UPDATE articles SET fetched_at = fetched_at - INTERVAL 400 DAY")
    serve_article(site, NEW_TITLE)
    ingest(sources_file=src, db_path=str(db), allow_private_addresses=True)
    assert article_requests(site) == 1 and rows(db, "SELECT title FROM articles") == [(TITLE,)]


def test_each_run_deletes_fetch_log_rows_and_raw_pages_past_their_retention_but_no_article(site, tmp_path):
    from flows.ingest import ingest

    serve_article(site, TITLE)
    site.routes["/b.html"] = html(PAGE.replace("{{BASE}}/world/nepal-fuel-shortage.html", site.base + "/b.html")
                                  .replace(TITLE, NEW_TITLE))
    db = tmp_path / "k.duckdb"
    plain = sources_file(tmp_path, site)
    ingest(sources_file=plain, db_path=str(db), allow_private_addresses=True)
    # age the first run's rows: its fetch log 10 days, the raw page of /a.html 40 days
    rows(db, "UPDATE fetches SET fetched_at = fetched_at - INTERVAL 10 DAY")
    rows(db, "UPDATE raw_pages SET fetched_at = fetched_at - INTERVAL 40 DAY")
    old_fetches = rows(db, "SELECT count(*) FROM fetches")[0][0]
    assert old_fetches > 0

    rss = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
        <item><title>x</title><link>{site.base}/a.html</link></item>
        <item><title>y</title><link>{site.base}/b.html</link></item></channel></rss>"""
    kept = sources_file(tmp_path, site, crawl="keep_fetches_days = 7\nkeep_raw_days = 30")
    site.routes["/rss.xml"] = (200, {"Content-Type": "application/rss+xml"}, rss.encode())
    summary = ingest(sources_file=kept, db_path=str(db), allow_private_addresses=True)
    assert summary.stored == 1  # /b.html
    run_ids = {r for (r,) in rows(db, "SELECT DISTINCT run_id FROM fetches")}
    assert run_ids == {summary.run_id}  # the first run's log is gone, this run's stays
    assert rows(db, "SELECT url FROM raw_pages") == [(site.base + "/b.html",)]  # /a.html's archive was 40 days old
    assert rows(db, "SELECT count(*) FROM articles") == [(2,)]  # articles are never deleted
    assert rows(db, "SELECT count(*) FROM mentions WHERE article_id IN (SELECT article_id FROM articles "
                    "WHERE url NOT LIKE '%/b.html')")[0][0] > 0  # nor their mentions


@pytest.mark.parametrize("crawl, source, words", [
    ("keep_fetches_days = 0", "", ["[crawl]", "keep_fetches_days", "> 0"]),
    ('keep_raw_days = "month"', "", ["[crawl]", "keep_raw_days", "int or float"]),
    ("refetch_after_days = -2", "", ["[crawl]", "refetch_after_days"]),
    ("", "refetch_after_days = 0", ["'s'", "refetch_after_days"]),
    ("", "keep_raw_days = 3", ["'s'", "unknown key 'keep_raw_days'"]),  # retention is per database: [crawl] only
])
def test_bad_refetch_and_retention_values_are_one_line_errors_naming_the_key(tmp_path, crawl, source, words):
    path = tmp_path / "s.toml"
    path.write_text(f'[crawl]\n{crawl}\n[[sources]]\nname = "s"\nfeeds = ["https://e.com/rss"]\n{source}\n',
                    encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert "\n" not in message and all(w in message for w in words), message


def test_refetch_after_days_of_crawl_is_every_source_default(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[crawl]\nrefetch_after_days = 3\nkeep_fetches_days = 90\n'
                    '[[sources]]\nname = "a"\nfeeds = ["https://e.com/rss"]\n'
                    '[[sources]]\nname = "b"\nfeeds = ["https://e.org/rss"]\nrefetch_after_days = 0.5\n',
                    encoding="utf-8")
    config = load_config(path)
    assert [s.refetch_after_days for s in config.sources] == [3, 0.5]
    assert config.crawl.keep_fetches_days == 90 and config.crawl.keep_raw_days is None
    assert "refetch_after_days" not in config.sources[0].settings_dict()  # not a column of `sources`
