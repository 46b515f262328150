"""The warehouse: the DuckDB file or DuckLake the pipeline's rows end in, and everything that reads it.

Writing: `tables` (one column spec per table), `connection` (opening the warehouse, waiting for a file's lock,
retrying a lake's lost commits, migrations in `schema/`), `lake_location` (the `ducklake:` form), `extensions`
(DuckDB extensions offline), `arrow_records` (pipeline records as Arrow tables and back), `loader` (the bulk,
idempotent load of a batch on an open connection), `store` (`Warehouse`, opened per call, with sources and
runs), `feed_states` (conditional-GET state of feeds), `lake_copy` (a file copied into a lake),
`arabic_sql` (the Arabic normalisation macro the SQL uses).
Reading: `queries` (named queries in `queries/`), `search` (full-text search), `report` (the HTML report),
`export` (Parquet export), `formatting` (tables and JSON for the command line).
"""
