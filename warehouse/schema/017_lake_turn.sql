-- One row every write transaction of a DuckLake warehouse updates first (warehouse/store.py, Warehouse.write):
-- DuckLake lets concurrent inserts into one table commit side by side, so two runs storing the same new article
-- at once would both insert it; two updates of this row conflict instead, and the loser retries after the
-- winner, and then finds the article stored. In a DuckDB file (one writer at a time) it costs one row update.
CREATE TABLE IF NOT EXISTS writer_turn (turn BIGINT NOT NULL);
INSERT INTO writer_turn SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM writer_turn);

-- The bookkeeping of the Parquet lake that many writers used before DuckLake: no longer written or read.
DROP TABLE IF EXISTS lake_files;
