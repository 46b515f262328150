import asyncio
import time

from localsite import html

from extractors.config import CrawlSettings
from extractors.fetch.fetcher import Fetcher
from extractors.fetch.retry import parse_retry_after
from extractors.records import DiscoveredURL

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
    assert [(a.status, a.error) for a in page.earlier_attempts] == [(503, "HTTP 503")]  # retried: not final
    assert calls[1] - calls[0] >= 0.95  # Retry-After: 1 honoured
    assert time.monotonic() - t0 < 5


def test_retries_give_up_after_the_configured_count(site):
    site.routes["/down.html"] = html("down", status=500)
    (page,) = fetch_all([site.url("/down.html")], crawl=CrawlSettings(timeout_seconds=5, retries=2),
                        limits={site.url("/"): (0, 2)})
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
                                   crawl=CrawlSettings(timeout_seconds=5, max_redirects=5),
                                   limits={site.url("/"): (0, 3)})
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
    # 10 requests/second at most. Arrival times on the server jitter under load (one request late, the next
    # on time), so check the spacing over spans rather than between neighbours only.
    assert len(times) == 6 and times[-1] - times[0] >= 0.45
    assert all(times[j] - times[i] >= (j - i) * 0.1 - 0.06 for i in range(6) for j in range(i + 1, 6))


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


# -- host back-off ---------------------------------------------------------------------------------------------
def _run(coro_fn, **kw):
    async def go():
        async with Fetcher(kw.pop("crawl", CrawlSettings(timeout_seconds=5, retries=0)), allow_private_addresses=True,
                           backoff_seconds=0.05, **kw) as f:
            return await coro_fn(f)
    return asyncio.run(go())


def test_a_failing_host_is_backed_off_and_not_requested_any_more(site):
    for i in range(8):
        site.routes[f"/down{i}.html"] = html("down", status=500)
    urls = [site.url(f"/down{i}.html") for i in range(8)]

    async def go(f):
        f.set_host_limits(urls[0], 0, 1)
        pages = await f.fetch_many([DiscoveredURL(url=u, source="t") for u in urls])
        return pages, f.backed_off_hosts()

    pages, backed_off = _run(go)
    host = site.base.removeprefix("http://")
    assert [p.error for p in pages[:5]] == ["HTTP 500"] * 5
    reason = f"host {host} backed off after 5 consecutive failures (last: HTTP 500)"
    assert [p.error for p in pages[5:]] == [f"skipped: {reason}"] * 3
    assert all(p.status is None for p in pages[5:])
    assert len([p for p in site.paths() if p.startswith("/down")]) == 5  # nothing after the threshold
    assert backed_off == {host: reason}


def test_back_off_counts_failures_after_retries_and_stops_pending_retries(site):
    for i in range(4):
        site.routes[f"/down{i}.html"] = html("down", status=503)
    urls = [site.url(f"/down{i}.html") for i in range(4)]

    async def go(f):
        f.set_host_limits(urls[0], 0, 4)
        return await f.fetch_many([DiscoveredURL(url=u, source="t") for u in urls])

    pages = _run(go, crawl=CrawlSettings(timeout_seconds=5, retries=2), host_failure_limit=2)
    assert sum(p.error == "HTTP 503" for p in pages) >= 2
    assert all(p.error == "HTTP 503" or "backed off after 2 consecutive failures" in p.error for p in pages)
    assert site.paths().count("/robots.txt") == 1
    assert len(site.requests) - 1 <= 4 * 3  # never more than every URL's attempts; usually fewer


def test_successes_and_client_errors_reset_the_failure_count(site):
    site.routes["/down.html"] = html("down", status=502)
    site.routes["/ok.html"] = html(PAGE)
    site.routes["/gone.html"] = html("gone", status=404)
    plan = ["/down.html"] * 4 + ["/ok.html"] + ["/down.html"] * 4 + ["/gone.html"] + ["/down.html"] * 4

    async def go(f):
        f.set_host_limits(site.url("/"), 0, 1)
        out = [await f.fetch(site.url(p), "t") for p in plan]
        return out, f.backed_off_hosts()

    pages, backed_off = _run(go)
    assert backed_off == {} and not any((p.error or "").startswith("skipped") for p in pages)
    assert site.paths().count("/down.html") == 12


def test_unreachable_host_is_backed_off_after_connection_failures():
    async def go(f):
        f.set_host_limits("http://127.0.0.1:9/", 0, 1)
        pages = [await f.fetch(f"http://127.0.0.1:9/{i}.html", "t") for i in range(7)]
        return pages, f.backed_off_hosts()

    pages, backed_off = _run(go, obey_robots=False)
    assert all(p.error == "connection refused (nothing listens on that port)" for p in pages[:5])
    assert pages[5].error.startswith("skipped: host 127.0.0.1:9 backed off after 5 consecutive failures (last: "
                                     "connection refused")
    assert list(backed_off) == ["127.0.0.1:9"]


def test_background_fetcher_reports_backed_off_hosts(site):
    from extractors.fetch.background import BackgroundFetcher

    site.routes["/down.html"] = html("down", status=500)
    with BackgroundFetcher(CrawlSettings(timeout_seconds=5, retries=0), allow_private_addresses=True,
                           host_failure_limit=1) as bf:
        (page,) = bf.fetch_many([DiscoveredURL(url=site.url("/down.html"), source="t")])
        assert page.error == "HTTP 500"
        assert list(bf.backed_off_hosts()) == [site.base.removeprefix("http://")]


def test_retry_after_holds_back_the_whole_host(site):
    calls = []

    def busy(req):
        calls.append(req.at)
        return html("busy", status=503, **{"Retry-After": "1"}) if len(calls) == 1 else html(PAGE)

    site.routes["/busy.html"] = busy
    site.routes["/other.html"] = html(PAGE)

    async def go(f):
        f.set_host_limits(site.url("/"), 0, 1)
        first = asyncio.create_task(f.fetch(site.url("/busy.html"), "t"))
        await asyncio.sleep(0.2)  # the 503 has arrived
        return await asyncio.gather(first, f.fetch(site.url("/other.html"), "t"))

    busy_page, other = _run(go, crawl=CrawlSettings(timeout_seconds=5, retries=1))
    assert busy_page.ok and other.ok
    other_at = next(r.at for r in site.requests if r.path == "/other.html")
    assert other_at - calls[0] >= 0.9  # the other URL of the host waited for Retry-After too


def test_very_long_retry_after_backs_the_host_off(site):
    site.routes["/later.html"] = html("later", status=429, **{"Retry-After": "3600"})
    site.routes["/next.html"] = html(PAGE)

    async def go(f):
        a = await f.fetch(site.url("/later.html"), "t")
        b = await f.fetch(site.url("/next.html"), "t")
        return a, b, f.backed_off_hosts()

    a, b, backed_off = _run(go, crawl=CrawlSettings(timeout_seconds=5, retries=2))
    assert a.error == "HTTP 429; Retry-After 3600s is too long, try a later run"
    assert b.error.startswith("skipped: host ") and "asked to retry after 3600s" in b.error
    assert "/next.html" not in site.paths() and len(backed_off) == 1


# -- conditional GET -------------------------------------------------------------------------------------------
def test_304_is_a_fine_fetch_without_body(site):
    def feed(req):
        if req.headers.get("if-none-match") == '"v1"':
            return 304, {"ETag": '"v1"'}, b""
        return 200, {"Content-Type": "application/rss+xml", "ETag": '"v1"',
                     "Last-Modified": "Wed, 21 Oct 2015 07:28:00 GMT"}, b"<rss/>"

    site.routes["/rss.xml"] = feed

    async def go(f):
        f.set_host_limits(site.url("/"), 0, 1)
        full = await f.fetch(site.url("/rss.xml"), "t", kind="feed")
        again = await f.fetch(site.url("/rss.xml"), "t", kind="feed", headers={"If-None-Match": full.etag})
        return full, again

    full, again = _run(go)
    assert full.ok and full.etag == '"v1"' and full.last_modified == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert not full.not_modified
    assert again.status == 304 and again.error is None and again.body is None and again.not_modified
    assert site.requests[-1].headers["if-none-match"] == '"v1"'


def test_unsolicited_304_is_an_error(site):
    site.routes["/odd.html"] = (304, {}, b"")
    (page,) = fetch_all([site.url("/odd.html")])
    assert page.error == "HTTP 304 (Not Modified) to a request that was not conditional" and page.status == 304


# -- robots.txt on every redirect hop, and RFC 9309 edges ---------------------------------------------------------

ROBOTS_PRIVATE = (200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /private/\n")


def fetch_with_robots_log(urls, **kw):
    async def go():
        async with Fetcher(CrawlSettings(timeout_seconds=5), allow_private_addresses=True, backoff_seconds=0.05,
                           **kw) as f:
            pages = await f.fetch_many([DiscoveredURL(url=u, source="t") for u in urls])
            return pages, f.take_robots_fetches()
    return asyncio.run(go())


def test_a_redirect_into_a_disallowed_path_is_refused_and_recorded(site):
    site.routes["/robots.txt"] = ROBOTS_PRIVATE
    site.routes["/go.html"] = (302, {"Location": "/private/secret.html"}, b"")
    site.routes["/private/secret.html"] = html(PAGE)
    (page,) = fetch_all([site.url("/go.html")])
    assert page.body is None and page.status == 302
    assert page.error == f"disallowed by robots.txt: redirected to {site.url('/private/secret.html')}"
    assert "/private/secret.html" not in site.paths()


def test_a_redirect_to_another_host_obeys_that_hosts_robots_txt(site):
    from localsite import LocalSite

    other = LocalSite()
    try:
        other.routes["/robots.txt"] = ROBOTS_PRIVATE
        other.routes["/private/x.html"] = html(PAGE)
        other.routes["/fine.html"] = html(PAGE)
        site.routes["/robots.txt"] = (200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n")
        site.routes["/away.html"] = (301, {"Location": other.url("/private/x.html")}, b"")
        site.routes["/fine.html"] = (302, {"Location": other.url("/fine.html")}, b"")
        (away, fine), robots = fetch_with_robots_log([site.url("/away.html"), site.url("/fine.html")])
    finally:
        other.close()
    assert away.error == f"disallowed by robots.txt: redirected to {other.url('/private/x.html')}"
    assert fine.ok and fine.final_url == other.url("/fine.html")
    assert other.paths().count("/robots.txt") == 1 and "/private/x.html" not in other.paths()
    assert sorted(p.url for p in robots) == sorted([site.url("/robots.txt"), other.url("/robots.txt")])


def test_a_robots_txt_over_512_kib_is_parsed_not_held_against_the_site(site):
    rules = b"User-agent: *\nDisallow: /private/\n"
    site.routes["/robots.txt"] = (200, {"Content-Type": "text/plain"}, rules + b"# padding\n" * 80_000)
    site.routes["/ok.html"] = html(PAGE)
    site.routes["/private/x.html"] = html(PAGE)
    (ok, private), (robots,) = fetch_with_robots_log([site.url("/ok.html"), site.url("/private/x.html")])
    assert ok.ok and private.error == "disallowed by robots.txt"
    assert robots.status == 200 and robots.error is None and len(robots.body) == 512 * 1024


def test_robots_txt_redirects_are_followed_up_to_five_and_a_loop_allows_everything(site):
    from localsite import LocalSite

    looping = LocalSite()
    try:
        for i in range(4):  # four redirects: followed, the rules at the end apply
            site.routes["/robots.txt" if i == 0 else f"/r{i}.txt"] = (302, {"Location": f"/r{i + 1}.txt"}, b"")
        site.routes["/r4.txt"] = ROBOTS_PRIVATE
        site.routes["/private/x.html"] = html(PAGE)
        looping.routes["/robots.txt"] = (302, {"Location": "/robots2.txt"}, b"")
        looping.routes["/robots2.txt"] = (302, {"Location": "/robots.txt"}, b"")
        looping.routes["/page.html"] = html(PAGE)
        (private, page), robots = fetch_with_robots_log([site.url("/private/x.html"), looping.url("/page.html")])
    finally:
        looping.close()
    assert private.error == "disallowed by robots.txt" and "/private/x.html" not in site.paths()
    assert page.ok  # RFC 9309: a robots.txt that cannot be reached through redirects is "unavailable"
    loop_row = next(r for r in robots if r.url == looping.url("/robots.txt"))
    assert loop_row.status == 302
    assert loop_row.error == "robots.txt unavailable (redirect loop): everything allowed (RFC 9309)"


def test_robots_txt_4xx_allows_5xx_disallows_and_both_are_logged(site):
    from localsite import LocalSite

    down = LocalSite()
    try:
        down.routes["/robots.txt"] = html("down", status=503)
        down.routes["/page.html"] = html(PAGE)
        site.routes["/page.html"] = html(PAGE)  # no robots.txt route: 404
        (fine, refused), robots = fetch_with_robots_log([site.url("/page.html"), down.url("/page.html")],
                                                        host_failure_limit=0)
    finally:
        down.close()
    assert fine.ok
    assert refused.error == "robots.txt unreachable (HTTP 503): the host is not crawled this run"
    assert "/page.html" not in down.paths()
    by_url = {r.url: (r.status, r.error) for r in robots}
    assert by_url[site.url("/robots.txt")] == (404, None)
    assert by_url[down.url("/robots.txt")] == (503, refused.error)


def test_a_tls_failure_is_named_as_such(site):
    """HTTPS to a server that speaks plain HTTP: the reason says TLS, not an exception name."""
    async def go(f):
        return await f.fetch(site.url("/page.html").replace("http://", "https://"), "t")

    page = _run(go, obey_robots=False)
    assert page.error.startswith("TLS handshake failed: "), page.error
