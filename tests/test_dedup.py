from datetime import UTC, datetime

from conftest import REPO

from extractors.dedup import NEAR_DUPLICATE_SIMILARITY, band_keys, minhash, similarity
from extractors.records import ExtractedArticle, ProcessedArticle
from warehouse.queries import run_query
from warehouse.store import Warehouse


def body(path):
    from extractors.extract.article import extract_article

    return extract_article((REPO / "samples" / "site" / path).read_text(encoding="utf-8"), "https://e.com/x").text


def test_minhash_near_and_far():
    text = body("world/solana-annan-lebanon.html")
    edited = "بيروت (وكالات) - " + text.replace("أ", "ا") + " وأضاف المصدر أن المحادثات ستستمر."
    words = text.split()
    trimmed = " ".join(words[: int(len(words) * 0.85)])
    far = body("world/nato-force-south-lebanon.html")  # another story on Lebanon
    assert similarity(minhash(text), minhash(text)) == 1.0
    assert similarity(minhash(text), minhash(edited)) >= NEAR_DUPLICATE_SIMILARITY
    assert similarity(minhash(text), minhash(trimmed)) >= NEAR_DUPLICATE_SIMILARITY
    assert similarity(minhash(text), minhash(far)) < 0.2
    assert len(minhash(text)) == 256 and len(band_keys(minhash(text))) == 16


def item(aid, text, source):
    a = ExtractedArticle(url=f"https://{source}/{aid}", title=f"t-{aid}", author=None,
                         published_at=datetime(2024, 3, 1, tzinfo=UTC), language="ar", text=text)
    return ProcessedArticle(article_id=aid, url=a.url, source=source, article=a, content_hash=aid,
                            fetched_at=a.published_at, final_url=None, mentions=[], backend="crf", minhash=minhash(text))


def test_near_duplicates_cluster_into_one_story_across_batches_and_sources(tmp_path):
    text = body("world/solana-annan-lebanon.html")
    wh = Warehouse(tmp_path / "d.duckdb")
    wh.migrate()
    wh.load([item("a", text, "site-one"), item("b", text + " وأضاف المصدر أن المحادثات ستستمر.", "site-two")], [], "r1")
    wh.load([item("c", "(رويترز) " + text.replace("إ", "ا"), "site-three"),
             item("d", body("world/nato-force-south-lebanon.html"), "site-one")], [], "r2")
    with wh.connection(read_only=True) as con:
        stories = dict(con.execute("SELECT article_id, story_id FROM articles").fetchall())
    assert stories["a"] == stories["b"] == stories["c"] == "a"
    assert stories["d"] == "d"
    cols, rows = run_query(wh.path, "stories")
    assert len(rows) == 1
    row = dict(zip(cols, rows[0]))
    assert row["story_id"] == "a" and row["copies"] == 3 and row["sources"] == 3
    # reloading keeps the clusters
    wh.load([item("b", text + " وأضاف المصدر أن المحادثات ستستمر.", "site-two")], [], "r3")
    with wh.connection(read_only=True) as con:
        assert con.execute("SELECT story_id FROM articles WHERE article_id = 'b'").fetchone()[0] == "a"
