"""The merge-lake flow: merge the lake's new Parquet files into the DuckDB file (warehouse/lake.py).

Schedule it (e.g. every 15 minutes, at most one run at a time) next to ingests that write to a lake; a merge that
finds nothing new costs one listing of the lake.
"""

from __future__ import annotations

from dataclasses import asdict

from prefect import flow, get_run_logger

from warehouse.connection import DEFAULT_DB_PATH
from warehouse.lake import MergeCounts, merge_lake
from warehouse.search import refresh_search_index


@flow(name="merge-lake", log_prints=True)
def merge_lake_flow(lake: str, db_path: str = DEFAULT_DB_PATH, write_report: bool = False) -> MergeCounts:
    """Merge the Parquet files ingest runs wrote to a lake into the database, once each.

    Args:
        lake: The lake (a directory or an fsspec URL such as s3://bucket/akhbar) the ingest runs wrote to.
        db_path: Path of the DuckDB file to merge into.
        write_report: Write the HTML report next to the database after merging something.
    """
    logger = get_run_logger()
    counts = merge_lake(db_path, lake, on_wait=logger.warning, log=logger.info)
    if counts.files:
        refresh_search_index(db_path, log=logger.warning)  # once per merge, after loading
        try:
            from prefect.artifacts import create_table_artifact

            row = {k: v for k, v in asdict(counts).items() if k != "run_ids"}
            create_table_artifact([row], key="merge-lake-summary",
                                  description=f"Lake {lake} merged into {db_path}")
        except Exception as exc:
            logger.warning("no artifact: %s", exc)
        if write_report:
            from flows.reporting import publish_html_report

            publish_html_report(db_path)
    return counts
