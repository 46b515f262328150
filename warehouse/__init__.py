"""The warehouse: the DuckDB file the pipeline's rows end in, and everything that reads it.

Writing: `tables` (one column spec per table), `connection` (opening the file, waiting for its lock,
migrations in `schema/`), `arrow_records` (pipeline records as Arrow tables and back), `loader` (the bulk,
idempotent load of a batch on an open connection), `store` (`Warehouse`, the file opened per call, with sources
and runs), `feed_states` (conditional-GET state of feeds), `lake` (Parquet batches merged in later),
`arabic_sql` (the Arabic normalisation macro the SQL uses).
Reading: `queries` (named queries in `queries/`), `search` (full-text search), `report` (the HTML report),
`export` (Parquet export), `formatting` (tables and JSON for the command line).
"""
