import pytest

from extractors.discover.urls import BadURL, article_id, canonical_url, to_request_url
from extractors.fetch.address_guard import is_private_host


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("HTTP://Example.COM:80/a/b/?utm_source=x&id=3#frag", "http://example.com/a/b?id=3"),
        ("https://example.com:443/", "https://example.com/"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("https://example.com/news//2024/", "https://example.com/news/2024"),
        ("https://example.com/a?fbclid=1&gclid=2&utm_medium=rss", "https://example.com/a"),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?b=2&a=1"),
    ],
)
def test_canonical_forms(raw, expected):
    assert canonical_url(raw) == expected


def test_percent_encoded_arabic_becomes_iri_and_same_id():
    encoded = "https://example.com/%D8%B3%D9%88%D8%B1%D9%8A%D8%A7?q=%D8%B3"
    iri = "https://example.com/سوريا?q=س"
    assert canonical_url(encoded) == iri
    assert article_id(canonical_url(encoded)) == article_id(canonical_url(iri))
    # on the wire it is encoded again
    assert to_request_url(iri) == encoded


def test_reserved_and_invalid_utf8_stay_encoded():
    assert canonical_url("https://e.com/a%2Fb%3Fc") == "https://e.com/a%2Fb%3Fc"
    assert canonical_url("https://e.com/%FF%FE") == "https://e.com/%FF%FE"


def test_canonical_is_idempotent():
    for u in ["https://e.com/%D8%B3%20x/?utm_id=1&k=%D8%B3", "http://E.com:80//a//"]:
        once = canonical_url(u)
        assert canonical_url(once) == once


def test_article_id_is_sha256_hex():
    aid = article_id("https://e.com/")
    assert len(aid) == 64 and int(aid, 16) >= 0


@pytest.mark.parametrize("bad", ["", "ftp://e.com/x", "javascript:alert(1)", "http://", "https://e.com/" + "a" * 3000,
                                 "http://e.com:99999/", "http://e.com/\x00"])
def test_bad_urls_are_refused(bad):
    with pytest.raises(BadURL):
        canonical_url(bad)


def test_private_hosts():
    assert is_private_host("127.0.0.1") and is_private_host("10.1.2.3") and is_private_host("169.254.169.254")
    assert is_private_host("[::1]") and is_private_host("localhost")
    assert is_private_host("8.8.8.8") is False
    assert is_private_host("example.com") is None


# -- <link rel=canonical> -------------------------------------------------------------------------------------
from extractors.discover.urls import canonical_from_html  # noqa: E402


@pytest.mark.parametrize(
    "head, page, expected",
    [
        ('<link rel="canonical" href="https://www.e.com/news/1?utm_source=fb">', "https://www.e.com/news/1?ref=x",
         "https://www.e.com/news/1"),
        ("<LINK REL='Canonical' HREF='/news/%D8%B3/'>", "https://e.com/a?p=1", "https://e.com/news/س"),
        ('<link href="//m.e.com/x/" rel="alternate canonical">', "https://www.e.com/a", "https://m.e.com/x"),
        ('<link rel=canonical href=https://news.bbc.co.uk/a>', "https://www.bbc.co.uk/b", "https://news.bbc.co.uk/a"),
        ('<link rel="canonical" href="https://e.com/a?id=1&amp;p=2">', "https://e.com/x", "https://e.com/a?id=1&p=2"),
        ('<link rel="canonical" href="https://other.com/a">', "https://e.com/a", None),  # another site
        ('<link rel="canonical" href="https://co.uk.evil.com/a">', "https://www.e.co.uk/a", None),
        ('<link rel="canonical" href="https://evil.co.uk/a">', "https://www.e.co.uk/a", None),  # same public suffix
        ('<link rel="canonical" href="https://e.com/">', "https://e.com/news/1", None),  # the homepage
        ('<link rel="canonical" href="/">', "https://e.com/news/1", None),
        ('<link rel="canonical" href="javascript:void(0)">', "https://e.com/a", None),
        ('<link rel="canonical" href="">', "https://e.com/a", None),
        ('<link rel="canonical" href="/a"><link rel="canonical" href="/b">', "https://e.com/x", None),  # ambiguous
        ('<link rel="canonical" href="/a"><link rel="canonical" href="/a/">', "https://e.com/x", "https://e.com/a"),
        ('<!-- <link rel="canonical" href="/old"> --><link rel="canonical" href="/a">', "https://e.com/x", "https://e.com/a"),
        ('<link rel="stylesheet" href="/s.css">', "https://e.com/a", None),
        ('</head><body><link rel="canonical" href="/in-body">', "https://e.com/a", None),
        ('<link rel="canonical" href="https://127.0.0.1:8080/a">', "http://127.0.0.1:8080/b", "https://127.0.0.1:8080/a"),
        ('<link rel="canonical" href="http://10.0.0.1/a">', "http://127.0.0.1/b", None),
    ],
)
def test_canonical_from_html(head, page, expected):
    assert canonical_from_html(head, page) == expected
    assert canonical_from_html(f"<html><head><title>t</title>{head}".encode(), page) == expected


def test_canonical_from_html_survives_junk():
    assert canonical_from_html(b"\xff\xfe\x00\x01<link rel=canonical href=/a", "https://e.com/x") is None
    assert canonical_from_html("<link rel=canonical href=/a>", "not a url") is None
    big = "<html><head>" + "<meta name=x content=y>" * 20000 + '<link rel="canonical" href="/late">'
    assert canonical_from_html(big, "https://e.com/x") is None  # beyond the scanned head
    # a windows-1256 page whose canonical link is percent-encoded UTF-8 (as it must be on the wire)
    cp1256 = '<head><title>أخبار</title><link rel="canonical" href="/%D8%B3%D9%88%D8%B1%D9%8A%D8%A7"></head>'
    assert canonical_from_html(cp1256.encode("cp1256"), "https://e.com/x") == "https://e.com/سوريا"
