"""The work one page may cost is bounded (issue 18): the HTML extraction reads, the text tagged and hashed, the
length of a line tagged as one sentence; what was cut is recorded on the page's fetch-log row (`fetches.cut`).
Time and memory per page are measured by benchmarks/big_page.py, not here."""

from datetime import UTC, datetime

from extractors import batch
from extractors.batch import bounded_html, process_pages
from extractors.records import FetchedPage
from warehouse.store import Warehouse

SENTENCE = "قال وزير الخارجية السعودي في الرياض إن المحادثات مع الأمم المتحدة كانت مثمرة "


def fetched(body: str) -> FetchedPage:
    return FetchedPage(url="http://127.0.0.1/p.html", source="s", fetched_at=datetime.now(UTC), status=200,
                       body=body.encode("utf-8"), final_url="http://127.0.0.1/p.html",
                       content_type="text/html; charset=utf-8", encoding="utf-8")


def article_page(paragraphs: list[str]) -> str:
    return ("<html><head><title>عنوان الخبر</title></head><body><article><h1>عنوان الخبر</h1>"
            + "".join(f"<p>{p}</p>" for p in paragraphs) + "</article></body></html>")


def test_html_beyond_the_byte_and_element_limits_is_not_extracted():
    small = article_page([SENTENCE * 5]).encode()
    assert bounded_html(small) == (small, None)
    big = ("<p>" + "ب" * (batch.MAX_EXTRACT_BYTES // 2 + 10) + "</p>").encode()
    kept, cut = bounded_html(big)
    assert len(kept) <= batch.MAX_EXTRACT_BYTES and kept.decode("utf-8")  # cut on a character boundary
    assert cut == f"html: first {len(kept)} of {len(big)} bytes extracted (limit of {batch.MAX_EXTRACT_BYTES} bytes)"
    tags = ("<p>" + "<span>كلمة</span>" * (batch.MAX_EXTRACT_TAGS + 5) + "</p>").encode()
    kept, cut = bounded_html(tags)
    assert kept.count(b"<span>") == batch.MAX_EXTRACT_TAGS - 1 and "elements" in (cut or "")


def test_a_huge_one_line_page_is_stored_with_its_cuts_recorded(tmp_path):
    # one line of ~1 million characters (1.7 MB): more than the text tagged, and longer than a line tagged at once
    page = fetched(article_page([SENTENCE * 12_000]))
    out = process_pages([page], backend_name="crf")
    assert len(out.articles) == 1 and not out.failures
    art = out.articles[0]
    assert len(art.article.text) > batch.MAX_TAG_CHARS
    assert art.mentions and all(m.end <= batch.MAX_TAG_CHARS for m in art.mentions)
    assert all(art.article.text[m.start:m.end] == m.text for m in art.mentions)  # offsets of the pieces hold
    (row,) = out.fetch_rows
    assert row.error is None
    assert row.cut == (f"text: first {batch.MAX_TAG_CHARS} of {len(art.article.text)} characters tagged and hashed; "
                       f"lines over {batch.MAX_LINE_CHARS} characters tagged in pieces")
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.migrate()
    wh.load(out.articles, out.fetch_rows, "run-1")
    with wh.connection(read_only=True) as con:
        assert con.execute("SELECT cut FROM fetches").fetchall() == [(row.cut,)]
        assert con.execute("SELECT length(text) FROM articles").fetchone()[0] == len(art.article.text)


def test_pieces_tag_as_the_whole_text_does_when_no_line_is_too_long():
    text_lines = [SENTENCE * 3] * 4
    whole = process_pages([fetched(article_page(text_lines))], backend_name="crf")
    assert whole.fetch_rows[0].cut is None
    # the same sentences on one long line, tagged in pieces: the same entities, at offsets into the stored text
    one_line = process_pages([fetched(article_page([" ".join(text_lines) * 40]))], backend_name="crf")
    art = one_line.articles[0]
    assert "tagged in pieces" in (one_line.fetch_rows[0].cut or "")
    assert {m.canonical for m in art.mentions or []} >= {m.canonical for m in whole.articles[0].mentions or []}
