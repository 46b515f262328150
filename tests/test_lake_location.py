"""The `ducklake:` form of --db: the migrations in DuckLake's dialect, where a new lake's files go, and the
one-line errors of a bad --db/--data-path pair."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from warehouse.connection import connect, migrations
from warehouse.lake_location import display_location, lake_dialect, location_problem
from warehouse.store import Warehouse


@pytest.mark.parametrize(("version", "name", "sql"), migrations(), ids=[m[1] for m in migrations()])
def test_every_migration_in_the_lake_dialect_has_no_keys_or_indexes(version, name, sql):
    lake_sql = re.sub(r"--[^\n]*", "", lake_dialect(sql))
    assert not re.search(r"PRIMARY\s+KEY|UNIQUE|CREATE\s+INDEX|INSERT\s+OR", lake_sql, re.I), name


def test_a_lake_made_with_relative_paths_reads_from_any_directory(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    made = subprocess.run(
        [sys.executable, "-c", "from warehouse.store import Warehouse; "
         "Warehouse('ducklake:sqlite:data/lake.sqlite').migrate()"],
        cwd=work, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert made.returncode == 0, made.stderr[-2000:]
    assert (work / "data" / "lake.sqlite.files").is_dir()  # the default: beside the catalog
    con = connect(f"ducklake:sqlite:{work / 'data' / 'lake.sqlite'}", read_only=True)  # from another cwd
    try:
        assert con.execute("SELECT count(*) FROM entity_aliases").fetchone()[0] > 0  # rows in the lake's files
    finally:
        con.close()


@pytest.mark.parametrize(("db", "data_path", "writing", "says"), [
    ("ducklake:", None, False, "names no catalog"),
    ("ducklake:sqlite:", None, True, "names no catalog"),
    ("ducklake:postgres:host=pg dbname=news", None, True, "needs --data-path"),
    ("ducklake:postgres:host=pg dbname=news password=hunter2", "s3://b/x", False, "PGPASSWORD"),
    ("ducklake:postgres:postgresql://news:hunter2@pg/news", "s3://b/x", True, "PGPASSWORD"),
    ("data/akhbar.duckdb", "/srv/lake", True, "DuckLake warehouse only"),
])
def test_a_bad_db_and_data_path_pair_is_one_line_that_says_what_to_do(db, data_path, writing, says):
    problem = location_problem(db, data_path, writing=writing)
    assert problem is not None and says in problem and "\n" not in problem
    assert "hunter2" not in problem


def test_good_pairs_pass_and_names_never_show_a_password(tmp_path):
    assert location_problem("ducklake:postgres:host=pg dbname=news", None, writing=False) is None
    assert location_problem(f"ducklake:sqlite:{tmp_path / 'l.sqlite'}", None, writing=True) is None
    assert display_location("ducklake:postgres:host=pg password=hunter2") == "ducklake:postgres:host=pg password=***"
    assert "hunter2" not in display_location("ducklake:postgres:postgresql://news:hunter2@pg/news")


def test_a_lake_keeps_its_first_data_path(tmp_path):
    db = f"ducklake:sqlite:{tmp_path / 'lake.sqlite'}"
    Warehouse(db, data_path=str(tmp_path / "parquet")).migrate()
    assert list((tmp_path / "parquet").rglob("*.parquet"))
    Warehouse(db).migrate()  # later writers need not repeat it
    assert not (tmp_path / "lake.sqlite.files").exists()
