"""One entity, many spellings: entity_aliases (migration 016), merged entities, display forms, `entities alias`.

Real DuckDB files loaded through the warehouse's own loader; the command runs as a real process
(`python -m flows.cli entities alias`)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import duckdb
import pytest
from conftest import REPO

from extractors.entities.canon import canonical_entity
from extractors.records import ExtractedArticle, Mention, ProcessedArticle
from flows.entities_cli import add_entities_alias_arguments, cmd_entities_alias
from warehouse import aliases
from warehouse.aliases import AliasError, add_alias, list_aliases, rebuild_entities, remove_alias, starter_aliases
from warehouse.connection import connect, migrations
from warehouse.queries import run_query
from warehouse.store import Warehouse

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
MIGRATION = REPO / "warehouse" / "schema" / "016_entity_aliases.sql"


def art(aid: str, text: str, names: list[tuple[str, str]], day: int = 0) -> ProcessedArticle:
    """An article whose mentions are `names` [(type, as written)], found in `text` in order, keyed as the
    pipeline keys them."""
    mentions, start = [], 0
    for etype, written in names:
        start = text.index(written, start)
        mentions.append(Mention(etype, written, canonical_entity(written), start, start + len(written)))
        start += len(written)
    a = ExtractedArticle(url=f"https://e.com/{aid}", title=f"title {aid}", author=None,
                         published_at=T0 + timedelta(days=day), language="ar", text=text)
    return ProcessedArticle(article_id=aid, url=a.url, source="s", article=a, content_hash="h" + aid,
                            fetched_at=T0, final_url=None, mentions=mentions, backend="crf")


def entities(db) -> dict[tuple[str, str], tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT canonical, entity_type, display, mention_count, article_count FROM entities")
        return {(c, t): (d, n, a) for c, t, d, n, a in rows.fetchall()}
    finally:
        con.close()


def rebuild(db) -> None:
    con = connect(db)
    try:
        rebuild_entities(con)
    finally:
        con.close()


@pytest.fixture
def news(tmp_path):
    """Trump in both spellings and Geneva, the UN with and without a clitic; entities rebuilt by merged entity."""
    wh = Warehouse(tmp_path / "news.duckdb", wait_seconds=5)
    wh.migrate()
    wh.load([
        art("a1", "قال ترامب في جنيف إن الأمم المتحدة", [("PERS", "ترامب"), ("LOC", "جنيف"), ("ORG", "الأمم المتحدة")]),
        art("a2", "وصل ترمب إلى جينيف للأمم المتحدة",
            [("PERS", "ترمب"), ("LOC", "جينيف"), ("ORG", "للأمم المتحدة")], day=1),
        art("a3", "ترمب في جينيف وللأمم المتحدة", [("PERS", "ترمب"), ("LOC", "جينيف"), ("ORG", "وللأمم المتحدة")], day=2),
        art("a4", "بوتين وترمب", [("PERS", "بوتين"), ("PERS", "ترمب")], day=2),
    ], [], "r1")
    rebuild(wh.path)
    return wh.path


# -- the starter list -------------------------------------------------------------------------------------------


def test_starter_list_is_flat_distinct_and_is_what_migration_016_inserts():
    rows = starter_aliases()
    assert 20 <= len(rows) <= 80  # modest
    variants = [a.variant for a in rows]
    assert len(set(variants)) == len(variants)
    assert not set(variants) & {a.canonical for a in rows}
    assert all(a.variant != a.canonical for a in rows)  # forms normalisation already folds need no row
    sql = MIGRATION.read_text(encoding="utf-8")
    block = sql[sql.index(aliases.STARTER_BEGIN): sql.index(aliases.STARTER_END) + len(aliases.STARTER_END) + 1]
    assert block == aliases.starter_sql(rows), "regenerate: python -m warehouse.aliases --starter-sql"
    assert ("ترمب", "ترامب") in {(a.variant, a.canonical) for a in rows}


# What the loader of version 15 ran after each load: one entities row per key, no aliases.
VERSION_15_REFRESH = """
DELETE FROM entities WHERE (canonical, entity_type) IN (SELECT canonical, entity_type FROM touched_entities);
INSERT INTO entities
SELECT m.canonical, m.entity_type, mode(m.text), min(coalesce(a.published_at, a.fetched_at)),
       max(coalesce(a.published_at, a.fetched_at)), count(*), count(DISTINCT m.article_id)
FROM mentions m JOIN articles a USING (article_id)
WHERE (m.canonical, m.entity_type) IN (SELECT canonical, entity_type FROM touched_entities)
GROUP BY m.canonical, m.entity_type;
"""


def test_migration_016_merges_an_existing_database(tmp_path, monkeypatch):
    """A file of version 15 with both spellings stored: after the migration its entities table has one row for
    Trump, shown as written, and the starter aliases are in place."""
    from test_warehouse import migrate_before

    import warehouse.loader

    path = tmp_path / "old.duckdb"
    con = connect(path)
    try:
        migrate_before(con, 16)
    finally:
        con.close()
    wh = Warehouse(path, wait_seconds=5)
    monkeypatch.setattr(warehouse.loader, "refresh_entities", lambda con: con.execute(VERSION_15_REFRESH))
    wh.load([art("a1", "ترامب وترمب", [("PERS", "ترامب"), ("PERS", "ترمب")]),
             art("a2", "ترمب", [("PERS", "ترمب")])], [], "r1")
    assert set(entities(path)) == {("ترامب", "PERS"), ("ترمب", "PERS")}
    monkeypatch.undo()
    assert wh.migrate() == [v for v, _, _ in migrations() if v >= 16]
    assert entities(path)[("ترامب", "PERS")] == ("ترمب", 3, 2)
    assert ("ترمب", "PERS") not in entities(path)


# -- merged entities in the tables, views and named queries -----------------------------------------------------


def test_entities_are_merged_and_shown_as_most_often_written(news):
    got = entities(news)
    assert got[("ترامب", "PERS")] == ("ترمب", 4, 4)         # ترامب ×1, ترمب ×3: one entity
    assert ("ترمب", "PERS") not in got
    assert got[("جنيف", "LOC")] == ("جينيف", 3, 3)
    # the UN: written with a clitic 2 times out of 3, shown as written without one, never as its key
    assert got[("الامم المتحده", "ORG")] == ("الأمم المتحدة", 3, 3)


def test_named_queries_and_views_group_by_merged_entity(news):
    cols, rows = run_query(news, "top-entities", {"type": "PERS"})
    assert cols[:3] == ["display", "entity", "type"]
    assert rows[0][:5] == ("ترمب", "ترامب", "PERS", 4, 4)
    # any spelling names the merged entity
    by_key = run_query(news, "entity-timeline", {"name": "ترامب"})[1]
    assert sum(r[1] for r in by_key) == 4
    assert run_query(news, "entity-timeline", {"name": "ترمب"})[1] == by_key
    assert run_query(news, "entity-timeline", {"name": "ترمپ"})[1] == by_key  # a variant never written here
    assert len(run_query(news, "entity-articles", {"name": "ترمب"})[1]) == 4
    cols, rows = run_query(news, "co-mentions", {"name": "جينيف"})
    assert cols[:4] == ["display", "entity", "type", "shared_articles"]
    shared = {r[1]: r[3] for r in rows}
    assert shared["ترامب"] == 3 and "ترمب" not in shared and "جنيف" not in shared
    con = duckdb.connect(str(news), read_only=True)
    try:
        persons = dict(con.execute("SELECT article_id, person_names FROM article_entities").fetchall())
        assert persons["a2"] == ["ترمب"] and persons["a4"] == ["بوتين", "ترمب"]
        daily = con.execute("SELECT sum(mentions), any_value(display) FROM daily_entity_counts "
                            "WHERE canonical = 'ترامب'").fetchone()
        assert daily == (4, "ترمب")
        assert con.execute("SELECT count(*) FROM entity_summary EXCEPT SELECT count(*) FROM entities").fetchall() == []
    finally:
        con.close()


def test_the_loader_keeps_entities_merged(tmp_path):
    wh = Warehouse(tmp_path / "w.duckdb", wait_seconds=5)
    wh.migrate()
    wh.load([art("a1", "ترامب", [("PERS", "ترامب")])], [], "r1")
    wh.load([art("a2", "ترمب ثم ترمب", [("PERS", "ترمب"), ("PERS", "ترمب")])], [], "r2")
    assert entities(wh.path) == {("ترامب", "PERS"): ("ترمب", 3, 2)}
    wh.load([art("a2", "لا شيء", [])], [], "r3")  # re-tagged without Trump
    assert entities(wh.path) == {("ترامب", "PERS"): ("ترامب", 1, 1)}


# -- adding, listing and removing aliases -----------------------------------------------------------------------


def test_add_list_and_remove_a_user_alias(news):
    assert entities(news)[("بوتين", "PERS")] == ("بوتين", 1, 1)
    change = add_alias(news, "بوتين", "ترمب")  # a user's (wrong but allowed) merge: the target's target is used
    assert (change.variant, change.canonical) == ("بوتين", "ترامب")
    assert entities(news)[("ترامب", "PERS")] == ("ترمب", 5, 4)
    assert ("بوتين", "PERS") not in entities(news)
    cols, rows = list_aliases(news)
    assert cols[:2] == ["variant", "canonical"]
    assert rows[[r[0] for r in rows].index("بوتين")][:5] == ("بوتين", "ترامب", "بوتين", "ترمب", "user")
    assert remove_alias(news, "بوتين").canonical == "ترامب"
    assert entities(news)[("بوتين", "PERS")] == ("بوتين", 1, 1)
    assert entities(news)[("ترامب", "PERS")] == ("ترمب", 4, 4)
    # a starter alias can be removed too: the two spellings are two entities again
    remove_alias(news, "ترمب")
    got = entities(news)
    assert got[("ترامب", "PERS")] == ("ترامب", 1, 1) and got[("ترمب", "PERS")] == ("ترمب", 3, 3)


def test_an_entity_that_becomes_a_variant_brings_its_variants(news):
    change = add_alias(news, "ترامب", "دونالد ترامب")
    assert change.moved == ("ترمب", "ترمپ")
    rows = {r[0]: r[1] for r in list_aliases(news)[1]}
    assert rows["ترمب"] == rows["ترمپ"] == rows["ترامب"] == "دونالد ترامب"  # still one join deep
    assert entities(news)[("دونالد ترامب", "PERS")][1:] == (4, 4)


def test_wrong_alias_requests_are_alias_errors(news, tmp_path):
    with pytest.raises(AliasError, match="same key"):
        add_alias(news, "أوباما", "اوباما")
    with pytest.raises(AliasError, match="already"):
        add_alias(news, "ترامب", "ترمب")  # ترمب is a variant of ترامب: a loop
    with pytest.raises(AliasError, match="no alias"):
        remove_alias(news, "بوتين")
    with pytest.raises(AliasError, match="no database"):
        add_alias(tmp_path / "nope.duckdb", "a", "b")
    assert not (tmp_path / "nope.duckdb").exists()


def alias_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_entities_alias_arguments(parser)
    return parser.parse_args(list(argv))


def test_alias_handler_exit_codes_and_one_line_errors(news, capsys):
    assert cmd_entities_alias(alias_args("بوتن", "بوتين", "--db", str(news))) == 0  # the starter has it: no change
    assert "already merged" in capsys.readouterr().out
    for argv in (["--db", str(news)], ["--list", "--remove", "x", "--db", str(news)], ["only", "--db", str(news)]):
        assert cmd_entities_alias(alias_args(*argv)) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("akhbar: error:"), argv
    assert cmd_entities_alias(alias_args("--remove", "لا شيء", "--db", str(news))) == 2
    assert cmd_entities_alias(alias_args("بوتين", "فلاديمير بوتين", "--db", str(news))) == 0
    assert "merged: بوتين -> فلاديمير بوتين (1 stored mentions)" in capsys.readouterr().out


def akhbar_entities(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", "entities", "alias", *argv],
                          capture_output=True, text=True, timeout=120, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


def test_alias_command_as_a_process(news):
    r = akhbar_entities("ترامب", "ترمب", "--db", str(news))  # ترمب is merged into ترامب: that would be a loop
    assert r.returncode == 2 and "already" in r.stderr and r.stderr.count("\n") == 1
    r = akhbar_entities("كييف", "كيف", "--db", str(news))
    assert r.returncode == 0, r.stderr
    r = akhbar_entities("--list", "--format", "json", "--db", str(news))
    assert r.returncode == 0, r.stderr
    listed = {row["variant"]: row for row in json.loads(r.stdout)}
    assert listed["كييف"]["canonical"] == "كيف" and listed["كييف"]["origin"] == "user"
    assert listed["ترمب"]["origin"] == "starter"
    r = akhbar_entities("--remove", "كييف", "--db", str(news))
    assert r.returncode == 0 and "كيف" in r.stdout
    r = akhbar_entities("--remove", "كييف", "--db", str(news))
    assert r.returncode == 2 and "no alias" in r.stderr and "Traceback" not in r.stderr
