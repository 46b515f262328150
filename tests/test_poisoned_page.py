"""One poisoned page (issue 18): a page whose strings decode to lone surrogates (a JSON `\\ud800` escape, a broken
`&#xD800;` entity) is stored cleaned, and a record that still cannot be stored is logged in `fetches` with its
reason while the rest of the batch is stored."""

import re
from datetime import UTC, datetime

import duckdb
import pytest
from conftest import REPO
from localsite import html

from extractors.arabic import clean_text
from extractors.records import ExtractedArticle, FetchLogRow, ProcessedArticle
from warehouse.store import Warehouse

SAMPLES = sorted((REPO / "samples" / "site" / "world").glob("*.html"))


def own_article(body: str) -> str:
    """The sample page as an article of its own URL (no canonical link naming another)."""
    return re.sub(r'<link rel="canonical"[^>]*>|<meta property="og:url"[^>]*>', "", body)


def poison(body: str) -> str:
    """JSON `\\ud800` escapes in the page's JSON-LD headline and a broken `&#xD800;` entity in its body."""
    body = re.sub(r'("headline": ")', "\\1\\\\ud800 ", body, count=1)
    return body.replace("<p>", "<p>&#xD800;&#xDFFF; ", 1)


def test_clean_text_replaces_surrogates_and_noncharacters_and_drops_controls():
    assert clean_text("a\ud800b\udfffc") == "a\ufffdb\ufffdc"
    assert clean_text("x\ufffe\U0010ffffy") == "x\ufffd\ufffdy"
    assert clean_text("نص\x00\x07\x85 عربي\t\n") == "نص عربي\t\n"
    assert clean_text("plain text") == "plain text"


@pytest.mark.usefixtures("prefect_harness")
def test_a_poisoned_page_next_to_good_ones_is_stored_cleaned_and_the_run_goes_on(site, tmp_path):
    from flows.ingest import ingest_urls

    bodies = [own_article(p.read_text(encoding="utf-8")) for p in SAMPLES[:4]]
    pages = {"/bad.html": poison(bodies[0]), "/good1.html": bodies[1], "/good2.html": bodies[2], "/good3.html": bodies[3]}
    for path, body in pages.items():
        site.routes[path] = html(body)
    db = tmp_path / "p.duckdb"
    urls = [site.url(p) for p in pages]
    summary = ingest_urls(urls=urls, db_path=str(db), allow_private_addresses=True)
    assert summary.failed == 0 and summary.stored == 4
    con = duckdb.connect(str(db), read_only=True)
    # DuckDB would not have taken a lone surrogate; U+FFFD marks where one was
    texts = con.execute("SELECT title, author, description, text FROM articles").fetchall()
    assert not any("\ud800" in (v or "") for row in texts for v in row)
    bad = con.execute("SELECT title, text FROM articles WHERE url = ?", [site.url("/bad.html")]).fetchone()
    assert bad[0].startswith("\ufffd ") and bad[1].startswith("\ufffd\ufffd")
    assert con.execute("SELECT count(*) FROM fetches WHERE error IS NULL AND final AND kind = 'article'").fetchone()[0] == 4
    con.close()
    again = ingest_urls(urls=urls, db_path=str(db), allow_private_addresses=True)
    assert again.failed == 0


def test_a_record_that_cannot_be_stored_is_logged_and_the_rest_of_the_load_is_stored(tmp_path):
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.migrate()
    t0 = datetime(2024, 3, 15, tzinfo=UTC)

    def article(i: int, title: str) -> ProcessedArticle:
        a = ExtractedArticle(url=f"https://e.com/{i}", title=title, author=None, published_at=t0, language="ar",
                             text=f"نص الخبر {i}")
        return ProcessedArticle(article_id=f"a{i}", url=a.url, source="s", article=a, content_hash=f"h{i}",
                                fetched_at=t0, final_url=None, mentions=[], backend="crf")

    # a record that escaped cleaning (built by hand here): Arrow cannot encode its title
    batch = [article(0, "سليم"), article(1, "مسموم \ud800"), article(2, "سليم أيضا")]
    rows = [FetchLogRow(url=f"https://e.com/{i}", source="s", kind="article", status=200, error=None, fetched_at=t0)
            for i in range(3)]
    counts = wh.load(batch, rows, "run-1")
    assert counts.articles == 2
    with wh.connection(read_only=True) as con:
        assert sorted(r[0] for r in con.execute("SELECT article_id FROM articles").fetchall()) == ["a0", "a2"]
        logged = con.execute("SELECT url, error FROM fetches ORDER BY url").fetchall()
    assert [u for u, _ in logged] == [f"https://e.com/{i}" for i in range(3)]
    assert logged[0][1] is None and logged[2][1] is None
    assert logged[1][1].startswith("not stored: UnicodeEncodeError")
