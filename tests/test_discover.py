import asyncio
from datetime import UTC, datetime

import pytest
from localsite import xml

from extractors.config import Source
from extractors.discover.feeds import DiscoveryError, discover_source, parse_feed, parse_sitemap
from extractors.fetch.fetcher import Fetcher

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>أخبار</title>
<item><title>خبر أول</title><link>{base}/a.html?utm_source=rss</link><pubDate>Fri, 15 Mar 2024 09:30:00 +0300</pubDate></item>
<item><title>خبر ثان</title><link>{base}/b.html</link><pubDate>Sat, 16 Mar 2024 10:00:00 GMT</pubDate></item>
<item><title>بلا تاريخ</title><link>{base}/c.html</link></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<entry><title>أ</title><link href="https://e.com/x"/><updated>2024-03-10T08:00:00Z</updated><id>1</id></entry>
</feed>"""

NEWS_SITEMAP = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>{base}/a.html</loc><news:news><news:publication><news:name>x</news:name><news:language>ar</news:language></news:publication>
<news:publication_date>2024-03-15T09:30:00+03:00</news:publication_date><news:title>خبر أول</news:title></news:news></url>
<url><loc>{base}/d.html</loc><lastmod>2024-03-17</lastmod></url>
</urlset>"""

INDEX = """<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>{base}/news.xml</loc><lastmod>2024-03-17</lastmod></sitemap>
</sitemapindex>"""


def test_parse_rss_and_atom():
    links = parse_feed(RSS.format(base="https://e.com").encode(), "https://e.com/rss.xml")
    assert [link.url for link in links] == ["https://e.com/a.html?utm_source=rss", "https://e.com/b.html", "https://e.com/c.html"]
    assert links[0].published_at == datetime(2024, 3, 15, 6, 30, tzinfo=UTC)
    assert links[2].published_at is None
    atom = parse_feed(ATOM.encode(), "https://e.com/atom")
    assert atom[0].url == "https://e.com/x" and atom[0].published_at == datetime(2024, 3, 10, 8, tzinfo=UTC)


def test_parse_news_sitemap_dates_and_timezone_for_bare_dates():
    content = parse_sitemap(NEWS_SITEMAP.format(base="https://e.com").encode(), tz="Asia/Riyadh")
    a, d = content.urls
    assert a.published_at == datetime(2024, 3, 15, 6, 30, tzinfo=UTC) and a.title == "خبر أول"
    assert d.published_at == datetime(2024, 3, 16, 21, 0, tzinfo=UTC)  # midnight in Riyadh


def test_sitemap_index_children():
    content = parse_sitemap(INDEX.format(base="https://e.com").encode())
    assert [s.url for s in content.sitemaps] == ["https://e.com/news.xml"] and not content.urls


@pytest.mark.parametrize("body", [b"<urlset><url><loc>x", b"not xml at all", b"<html><body>hi</body></html>",
                                  b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><urlset><url><loc>&e;</loc></url></urlset>'])
def test_malformed_or_hostile_sitemaps_raise(body):
    with pytest.raises(DiscoveryError):
        parse_sitemap(body)


def test_discover_source_merges_dedups_and_orders_newest_first(site):
    site.routes["/robots.txt"] = (200, {"Content-Type": "text/plain"}, f"User-agent: *\nSitemap: {site.base}/index.xml\n".encode())
    site.routes["/rss.xml"] = xml(RSS.format(base=site.base), "application/rss+xml")
    site.routes["/index.xml"] = xml(INDEX.format(base=site.base))
    site.routes["/news.xml"] = xml(NEWS_SITEMAP.format(base=site.base))
    src = Source(name="t", homepage=site.base + "/", feeds=(site.url("/rss.xml"),), requests_per_second=0)

    async def go():
        async with Fetcher(allow_private_addresses=True) as f:
            return await discover_source(f, src)

    result = asyncio.run(go())
    urls = [u.url.removeprefix(site.base) for u in result.urls]
    # d (17 Mar, from the sitemap), b (16 Mar), a (15 Mar; found in feed with utm_ and in sitemap), c (no date)
    assert urls == ["/d.html", "/b.html", "/a.html", "/c.html"]
    assert not result.errors
    assert {p.url.removeprefix(site.base) for p in result.fetches} == {"/rss.xml", "/index.xml", "/news.xml"}


# -- conditional GET of feeds and sitemaps ----------------------------------------------------------------------
def _discover_twice(site, src, *, between=None):
    """Two discoveries in one Fetcher (so robots.txt is cached): the second with the first's feed states."""
    async def go():
        async with Fetcher(allow_private_addresses=True) as f:
            first = await discover_source(f, src)
            site.requests.clear()
            if between:
                between()
            second = await discover_source(f, src, feed_states=first.feed_states)
            return first, second
    return asyncio.run(go())


def test_unchanged_feed_costs_one_request_answered_304(site):
    body = RSS.format(base=site.base).encode()

    def feed(req):
        if req.headers.get("if-none-match") == '"r1"' or req.headers.get("if-modified-since") == "Fri, 15 Mar 2024 10:00:00 GMT":
            return 304, {"ETag": '"r1"'}, b""
        return 200, {"Content-Type": "application/rss+xml", "ETag": '"r1"',
                     "Last-Modified": "Fri, 15 Mar 2024 10:00:00 GMT"}, body

    site.routes["/rss.xml"] = feed
    src = Source(name="t", feeds=(site.url("/rss.xml"),), requests_per_second=0)
    first, second = _discover_twice(site, src)
    assert len(first.urls) == 3 and first.unchanged == []
    state = first.feed_states[site.url("/rss.xml")]
    assert (state.etag, state.last_modified) == ('"r1"', "Fri, 15 Mar 2024 10:00:00 GMT") and len(state.body_sha256) == 64
    # the second discovery: exactly one request, conditional, answered 304; no URLs (they were seen last time)
    assert site.paths() == ["/rss.xml"]
    assert site.requests[0].headers["if-none-match"] == '"r1"'
    assert site.requests[0].headers["if-modified-since"] == "Fri, 15 Mar 2024 10:00:00 GMT"
    assert second.urls == [] and second.errors == [] and second.unchanged == [site.url("/rss.xml")]
    (page,) = second.fetches
    assert page.status == 304 and page.error is None and page.not_modified and page.body is None
    new = second.feed_states[site.url("/rss.xml")]
    assert new.etag == '"r1"' and new.body_sha256 == state.body_sha256 and new.checked_at >= state.checked_at


def test_server_ignoring_conditional_headers_is_unchanged_by_body_hash(site):
    bodies = {"rss": RSS.format(base=site.base).encode()}
    site.routes["/rss.xml"] = lambda req: (200, {"Content-Type": "application/rss+xml", "ETag": '"always-new"'},
                                           bodies["rss"])
    src = Source(name="t", feeds=(site.url("/rss.xml"),), requests_per_second=0)
    first, second = _discover_twice(site, src)
    assert len(first.urls) == 3
    assert site.paths() == ["/rss.xml"] and site.requests[0].headers["if-none-match"] == '"always-new"'
    assert second.urls == [] and second.unchanged == [site.url("/rss.xml")] and second.fetches[0].status == 200

    # and a changed body gives its URLs again
    def change():
        bodies["rss"] = bodies["rss"].replace(b"/c.html", b"/new.html")

    _, third = _discover_twice(site, src, between=change)
    assert {u.url.removeprefix(site.base) for u in third.urls} == {"/a.html", "/b.html", "/new.html"}
    assert third.unchanged == []


def test_sitemap_index_is_always_followed_and_children_are_conditional(site):
    child = NEWS_SITEMAP.format(base=site.base).encode()

    def news(req):
        if req.headers.get("if-none-match") == '"n1"':
            return 304, {}, b""
        return 200, {"Content-Type": "application/xml", "ETag": '"n1"'}, child

    site.routes["/index.xml"] = (200, {"Content-Type": "application/xml", "ETag": '"i1"'},
                                 INDEX.format(base=site.base).encode())
    site.routes["/news.xml"] = news
    src = Source(name="t", sitemaps=(site.url("/index.xml"),), requests_per_second=0)
    first, second = _discover_twice(site, src)
    assert len(first.urls) == 2
    assert first.feed_states[site.url("/index.xml")].etag is None  # an index keeps only its hash
    assert first.feed_states[site.url("/news.xml")].etag == '"n1"'
    assert site.paths() == ["/index.xml", "/news.xml"]
    assert "if-none-match" not in site.requests[0].headers and site.requests[1].headers["if-none-match"] == '"n1"'
    assert second.urls == [] and set(second.unchanged) == {site.url("/news.xml")}
    assert [p.status for p in second.fetches] == [200, 304]


def test_malformed_feeds_and_sitemaps_are_recorded_and_discovery_goes_on(site):
    site.routes["/good.xml"] = xml(RSS.format(base=site.base), "application/rss+xml")
    site.routes["/broken.xml"] = xml("<rss><channel><item><title>x", "application/rss+xml")
    site.routes["/html.xml"] = (200, {"Content-Type": "text/html"}, b"<html><body>moved</body></html>")
    site.routes["/evil.xml"] = xml('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                                   "<rss><channel><item><link>&x;</link></item></channel></rss>")
    site.routes["/bad-sitemap.xml"] = xml("<urlset><url><loc>")
    site.routes["/news.xml"] = xml(NEWS_SITEMAP.format(base=site.base))
    src = Source(name="t", requests_per_second=0,
                 feeds=tuple(site.url(p) for p in ("/broken.xml", "/html.xml", "/evil.xml", "/missing.xml", "/good.xml")),
                 sitemaps=(site.url("/bad-sitemap.xml"), site.url("/news.xml")))

    async def go():
        async with Fetcher(allow_private_addresses=True) as f:
            return await discover_source(f, src)

    result = asyncio.run(go())
    assert {u.url.removeprefix(site.base) for u in result.urls} == {"/a.html", "/b.html", "/c.html", "/d.html"}
    errors = {p.url.removeprefix(site.base): p.error for p in result.fetches}
    assert errors["/good.xml"] is None and errors["/news.xml"] is None
    assert errors["/broken.xml"].startswith("unreadable feed: not a readable feed:")
    assert errors["/html.xml"] == "unreadable feed: not a feed: no RSS or Atom root element"
    assert errors["/evil.xml"].startswith("unreadable feed: XML declares entities; refused")
    assert errors["/missing.xml"] == "HTTP 404"
    assert errors["/bad-sitemap.xml"].startswith("unreadable sitemap: not a readable sitemap:")
    assert len(result.errors) == 5
    # unreadable documents keep no new state (they are read in full again next time)
    assert set(result.feed_states) == {site.url("/good.xml"), site.url("/news.xml")}


def test_feed_states_round_trip_through_duckdb(tmp_path, site):
    from pathlib import Path

    import duckdb

    from extractors.discover.feed_state import FeedState
    from warehouse.feed_states import load_feed_states, save_feed_states

    migration = Path(__file__).resolve().parents[1] / "warehouse" / "schema" / "003_feed_state.sql"
    db = tmp_path / "state.duckdb"
    con = duckdb.connect(str(db))
    con.execute(migration.read_text(encoding="utf-8"))
    cols = con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'feed_state' "
                       "ORDER BY ordinal_position").fetchall()
    assert cols == [("url", "VARCHAR"), ("etag", "VARCHAR"), ("last_modified", "VARCHAR"),
                    ("body_sha256", "VARCHAR"), ("checked_at", "TIMESTAMP WITH TIME ZONE")]

    site.routes["/rss.xml"] = lambda req: ((304, {}, b"") if req.headers.get("if-none-match") == '"e"' else
                                           (200, {"Content-Type": "application/rss+xml", "ETag": '"e"'},
                                            RSS.format(base=site.base).encode()))
    src = Source(name="t", feeds=(site.url("/rss.xml"),), requests_per_second=0)

    async def discover(states):
        async with Fetcher(allow_private_addresses=True) as f:
            return await discover_source(f, src, feed_states=states)

    first = asyncio.run(discover(load_feed_states(con, src.feeds)))
    assert save_feed_states(con, first.feed_states.values()) == 1
    con.close()

    con = duckdb.connect(str(db))  # a later run, a fresh connection
    states = load_feed_states(con, [site.url("/rss.xml") + "#frag"])  # looked up by canonical URL
    assert states == first.feed_states
    site.requests.clear()
    second = asyncio.run(discover(states))
    assert second.urls == [] and [p.status for p in second.fetches if p.url.endswith("/rss.xml")] == [304]
    save_feed_states(con, second.feed_states.values())
    assert con.execute("SELECT count(*) FROM feed_state").fetchone() == (1,)
    assert load_feed_states(con)[site.url("/rss.xml")].checked_at == second.feed_states[site.url("/rss.xml")].checked_at

    # bulk upsert, last one wins; NULLs and an empty batch are fine
    now = datetime.now(UTC)
    many = [FeedState(f"https://e.com/f{i}", None, None, None, now) for i in range(500)]
    assert save_feed_states(con, many + [FeedState("https://e.com/f1", '"x"', None, "ab", now)]) == 500
    assert save_feed_states(con, []) == 0
    got = load_feed_states(con, ["https://e.com/f1", "https://e.com/f2", "https://e.com/none"])
    assert got["https://e.com/f1"].etag == '"x"' and got["https://e.com/f2"].etag is None and len(got) == 2
    assert load_feed_states(con, []) == {}
    con.close()


# -- backfill (`since`) and per-document counts -------------------------------------------------------------------
BACKFILL_INDEX = """<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>{base}/2024-01.xml</loc><lastmod>2024-01-31</lastmod></sitemap>
<sitemap><loc>{base}/2024-02.xml</loc><lastmod>2024-02-29</lastmod></sitemap>
<sitemap><loc>{base}/2024-03.xml</loc><lastmod>2024-03-31</lastmod></sitemap>
</sitemapindex>"""


def month_sitemap(base, entries):
    urls = "".join(f"<url><loc>{base}{path}</loc>" + (f"<lastmod>{day}</lastmod>" if day else "") + "</url>"
                   for path, day in entries)
    return f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'


def test_backfill_since_a_date_follows_the_index_from_that_date_and_keeps_dated_entries_on_or_after_it(site):
    site.routes["/index.xml"] = xml(BACKFILL_INDEX.format(base=site.base))
    site.routes["/2024-01.xml"] = xml(month_sitemap(site.base, [("/jan.html", "2024-01-20")]))
    site.routes["/2024-02.xml"] = xml(month_sitemap(site.base, [("/feb-10.html", "2024-02-10"),
                                                                ("/feb-20.html", "2024-02-20"),
                                                                ("/undated.html", None)]))
    site.routes["/2024-03.xml"] = xml(month_sitemap(site.base, [("/mar.html", "2024-03-05")]))
    src = Source(name="t", sitemaps=(site.url("/index.xml"),), requests_per_second=0)

    async def go(since):
        async with Fetcher(allow_private_addresses=True) as f:
            return await discover_source(f, src, since=since)

    result = asyncio.run(go(datetime(2024, 2, 15, tzinfo=UTC)))
    assert [u.url.removeprefix(site.base) for u in result.urls] == ["/mar.html", "/feb-20.html"]
    assert (result.before_since, result.undated) == (1, 1)  # feb-10 is older, undated.html cannot be placed
    assert "/2024-01.xml" not in site.paths()  # the January sitemap ends before the date: not even requested
    docs = {url.removeprefix(site.base): d for url, d in result.documents.items()}
    assert (docs["/index.xml"].kind, docs["/index.xml"].items) == ("sitemap-index", 3)
    assert (docs["/2024-02.xml"].kind, docs["/2024-02.xml"].items) == ("sitemap", 3)
    assert docs["/2024-02.xml"].newest == datetime(2024, 2, 20, tzinfo=UTC)
    # without a date: everything the newest children list, undated entries included
    site.requests.clear()
    everything = asyncio.run(go(None))
    assert len(everything.urls) == 5 and "/2024-01.xml" in site.paths()


def test_backfill_follows_more_children_than_a_nightly_run(site):
    from extractors.discover.feeds import MAX_CHILD_SITEMAPS

    n = MAX_CHILD_SITEMAPS + 4
    children = "".join(f"<sitemap><loc>{site.base}/d{i}.xml</loc><lastmod>2024-03-{i + 1:02d}</lastmod></sitemap>"
                       for i in range(n))
    site.routes["/index.xml"] = xml(f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/'
                                    f'sitemap/0.9">{children}</sitemapindex>')
    for i in range(n):
        site.routes[f"/d{i}.xml"] = xml(month_sitemap(site.base, [(f"/a{i}.html", f"2024-03-{i + 1:02d}")]))
    src = Source(name="t", sitemaps=(site.url("/index.xml"),), requests_per_second=0)

    async def go(since):
        async with Fetcher(allow_private_addresses=True) as f:
            return await discover_source(f, src, since=since)

    assert len(asyncio.run(go(None)).urls) == MAX_CHILD_SITEMAPS
    assert len(asyncio.run(go(datetime(2024, 3, 1, tzinfo=UTC))).urls) == n
