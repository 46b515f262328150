-- akhbar warehouse, version 14: loads begun and not finished (warehouse/recovery.py).
-- A load records the ids of its articles here in a small transaction of its own, then deletes that row in the
-- load's transaction. DuckDB can recover a load killed while it wrote its WAL half-applied (rows the load
-- appended to one table present, to another absent: scripts/duckdb_kill_repro.py); a row left here names the
-- articles whose mentions, story bands and entity counts the next writer repairs before it loads anything.
CREATE TABLE IF NOT EXISTS load_journal (
    load_id     VARCHAR NOT NULL,
    started_at  TIMESTAMPTZ,
    article_ids VARCHAR[]
);
