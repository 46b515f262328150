"""End-to-end: the real Prefect ingest flow against local HTTP sites, into a real DuckDB file."""

import json
from datetime import datetime

import duckdb
import pytest
from conftest import REPO, copy_database, shared_path
from localsite import html
from prefect.exceptions import FailedRun

from flows.sample_site import StaticSite

GOLD = json.loads((REPO / "samples" / "expected.json").read_text(encoding="utf-8"))
ARTICLES = {p: g for p, g in GOLD.items() if "expect" not in g}

pytestmark = pytest.mark.usefixtures("prefect_harness")


def table_counts(db):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("articles", "mentions", "entities", "fetches", "runs")}
    finally:
        con.close()


def rows(db, sql, params=None):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def sample_run(sample_ingest, tmp_path_factory):
    """The shared first ingest of the bundled sample site, then a second run over it on a private copy."""
    from flows.ingest import ingest

    first_db = sample_ingest.db
    db = copy_database(first_db, tmp_path_factory.mktemp("sample") / "sample.duckdb")
    after_first = table_counts(first_db)
    served_before = len(sample_ingest.site.requests)
    second = ingest(sources_file=str(sample_ingest.sources), db_path=str(db), allow_private_addresses=True)
    return dict(db=db, base=sample_ingest.base_url, first=sample_ingest.summary, second=second,
                after_first=after_first, after_second=table_counts(db), requests_first=sample_ingest.requests,
                requests_second=sample_ingest.site.requests[served_before:])


def test_full_ingest_stores_every_sample_article(sample_run):
    db, base = sample_run["db"], sample_run["base"]
    stored = {u.removeprefix(base): t for u, t in rows(db, "SELECT url, title FROM articles")}
    assert set(stored) == set(ARTICLES)
    assert sample_run["first"].stored == len(ARTICLES)
    assert sample_run["after_first"]["mentions"] > 10 * len(ARTICLES)
    # titles come out as the pages show them
    assert {p: stored[p] for p in ARTICLES} == {p: g["title"] for p, g in ARTICLES.items()}


def test_robots_disallowed_page_never_requested_and_404_recorded(sample_run):
    db, base = sample_run["db"], sample_run["base"]
    private = [p for p, g in GOLD.items() if g.get("expect") == "robots-disallowed"][0]
    missing = [p for p, g in GOLD.items() if g.get("expect") == "404"][0]
    assert private not in sample_run["requests_first"] + sample_run["requests_second"]
    assert rows(db, "SELECT status, error FROM fetches WHERE url = ? LIMIT 1", [base + private]) == [
        (None, "disallowed by robots.txt")]
    assert rows(db, "SELECT DISTINCT status, error FROM fetches WHERE url = ?", [base + missing]) == [(404, "HTTP 404")]
    assert sample_run["first"].failed == 2


def test_tracking_parameters_deduplicated(sample_run):
    utm = [r for r in sample_run["requests_first"] if "utm_" in r]
    assert utm == []
    article_requests = [r for r in sample_run["requests_first"] if r in ARTICLES]
    assert len(article_requests) == len(set(article_requests)) == len(ARTICLES)


def test_rerun_adds_no_rows_and_fetches_no_stored_article(sample_run):
    a, b = sample_run["after_first"], sample_run["after_second"]
    assert {k: b[k] for k in ("articles", "mentions", "entities")} == {k: a[k] for k in ("articles", "mentions", "entities")}
    assert b["fetches"] > a["fetches"] and b["runs"] == a["runs"] + 1
    assert not [r for r in sample_run["requests_second"] if r in ARTICLES]
    assert sample_run["second"].stored == 0


def test_runs_table_filled(sample_run):
    db = sample_run["db"]
    runs = rows(db, "SELECT run_id, discovered, fetched, stored, failed, status, finished_at FROM runs ORDER BY started_at")
    assert len(runs) == 2
    run_id, discovered, fetched, stored, failed, status, finished = runs[0]
    assert run_id == sample_run["first"].run_id and status == "completed" and finished is not None
    assert (discovered, stored, failed) == (len(ARTICLES) + 2, len(ARTICLES), 2)
    per_run = rows(db, "SELECT count(DISTINCT run_id) FROM fetches")[0][0]
    assert per_run == 2


def test_published_dates_follow_the_evidence(sample_run):
    db, base = sample_run["db"], sample_run["base"]
    got = {u.removeprefix(base): d for u, d in rows(db, "SELECT url, published_at FROM articles")}
    assert {p: got[p] for p in ARTICLES} == {p: datetime.fromisoformat(g["published_at"]) for p, g in ARTICLES.items()}


def test_503_then_200_recorded_in_the_run(site, tmp_path):
    from flows.ingest import ingest_urls

    body = (REPO / "samples" / "site" / "world" / "solana-annan-lebanon.html").read_text(encoding="utf-8")
    hits = []

    def flaky(req):
        hits.append(req)
        return html("busy", 503, **{"Retry-After": "0"}) if len(hits) == 1 else html(body)

    site.routes["/flaky.html"] = flaky
    db = tmp_path / "f.duckdb"
    summary = ingest_urls(urls=[site.url("/flaky.html")], db_path=str(db), allow_private_addresses=True)
    assert summary.stored == 1 and summary.failed == 0
    log = rows(db, "SELECT status, error, final, run_id FROM fetches WHERE url = ? ORDER BY fetched_at",
               [site.url("/flaky.html")])
    assert [(s, e, f) for s, e, f, _ in log] == [(503, "HTTP 503", False), (200, None, True)]
    assert {r for *_, r in log} == {summary.run_id}


def test_seed_article_share_tail_removed_in_pipeline(site, tmp_path):
    from flows.ingest import ingest_urls

    seed = shared_path("samples", "seed-article.txt").read_text(encoding="utf-8")
    body_text, tail = seed.rstrip("\n").rsplit("\n", 1)
    assert tail.strip().startswith("مشاركة")
    page = f"""<!doctype html><html lang="ar" dir="rtl"><head><meta charset="utf-8"><title>داعش يدافع عن جيبه الأخير</title></head>
    <body><nav><a href="/">الرئيسية</a> <a href="/world">عربي ودولي</a></nav>
    <article><h1>داعش يدافع عن جيبه الأخير</h1><p>{body_text}</p><div class="share">{tail}</div></article>
    <footer>جميع الحقوق محفوظة</footer></body></html>"""
    site.routes["/seed.html"] = html(page)
    db = tmp_path / "s.duckdb"
    ingest_urls(urls=[site.url("/seed.html")], db_path=str(db), allow_private_addresses=True)
    (text, credit), = rows(db, "SELECT text, credit FROM articles")
    assert "مشاركة" not in text and "الباغوز" in text and text.rstrip().endswith("حلب الشمالي.")
    assert credit == "وكالات"
    places = {c for (c,) in rows(db, "SELECT canonical FROM mentions WHERE entity_type = 'LOC'")}
    assert {"الباغوز", "الفرات"} & places
    assert all(text[s:e] == t for s, e, t in rows(db, 'SELECT start, "end", text FROM mentions'))


def test_bad_urls_in_ingest_urls_are_recorded_not_fatal(site, tmp_path):
    from flows.ingest import ingest_urls

    site.routes["/ok.html"] = html((REPO / "samples" / "site" / "world" / "nepal-fuel-shortage.html").read_text(encoding="utf-8"))
    db = tmp_path / "b.duckdb"
    summary = ingest_urls(urls=["not a url", "ftp://x/y", site.url("/ok.html")], db_path=str(db),
                          allow_private_addresses=True)
    assert summary.stored == 1 and summary.failed == 2
    errors = [e for (e,) in rows(db, "SELECT error FROM fetches WHERE error IS NOT NULL ORDER BY url")]
    assert len(errors) == 2 and all(e.startswith("bad URL") for e in errors)


def test_rel_canonical_names_the_article_and_the_fetched_url_is_remembered(site, tmp_path):
    from flows.ingest import ingest

    page = (REPO / "samples" / "site" / "world" / "nepal-fuel-shortage.html").read_text(encoding="utf-8")
    page = page.replace("{{BASE}}/world/nepal-fuel-shortage.html", "/news/2024/nepal-fuel.html")
    site.routes["/p.php"] = html(page)
    site.routes["/rss.xml"] = (200, {"Content-Type": "application/rss+xml"}, f"""<?xml version="1.0"?><rss version="2.0"><channel>
        <item><title>x</title><link>{site.base}/p.php?id=7</link></item></channel></rss>""".encode())
    src = tmp_path / "s.toml"
    src.write_text(f'[[sources]]\nname = "c"\nfeeds = ["{site.base}/rss.xml"]\nrequests_per_second = 0\n', encoding="utf-8")
    db = tmp_path / "c.duckdb"
    first = ingest(sources_file=str(src), db_path=str(db), allow_private_addresses=True)
    assert first.stored == 1
    assert rows(db, "SELECT url FROM articles") == [(site.base + "/news/2024/nepal-fuel.html",)]
    assert rows(db, "SELECT url FROM url_aliases") == [(site.base + "/p.php?id=7",)]
    site.routes["/rss.xml"] = (200, {"Content-Type": "application/rss+xml"}, f"""<?xml version="1.0"?><rss version="2.0"><channel>
        <item><title>x</title><link>{site.base}/p.php?id=7</link></item><item><title>y</title><link>{site.base}/none.html</link></item></channel></rss>""".encode())
    n = len(site.requests)
    with pytest.raises(FailedRun, match="none.html: HTTP 404"):  # the one new URL of the rerun is missing
        ingest(sources_file=str(src), db_path=str(db), allow_private_addresses=True)
    assert "/p.php?id=7" not in [r.path for r in site.requests[n:]]  # known through its alias
    assert rows(db, "SELECT count(*) FROM articles") == [(1,)]


def test_unchanged_feed_costs_one_request_on_rerun(sample_run):
    second = sample_run["requests_second"]
    assert second.count("/rss.xml") == 1 and sample_run["second"].discovered == 0


def test_process_pool_runner_gives_the_same_rows(sample_run, tmp_path):
    """Both cores: Prefect's process pool runs the CPU stages; workers report to this run's API."""
    from flows.ingest import ingest
    from flows.runners import task_runner_from_spec

    db = tmp_path / "p.duckdb"
    with StaticSite() as site:
        sources = tmp_path / "sources.toml"
        sources.write_text(site.sources_toml(), encoding="utf-8")
        summary = ingest.with_options(task_runner=task_runner_from_spec("process:2"))(
            sources_file=str(sources), db_path=str(db), allow_private_addresses=True, batch_size=5)
    q = 'SELECT a.title, count(m.start), sum(m."end") FROM articles a LEFT JOIN mentions m USING (article_id) GROUP BY ALL ORDER BY 1'
    assert summary.stored == len(ARTICLES)
    assert rows(db, q) == rows(sample_run["db"], q)


def test_ingest_urls_under_a_configured_source_keeps_its_settings(site, tmp_path):
    from extractors.config import Source
    from flows.ingest import ingest_urls
    from warehouse.store import Warehouse

    db = tmp_path / "k.duckdb"
    wh = Warehouse(db)
    wh.migrate()
    wh.upsert_sources([Source(name="bbc-arabic", feeds=("https://feeds.bbci.co.uk/arabic/rss.xml",), max_articles=50)])
    site.routes["/ok.html"] = html((REPO / "samples" / "site" / "world" / "nepal-fuel-shortage.html").read_text(encoding="utf-8"))
    summary = ingest_urls(urls=[site.url("/ok.html")], db_path=str(db), source="bbc-arabic", allow_private_addresses=True)
    assert summary.stored == 1
    assert rows(db, "SELECT feeds, max_articles FROM sources WHERE name = 'bbc-arabic'") == [
        (["https://feeds.bbci.co.uk/arabic/rss.xml"], 50)]
    assert rows(db, "SELECT source FROM articles") == [("bbc-arabic",)]


def test_since_backfills_sitemap_entries_from_that_day_beyond_max_articles(site, tmp_path):
    """`ingest --since`: every sitemap entry dated on or after the day, though max_articles is 1 and the sitemap
    was read (and its state saved) by an earlier nightly run."""
    from datetime import date

    from flows.ingest import ingest

    page = (REPO / "samples" / "site" / "world" / "nepal-fuel-shortage.html").read_text(encoding="utf-8")
    entries = [("/old.html", "2024-01-10"), ("/feb.html", "2024-02-03"), ("/mar.html", "2024-03-04"),
               ("/apr.html", "2024-04-05")]
    for path, _ in entries:
        site.routes[path] = html(page.replace("{{BASE}}/world/nepal-fuel-shortage.html", site.base + path)
                                 .replace("{{BASE}}", site.base))
    urls = "".join(f"<url><loc>{site.base}{p}</loc><lastmod>{d}</lastmod></url>" for p, d in entries)
    site.routes["/sitemap.xml"] = (200, {"Content-Type": "application/xml", "ETag": '"s1"'},
                                   f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                                   f'{urls}</urlset>'.encode())
    src = tmp_path / "s.toml"
    src.write_text(f'[[sources]]\nname = "s"\nsitemaps = ["{site.base}/sitemap.xml"]\nmax_articles = 1\n'
                   'requests_per_second = 0\n', encoding="utf-8")
    db = tmp_path / "since.duckdb"
    nightly = ingest(sources_file=str(src), db_path=str(db), allow_private_addresses=True)
    assert nightly.stored == 1  # the newest one (max_articles)
    backfill = ingest(sources_file=str(src), db_path=str(db), allow_private_addresses=True, since=date(2024, 2, 1))
    assert backfill.stored == 2  # feb and mar; apr was stored by the nightly run
    stored = {u.removeprefix(site.base) for (u,) in rows(db, "SELECT url FROM articles")}
    assert stored == {"/feb.html", "/mar.html", "/apr.html"}
    assert "/old.html" not in [r.path for r in site.requests]
    assert rows(db, "SELECT parameters::JSON->>'since' FROM runs WHERE run_id = ?", [backfill.run_id]) == [("2024-02-01",)]
