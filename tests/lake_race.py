"""One process of the lake race (tests/test_lake_writers.py): `python tests/lake_race.py DB write N GO_FILE` loads
overlapping batches of articles as writer N once GO_FILE exists; `python tests/lake_race.py DB read STOP_FILE`
checks, until STOP_FILE exists, that every snapshot it reads holds whole batches, and prints what it saw."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from extractors.records import ExtractedArticle, Mention, ProcessedArticle
from warehouse.connection import connect
from warehouse.store import Warehouse

ARTICLES = 24  # ids a0..a23, each loaded by several writers
BATCHES = 6
PER_BATCH = 5
T0 = datetime(2024, 3, 15, 9, 0, tzinfo=UTC)
PLACE, PERSON = "بغداد", "أحمد"


def article(n: int, writer: int) -> ProcessedArticle:
    """Article n as writer `writer` stores it: the same two entities, at offsets that differ by writer."""
    text = f"{'خبر ' * writer}من {PLACE} قال {PERSON} في التقرير رقم {n}"
    mentions = [Mention("LOC", PLACE, PLACE, text.index(PLACE), text.index(PLACE) + len(PLACE)),
                Mention("PERS", PERSON, PERSON, text.index(PERSON), text.index(PERSON) + len(PERSON))]
    extracted = ExtractedArticle(url=f"https://e.com/a{n}", title=f"a{n}", author=None, published_at=T0,
                                 language="ar", text=text)
    return ProcessedArticle(article_id=f"a{n}", url=extracted.url, source=f"w{writer}", article=extracted,
                            content_hash=f"h{n}-{writer}", fetched_at=T0, final_url=None, mentions=mentions,
                            backend="crf")


def write(db: str, writer: int, go: Path) -> None:
    warehouse = Warehouse(db)
    while not go.exists():
        time.sleep(0.01)
    for batch in range(BATCHES):
        ids = [(writer * 7 + batch * PER_BATCH + k) % ARTICLES for k in range(PER_BATCH)]
        warehouse.load([article(n, writer) for n in ids], [], run_id=f"w{writer}")


SNAPSHOT_CHECK = """
SELECT (SELECT count(*) FROM articles),
       (SELECT count(*) FROM mentions),
       (SELECT count(*) FROM articles WHERE article_id NOT IN (SELECT article_id FROM mentions))
"""


def read(db: str, stop: Path) -> None:
    reads, torn = 0, []
    while True:
        done = stop.exists()  # one more read after the writers ended: at least one read, however slow the start
        con = connect(db, read_only=True)
        try:
            articles, mentions, bare = con.execute(SNAPSHOT_CHECK).fetchone()
        finally:
            con.close()
        reads += 1
        if mentions != 2 * articles or bare:
            torn.append([articles, mentions, bare])
        if done:
            break
    print(json.dumps({"reads": reads, "torn": torn}))


if __name__ == "__main__":
    db, role, arg = sys.argv[1], sys.argv[2], sys.argv[3:]
    if role == "read":
        read(db, Path(arg[0]))
    else:
        write(db, int(arg[0]), Path(arg[1]))
