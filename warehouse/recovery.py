"""Loads that a crash left half-applied, found and repaired by the next writer.

DuckDB 1.5 can recover a transaction killed (SIGKILL, power loss) while COMMIT wrote its WAL half-applied: the
rows it appended to a table big enough to be written to the file before the commit (a full row group, 8,192
rows with the loads' ROW_GROUP_SIZE, 122,880 by default) come back, those of the other tables do not. Measured
with scripts/duckdb_kill_repro.py: a load's mentions present without its articles, every time the kill lands in
the WAL write (upstream: duckdb/duckdb PR 25931, "Fix uncommitted data recovered accidentally", open). So a load
cannot rely on its transaction alone:

1. before the load's transaction, `begin_load` commits one row to `load_journal` naming the batch's articles;
2. the load's transaction deletes that row (`finish_load`), so a load that committed whole leaves no row;
3. a writer that finds rows there (`repair_unfinished_loads`, run by Warehouse.load before it loads) removes the
   mentions and story bands of those articles that have no article row, removes duplicated rows among the
   rest, recounts every entity from the mentions, and deletes the journal rows, in one transaction (a crash
   in the repair leaves the journal, so the next writer repairs again; each step is idempotent).

The articles of a torn load are then not stored, so the next run fetches and loads them again as new ones.

`pause_point` is a test hook: with AKHBAR_TEST_PAUSE_AT=<point>:<flag file> the loader touches the flag file and
sleeps when it reaches <point>, so a test can SIGKILL it exactly there: load-start (before the file is opened),
load-begun (journal row committed), load-commit (every statement run, before COMMIT), load-committed (after
COMMIT, before the connection closes and checkpoints). Unset, it costs one environment lookup per point.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from warehouse.aliases import rebuild_entities
from warehouse.tables import MENTIONS, STORY_BANDS

BEGIN_LOAD = "INSERT INTO load_journal VALUES ($load_id, $started_at, $ids)"
FINISH_LOAD = "DELETE FROM load_journal WHERE load_id = $load_id"
UNFINISHED_LOADS = "SELECT count(*) FROM load_journal"

REPAIR_IDS = """
CREATE OR REPLACE TEMP TABLE repair_ids AS
SELECT DISTINCT unnest(article_ids) AS article_id FROM load_journal
"""
# Rows of the journal's articles kept: one of each distinct row, and only for articles that are stored.
KEPT_MENTIONS = f"""
CREATE OR REPLACE TEMP TABLE kept_rows AS
SELECT DISTINCT {MENTIONS.column_list()} FROM mentions
WHERE article_id IN (SELECT article_id FROM repair_ids) AND article_id IN (SELECT article_id FROM articles)
"""
KEPT_BANDS = f"""
CREATE OR REPLACE TEMP TABLE kept_rows AS
SELECT DISTINCT {STORY_BANDS.column_list()} FROM story_bands
WHERE article_id IN (SELECT article_id FROM repair_ids) AND article_id IN (SELECT article_id FROM articles)
"""
COUNT_OF_TABLE = {"mentions": "SELECT count(*) FROM mentions WHERE article_id IN (SELECT article_id FROM repair_ids)",
                  "story_bands": "SELECT count(*) FROM story_bands "
                                 "WHERE article_id IN (SELECT article_id FROM repair_ids)"}
REPLACE_ROWS = {"mentions": ("DELETE FROM mentions WHERE article_id IN (SELECT article_id FROM repair_ids)",
                             "INSERT INTO mentions SELECT * FROM kept_rows"),
                "story_bands": ("DELETE FROM story_bands WHERE article_id IN (SELECT article_id FROM repair_ids)",
                                "INSERT INTO story_bands SELECT * FROM kept_rows")}
KEPT_QUERY = {"mentions": KEPT_MENTIONS, "story_bands": KEPT_BANDS}

# The rows DuckDB brings back from a torn commit are in their table but not in its indexes: deleting them
# through an index aborts DuckDB ("Failed to delete all rows from index", a FatalException that invalidates the
# database). So the repair drops the article_id indexes of migrations 001 and 002 and builds them again after.
DROP_INDEXES = "DROP INDEX IF EXISTS mentions_article; DROP INDEX IF EXISTS story_bands_article"
CREATE_INDEXES = """
CREATE INDEX mentions_article ON mentions (article_id);
CREATE INDEX story_bands_article ON story_bands (article_id);
"""
CLEAR_JOURNAL = "DELETE FROM load_journal; DROP TABLE IF EXISTS repair_ids; DROP TABLE IF EXISTS kept_rows"

PAUSE_VARIABLE = "AKHBAR_TEST_PAUSE_AT"


@dataclass(frozen=True, slots=True)
class Repair:
    """What repair_unfinished_loads removed: unfinished loads found, and rows of mentions and bands dropped."""

    loads: int
    mentions_removed: int
    bands_removed: int


def begin_load(con: duckdb.DuckDBPyConnection, article_ids: Sequence[str]) -> str:
    """Commit a journal row naming the articles a load is about to write (outside any open transaction);
    returns the load's id for finish_load."""
    load_id = uuid.uuid4().hex
    con.execute("BEGIN TRANSACTION")
    con.execute(BEGIN_LOAD, {"load_id": load_id, "started_at": datetime.now(UTC), "ids": list(article_ids)})
    con.execute("COMMIT")
    return load_id


def finish_load(con: duckdb.DuckDBPyConnection, load_id: str) -> None:
    """Inside the load's transaction: the load is whole once this commits with it."""
    con.execute(FINISH_LOAD, {"load_id": load_id})


def repair_unfinished_loads(con: duckdb.DuckDBPyConnection) -> Repair | None:
    """Repair what unfinished loads left (see the module docstring), in one transaction; None when there were
    none (one count on a small table: every load calls this)."""
    row = con.execute(UNFINISHED_LOADS).fetchone()
    loads = int(row[0]) if row else 0
    if not loads:
        return None
    # the indexes go in a transaction of their own: dropped in the repair's, they are still maintained when its
    # deletes commit (a crash between the two leaves the journal, and the next writer repairs again)
    con.execute(DROP_INDEXES)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(REPAIR_IDS)
        removed = {table: _dedupe_rows(con, table) for table in ("mentions", "story_bands")}
        con.execute(CREATE_INDEXES)
        rebuild_entities(con)  # every entity recounted: the torn load's refresh may be half-applied too
        con.execute(CLEAR_JOURNAL)
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return Repair(loads=loads, mentions_removed=removed["mentions"], bands_removed=removed["story_bands"])


def _dedupe_rows(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Keep one of each distinct row of the journal's stored articles in `table`; the number of rows dropped."""
    before = _count(con, COUNT_OF_TABLE[table])
    con.execute(KEPT_QUERY[table])
    kept = _count(con, "SELECT count(*) FROM kept_rows")
    if kept != before:
        delete, insert = REPLACE_ROWS[table]
        con.execute(delete)
        con.execute(insert)
    return before - kept


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def pause_point(name: str) -> None:
    """Test hook (see the module docstring): stop here when AKHBAR_TEST_PAUSE_AT names this point."""
    wanted = os.environ.get(PAUSE_VARIABLE, "")
    point, _, flag = wanted.partition(":")
    if point != name:
        return
    if flag:
        Path(flag).touch()
    while True:  # until the test kills the process
        time.sleep(60)
