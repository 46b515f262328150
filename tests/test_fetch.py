import asyncio
import time

from extractors.config import CrawlSettings
from extractors.fetch import Fetcher, parse_retry_after
from extractors.types import DiscoveredURL
from localsite import html

PAGE = "<html><body><article><p>نص</p></article></body></html>"


def fetch_all(urls, *, allow_private=True, crawl=None, limits=None, **kw):
    async def go():
        async with Fetcher(crawl or CrawlSettings(timeout_seconds=5), allow_private_addresses=allow_private,
                           backoff_seconds=0.05, **kw) as f:
            for u, (rps, conc) in (limits or {}).items():
                f.set_host_limits(u, rps, conc)
            return await f.fetch_many([DiscoveredURL(url=u, source="t") for u in urls])
    return asyncio.run(go())


def test_robots_disallowed_url_is_never_requested(site):
    site.routes["/robots.txt"] = (200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /private/\n")
    site.routes["/private/secret.html"] = html(PAGE)
    site.routes["/ok.html"] = html(PAGE)
    ok, secret = fetch_all([site.url("/ok.html"), site.url("/private/secret.html")])
    assert ok.ok and ok.status == 200
    assert secret.error == "disallowed by robots.txt" and secret.status is None
    assert "/private/secret.html" not in site.paths()
    assert site.paths().count("/robots.txt") == 1


def test_404_recorded_with_status(site):
    (page,) = fetch_all([site.url("/missing.html")])
    assert page.status == 404 and page.error == "HTTP 404" and page.body is None and not page.earlier_attempts


def test_503_then_200_is_retried_and_both_attempts_recorded(site):
    calls = []

    def flaky(req):
        calls.append(req.at)
        if len(calls) == 1:
            return html("busy", status=503, **{"Retry-After": "1"})
        return html(PAGE)

    site.routes["/flaky.html"] = flaky
    t0 = time.monotonic()
    (page,) = fetch_all([site.url("/flaky.html")])
    assert page.ok and page.status == 200
    assert [(a.status, a.error) for a in page.earlier_attempts] == [(503, "HTTP 503 (retried)")]
    assert calls[1] - calls[0] >= 0.95  # Retry-After: 1 honoured
    assert time.monotonic() - t0 < 5


def test_retries_give_up_after_the_configured_count(site):
    site.routes["/down.html"] = html("down", status=500)
    (page,) = fetch_all([site.url("/down.html")], crawl=CrawlSettings(timeout_seconds=5, retries=2))
    assert page.status == 500 and page.error == "HTTP 500" and len(page.earlier_attempts) == 2
    assert site.paths().count("/down.html") == 3


def test_non_html_is_skipped(site):
    site.routes["/file.pdf"] = (200, {"Content-Type": "application/pdf"}, b"%PDF-1.4")
    (page,) = fetch_all([site.url("/file.pdf")])
    assert page.error.startswith("skipped: content type application/pdf")


def test_redirects_followed_and_capped(site):
    site.routes["/old.html"] = (301, {"Location": "/new.html"}, b"")
    site.routes["/new.html"] = html(PAGE)
    site.routes["/loop1"] = (302, {"Location": "/loop2"}, b"")
    site.routes["/loop2"] = (302, {"Location": "/loop1"}, b"")
    for i in range(10):
        site.routes[f"/hop{i}"] = (302, {"Location": f"/hop{i + 1}"}, b"")
    moved, loop, chain = fetch_all([site.url("/old.html"), site.url("/loop1"), site.url("/hop0")],
                                   crawl=CrawlSettings(timeout_seconds=5, max_redirects=5))
    assert moved.ok and moved.final_url == site.url("/new.html")
    assert loop.error == "redirect loop"
    assert chain.error == "too many redirects (more than 5)"


def test_size_cap(site):
    site.routes["/big.html"] = html("<p>" + "ا" * 600_000 + "</p>")
    (page,) = fetch_all([site.url("/big.html")], crawl=CrawlSettings(timeout_seconds=5, max_response_bytes=100_000))
    assert page.error.startswith("too large")


def test_private_addresses_refused_by_default(site):
    site.routes["/ok.html"] = html(PAGE)
    (page,) = fetch_all([site.url("/ok.html")], allow_private=False)
    assert page.error.startswith("refused: 127.0.0.1 is a private") and "--allow-private-addresses" in page.error
    assert site.paths() == []


def test_per_host_rate_and_concurrency(site):
    for i in range(6):
        site.routes[f"/p{i}.html"] = html(PAGE)
    urls = [site.url(f"/p{i}.html") for i in range(6)]
    fetch_all(urls, limits={urls[0]: (10.0, 1)})
    times = sorted(r.at for r in site.requests if r.path.startswith("/p"))
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(times) == 6 and min(gaps) >= 0.09  # 10 requests/second at most


def test_user_agent_sent(site):
    site.routes["/ok.html"] = html(PAGE)
    fetch_all([site.url("/ok.html")], crawl=CrawlSettings(user_agent="akhbar-test/9"))
    assert all(r.headers["user-agent"] == "akhbar-test/9" for r in site.requests)


def test_unreachable_host_is_a_recorded_failure():
    (page,) = fetch_all(["http://127.0.0.1:9/x.html"], crawl=CrawlSettings(timeout_seconds=2, retries=1))
    assert page.status is None and page.error  # robots.txt unreachable -> not fetched, with a reason


def test_parse_retry_after():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert 0 <= parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
