-- akhbar warehouse, version 7: lake files merged into this database (warehouse/lake.py).
-- Workers write each batch as Parquet files to a lake (a directory or an fsspec URL such as s3://...); the merge
-- loads the files not listed here and lists them in the same transaction, so merging again changes nothing and
-- a crashed run's finished batches are merged by the next merge.

CREATE TABLE IF NOT EXISTS lake_files (
    path       VARCHAR PRIMARY KEY,   -- relative to the lake: <table>/run_id=<id>/<name>.parquet (names are unique)
    lake       VARCHAR,               -- the lake URL or path it was merged from
    table_name VARCHAR NOT NULL,      -- articles, mentions, raw_pages, fetches, runs, sources, feed_state
    run_id     VARCHAR,
    rows       BIGINT,
    merged_at  TIMESTAMPTZ
);
