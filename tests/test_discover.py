import asyncio
from datetime import datetime, timezone

import pytest

from extractors.config import Source
from extractors.discover import DiscoveryError, discover_source, parse_feed, parse_sitemap
from extractors.fetch import Fetcher
from localsite import xml

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
    assert [l.url for l in links] == ["https://e.com/a.html?utm_source=rss", "https://e.com/b.html", "https://e.com/c.html"]
    assert links[0].published_at == datetime(2024, 3, 15, 6, 30, tzinfo=timezone.utc)
    assert links[2].published_at is None
    atom = parse_feed(ATOM.encode(), "https://e.com/atom")
    assert atom[0].url == "https://e.com/x" and atom[0].published_at == datetime(2024, 3, 10, 8, tzinfo=timezone.utc)


def test_parse_news_sitemap_dates_and_timezone_for_bare_dates():
    content = parse_sitemap(NEWS_SITEMAP.format(base="https://e.com").encode(), tz="Asia/Riyadh")
    a, d = content.urls
    assert a.published_at == datetime(2024, 3, 15, 6, 30, tzinfo=timezone.utc) and a.title == "خبر أول"
    assert d.published_at == datetime(2024, 3, 16, 21, 0, tzinfo=timezone.utc)  # midnight in Riyadh


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
