"""Views (migration 004), named queries and reading while an ingest writes, on a real ingested database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import REPO

AKHBAR = str(Path(sys.executable).parent / "akhbar")
GOLD = json.loads((REPO / "samples" / "expected.json").read_text(encoding="utf-8"))
N_ARTICLES = sum("expect" not in g for g in GOLD.values())


@pytest.fixture(scope="module")
def db(sample_ingest):
    """The bundled sample site ingested through the real flow (shared by the session; read only here)."""
    return sample_ingest.db


def q(db: Path, sql: str, params=None):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def akhbar(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([AKHBAR, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING"})


# --- views -------------------------------------------------------------------------------------------------

def test_article_entities_one_row_per_article_with_typed_lists(db):
    assert q(db, "SELECT count(*), count(DISTINCT article_id) FROM article_entities")[0] == (N_ARTICLES, N_ARTICLES)
    # the lists hold exactly the article's distinct merged entities per type (spelling variants merged through
    # entity_aliases: the sample site writes both «عبدالله الثاني» and «عبد الله الثاني», a starter alias)
    expected = q(db, """SELECT article_id, entity_type, list(DISTINCT coalesce(al.canonical, m.canonical)
                                                              ORDER BY coalesce(al.canonical, m.canonical))
                        FROM mentions m LEFT JOIN entity_aliases al ON al.variant = m.canonical GROUP BY ALL""")
    variants = q(db, "SELECT DISTINCT m.canonical FROM mentions m JOIN entity_aliases al ON al.variant = m.canonical")
    assert ("عبدالله الثاني",) in variants
    got = {}
    for aid, pers, loc, org, misc in q(db, "SELECT article_id, persons, locations, organizations, misc "
                                           "FROM article_entities"):
        got.update({(aid, "PERS"): pers, (aid, "LOC"): loc, (aid, "ORG"): org, (aid, "MISC"): misc})
    for aid, etype, names in expected:
        assert sorted(got[(aid, etype)]) == names
    # Iraq is the most mentioned place of the Iraq articles
    iraq = q(db, "SELECT locations[1] FROM article_entities WHERE url LIKE '%iraq-ramadan-us-threats%'")
    assert iraq == [("العراق",)]
    assert q(db, "SELECT sum(mentions) FROM article_entities")[0][0] == q(db, "SELECT count(*) FROM mentions")[0][0]


def test_daily_entity_counts_add_up_and_use_utc_days(db):
    total = q(db, "SELECT sum(mentions) FROM daily_entity_counts")[0][0]
    assert total == q(db, "SELECT count(*) FROM mentions")[0][0]
    rows = q(db, "SELECT day, mentions, articles FROM daily_entity_counts WHERE canonical = 'العراق' ORDER BY day")
    assert sum(r[1] for r in rows) == q(db, "SELECT count(*) FROM mentions WHERE canonical = 'العراق'")[0][0]
    # 2024-03-05T22:45+03:00 would be 03-05 in UTC; days come from the UTC timestamp
    by_day = {d: n for d, n, _ in rows}
    utc_days = {r[0] for r in q(db, """SELECT DISTINCT CAST(timezone('UTC', published_at) AS DATE) FROM articles a
                                      JOIN mentions m USING (article_id) WHERE m.canonical = 'العراق'""")}
    assert set(by_day) == utc_days


def test_source_health_view(db):
    rows = q(db, "SELECT source, requests, ok, failed, articles, last_ok IS NOT NULL, last_error FROM source_health")
    assert len(rows) == 1
    source, requests, ok, failed, articles, has_ok, last_error = rows[0]
    assert source == "sample-news" and articles == N_ARTICLES and has_ok
    assert requests == ok + failed == q(db, "SELECT count(*) FROM fetches")[0][0]
    assert failed == 2 and last_error in ("HTTP 404", "disallowed by robots.txt")


# --- named queries -----------------------------------------------------------------------------------------

def test_new_named_queries_are_listed_with_their_parameters():
    from warehouse.queries import named_queries

    qs = named_queries()
    for name in ("entity-timeline", "co-mentions", "entity-articles", "latest-articles"):
        assert qs[name].description, name
    assert "name" in qs["entity-timeline"].defaults and "name" in qs["co-mentions"].defaults
    r = akhbar("query", "--list")
    assert r.returncode == 0 and "entity-timeline" in r.stdout and "co-mentions" in r.stdout


def test_entity_timeline_counts_every_day_and_matches_written_forms(db):
    from warehouse.queries import QueryArgumentError, run_query

    cols, rows = run_query(db, "entity-timeline", {"name": "العراق"})
    assert cols == ["day", "mentions", "articles", "top_article"]
    assert sum(r[1] for r in rows) == q(db, "SELECT count(*) FROM mentions WHERE canonical = 'العراق'")[0][0]
    days = [r[0] for r in rows]
    assert days == [days[0] + timedelta(days=i) for i in range(len(days))]  # no gaps: quiet days show 0
    assert all(isinstance(d, date) for d in days) and any(r[1] == 0 for r in rows)
    # the same entity, typed as written (taa marbuta, hamza), with diacritics, or with a clitic as in the text
    canonical = "الولايات المتحده"
    want = run_query(db, "entity-timeline", {"name": canonical})[1]
    assert want and sum(r[1] for r in want) > 0
    assert run_query(db, "entity-timeline", {"name": "الولايات المتحدة"})[1] == want
    assert run_query(db, "entity-timeline", {"name": "العِراق"})[1] == rows
    clitic = q(db, "SELECT text FROM mentions WHERE canonical = 'العراق' AND text <> canonical LIMIT 1")
    if clitic:
        assert run_query(db, "entity-timeline", {"name": clitic[0][0]})[1] == rows
    assert run_query(db, "entity-timeline", {"name": "لا يوجد"})[1] == []
    with pytest.raises(QueryArgumentError, match="needs --param name"):
        run_query(db, "entity-timeline", {})


def test_co_mentions(db):
    from warehouse.queries import run_query

    cols, rows = run_query(db, "co-mentions", {"name": "العراق", "limit": "50"})
    # the name as most often written first (what a person reads), then the key other queries take
    assert cols[:4] == ["display", "entity", "type", "shared_articles"]
    iraq_articles = q(db, "SELECT count(DISTINCT article_id) FROM mentions WHERE canonical = 'العراق'")[0][0]
    assert rows and all(r[1] != "العراق" for r in rows)
    assert all(1 <= r[3] <= iraq_articles for r in rows)
    assert [r[3] for r in rows] == sorted((r[3] for r in rows), reverse=True)
    displays = dict(q(db, "SELECT canonical || '|' || entity_type, display FROM entities"))
    assert all(r[0] == displays[f"{r[1]}|{r[2]}"] for r in rows)
    # check one pair by hand (no alias merges two keys of the sample site)
    ent, etype, shared = rows[0][1], rows[0][2], rows[0][3]
    assert shared == q(db, """SELECT count(DISTINCT a.article_id) FROM mentions a JOIN mentions b USING (article_id)
                              WHERE a.canonical = 'العراق' AND b.canonical = ? AND b.entity_type = ?""",
                       [ent, etype])[0][0]
    only_pers = run_query(db, "co-mentions", {"name": "العراق", "type": "pers"})[1]
    assert only_pers and {r[2] for r in only_pers} == {"PERS"}


def test_entity_articles_and_latest_articles(db):
    from warehouse.queries import run_query

    cols, rows = run_query(db, "entity-articles", {"name": "لبنان"})
    assert cols == ["published_at", "source", "title", "mentions", "url"]
    assert len(rows) == q(db, "SELECT count(DISTINCT article_id) FROM mentions WHERE canonical = 'لبنان'")[0][0]
    cols, rows = run_query(db, "latest-articles", {"limit": "3"})
    assert len(rows) == 3 and cols[3:] == ["persons", "locations", "organizations"]
    assert rows[0][0] >= rows[1][0] >= rows[2][0]
    # names as written (display forms), not normalised keys
    written = {d for (d,) in q(db, "SELECT display FROM entities")}
    shown = [name for r in rows for names in r[3:] for name in names]
    assert shown and set(shown) <= written


def test_cli_named_query_with_arabic_param_as_json(db):
    r = akhbar("query", "entity-timeline", "--param", "name=العراق", "--format", "json", "--db", str(db))
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data and set(data[0]) == {"day", "mentions", "articles", "top_article"}
    r = akhbar("query", "co-mentions", "--db", str(db))
    assert r.returncode == 2 and "needs --param name=VALUE" in r.stderr


# --- reading while writing ---------------------------------------------------------------------------------

HOLDER = textwrap.dedent("""
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])          # a writer, as an ingest's load holds it
    con.execute("BEGIN TRANSACTION")
    con.execute("INSERT INTO runs (run_id, flow, status) VALUES ('holder', 'test', 'running')")
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
    con.execute("ROLLBACK")
    con.close()
""")


def hold_write_lock(db: Path, seconds: float) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), str(seconds)], stdout=subprocess.PIPE, text=True,
                         start_new_session=True)
    assert p.stdout.readline().strip() == "holding"
    return p


def test_query_while_another_process_writes_waits_then_succeeds(db):
    from warehouse.queries import run_query

    holder = hold_write_lock(db, 2.0)
    try:
        t0 = time.monotonic()
        cols, rows = run_query(db, "top-entities", {"limit": "3"}, wait_seconds=30)
        waited = time.monotonic() - t0
    finally:
        holder.wait(30)
    assert len(rows) == 3 and waited >= 0.5
    assert q(db, "SELECT count(*) FROM runs WHERE run_id = 'holder'")[0][0] == 0  # the file is intact


def test_query_gets_a_clear_retry_message_when_the_writer_keeps_the_lock(db):
    from warehouse.connection import WarehouseLocked
    from warehouse.queries import run_query

    holder = hold_write_lock(db, 4.0)
    try:
        with pytest.raises(WarehouseLocked) as info:
            run_query(db, "top-entities", {}, wait_seconds=1)
    finally:
        holder.wait(30)
    msg = str(info.value)
    assert "locked by another process" in msg and f"PID {holder.pid}" in msg and "run again" in msg


def test_cli_query_during_a_write_says_it_waits_and_then_answers(db):
    holder = hold_write_lock(db, 2.0)
    try:
        r = akhbar("query", "SELECT count(*) AS n FROM articles", "--format", "csv", "--db", str(db))
    finally:
        holder.wait(30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["n", str(N_ARTICLES)]
    assert "in use by another process" in r.stderr and "waiting" in r.stderr
