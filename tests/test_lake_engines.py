"""The extension loader and the engines a lake runs on, at the plain DuckDB level: DuckLake on SQLite and on a
real PostgreSQL server, data files on a local directory and on S3 (moto) through httpfs."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import duckdb
import pytest

from warehouse.connection import WarehouseError
from warehouse.extensions import (
    WAREHOUSE_EXTENSIONS,
    extension_file,
    load_extension,
    s3_secret_from_environment,
)

REPO = Path(__file__).resolve().parents[1]
ROWS = [(1, "بغداد"), (2, "القاهرة"), (3, "بيروت")]


def offline_connection(**config: str) -> duckdb.DuckDBPyConnection:
    # never download an extension: what loads here must load on a machine without internet
    return duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false",
                                  **config})


def sql_string(text: str) -> str:
    return text.replace("'", "''")


def loaded(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute("SELECT loaded FROM duckdb_extensions() WHERE extension_name = ?", [name]).fetchone()
    return bool(row and row[0])


def write_cities(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE lake.cities (id INTEGER, name VARCHAR)")
    con.executemany("INSERT INTO lake.cities VALUES (?, ?)", ROWS)


def read_cities(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str]]:
    return con.execute("SELECT id, name FROM lake.cities ORDER BY id").fetchall()


def attach_lake(con: duckdb.DuckDBPyConnection, catalog: str, data_path: str, *extensions: str) -> None:
    for name in ("ducklake", *extensions):
        load_extension(con, name)
    # no inlining: DuckLake keeps inserts of up to 10 rows in the catalog, and these tests look for the files
    con.execute(f"ATTACH 'ducklake:{sql_string(catalog)}' AS lake "
                f"(DATA_PATH '{sql_string(data_path)}', DATA_INLINING_ROW_LIMIT 0)")


# ------------------------------------------------------------------------------------------- load_extension


@pytest.mark.parametrize("name", WAREHOUSE_EXTENSIONS)
def test_each_warehouse_extension_loads_from_its_package(name):
    assert extension_file(name) is not None, f"duckdb-extension-{name} for DuckDB {duckdb.__version__} missing"
    con = offline_connection()
    assert not loaded(con, name)
    load_extension(con, name)
    load_extension(con, name)  # twice is harmless
    assert loaded(con, name)


def test_fts_extension_works():
    con = offline_connection()
    load_extension(con, "fts")
    con.execute("CREATE TABLE docs (id INTEGER, body VARCHAR)")
    con.executemany("INSERT INTO docs VALUES (?, ?)", [(1, "rain in Baghdad"), (2, "sun in Cairo")])
    con.execute("PRAGMA create_fts_index('docs', 'id', 'body')")
    hits = con.execute(
        "SELECT id FROM (SELECT id, fts_main_docs.match_bm25(id, 'cairo') AS score FROM docs) WHERE score IS NOT NULL"
    ).fetchall()
    assert hits == [(2,)]


def test_ducklake_on_sqlite_round_trips_rows(tmp_path):
    catalog = f"sqlite:{tmp_path / 'catalog.sqlite'}"
    data_dir = tmp_path / "files"
    with offline_connection() as writer:
        attach_lake(writer, catalog, f"{data_dir}/", "sqlite_scanner")
        write_cities(writer)
    with offline_connection() as reader:
        # the data path is kept in the catalog: a reader attaches without it
        load_extension(reader, "ducklake")
        load_extension(reader, "sqlite_scanner")
        reader.execute(f"ATTACH 'ducklake:{sql_string(catalog)}' AS lake (READ_ONLY)")
        assert read_cities(reader) == ROWS
    assert list(data_dir.rglob("*.parquet")), "DuckLake wrote no Parquet file under the data path"


def test_unknown_extension_is_a_one_line_error_naming_the_package():
    con = offline_connection()
    with pytest.raises(WarehouseError) as caught:
        load_extension(con, "no_such_ext")
    message = str(caught.value)
    assert "\n" not in message
    assert f"pip install duckdb-extension-no-such-ext=={duckdb.__version__}" in message


def test_not_an_extension_name_is_refused_before_sql():
    with pytest.raises(WarehouseError) as caught:
        load_extension(offline_connection(), "fts'; DROP TABLE x; --")
    assert "not a DuckDB extension name" in str(caught.value)


def test_without_the_package_an_extension_installed_earlier_loads(tmp_path, monkeypatch):
    package_file = extension_file("fts")
    assert package_file is not None
    # as on a machine without duckdb-extension-fts: importing it fails
    monkeypatch.setitem(sys.modules, "duckdb_extension_fts", None)
    assert extension_file("fts") is None
    ext_dir = str(tmp_path / "extensions")

    with pytest.raises(WarehouseError) as caught:
        load_extension(offline_connection(extension_directory=ext_dir), "fts")
    assert "\n" not in str(caught.value)
    assert f"pip install duckdb-extension-fts=={duckdb.__version__}" in str(caught.value)

    # `INSTALL fts` done earlier (here from the package's file: no network) is found by LOAD fts
    offline_connection(extension_directory=ext_dir).execute(f"INSTALL '{sql_string(str(package_file))}'")
    con = offline_connection(extension_directory=ext_dir)
    load_extension(con, "fts")
    assert loaded(con, "fts")


# ------------------------------------------------------------------------------------------- PostgreSQL


def test_ducklake_catalog_on_postgres_with_local_files(fresh_postgres_dsn, tmp_path):
    data_dir = tmp_path / "files"
    with offline_connection() as writer:
        attach_lake(writer, f"postgres:{fresh_postgres_dsn}", f"{data_dir}/", "postgres_scanner")
        write_cities(writer)
    with offline_connection() as reader:
        attach_lake(reader, f"postgres:{fresh_postgres_dsn}", f"{data_dir}/", "postgres_scanner")
        assert read_cities(reader) == ROWS
        # the catalog really is in PostgreSQL: its metadata tables are there, one snapshot per commit at least
        reader.execute(f"ATTACH '{sql_string(fresh_postgres_dsn)}' AS pg (TYPE postgres, READ_ONLY)")
        tables = reader.execute("SELECT table_name FROM pg.public.ducklake_table").fetchall()
        snapshots = reader.execute("SELECT count(*) FROM pg.public.ducklake_snapshot").fetchone()
    assert ("cities",) in tables
    assert snapshots is not None and snapshots[0] >= 2
    assert list(data_dir.rglob("*.parquet"))


def test_session_postgres_database_answers(postgres_dsn):
    con = offline_connection()
    load_extension(con, "postgres_scanner")
    con.execute(f"ATTACH '{sql_string(postgres_dsn)}' AS pg (TYPE postgres, READ_ONLY)")
    assert con.execute("SELECT current_database FROM postgres_query('pg', 'SELECT current_database()')").fetchone() \
        == ("akhbar",)


# ------------------------------------------------------------------------------------------- S3 (moto)


def create_s3_secret(con: duckdb.DuckDBPyConnection, s3) -> None:
    load_extension(con, "httpfs")
    con.execute(
        "CREATE SECRET (TYPE s3, KEY_ID ?, SECRET ?, REGION ?, ENDPOINT ?, URL_STYLE 'path', USE_SSL false)",
        [s3.key_id, s3.secret, s3.region, s3.endpoint],
    )


def test_ducklake_data_files_on_s3_through_httpfs(s3_endpoint, tmp_path):
    prefix = f"lake-{uuid.uuid4().hex[:8]}"
    catalog = f"sqlite:{tmp_path / 'catalog.sqlite'}"
    with offline_connection() as writer:
        create_s3_secret(writer, s3_endpoint)
        attach_lake(writer, catalog, f"s3://{s3_endpoint.bucket}/{prefix}/", "sqlite_scanner")
        write_cities(writer)
    with offline_connection() as reader:
        create_s3_secret(reader, s3_endpoint)
        attach_lake(reader, catalog, f"s3://{s3_endpoint.bucket}/{prefix}/", "sqlite_scanner")
        assert read_cities(reader) == ROWS
    keys = s3_endpoint.keys(f"{prefix}/")
    assert keys and all(key.endswith(".parquet") for key in keys), keys
    assert not list(tmp_path.rglob("*.parquet")), "data files went to the local disk instead of S3"


def test_s3_secret_from_environment_reaches_the_server(s3_endpoint, monkeypatch):
    for name, value in s3_endpoint.environment({}).items():
        monkeypatch.setenv(name, value)
    key = f"env-{uuid.uuid4().hex[:8]}/cities.parquet"
    con = offline_connection()
    assert s3_secret_from_environment(con) is True
    con.execute(f"COPY (SELECT * FROM (VALUES (1, 'بغداد')) t(id, name)) TO 's3://{s3_endpoint.bucket}/{key}'")
    assert s3_endpoint.keys(key) == [key]
    assert con.execute(f"SELECT name FROM 's3://{s3_endpoint.bucket}/{key}'").fetchall() == [("بغداد",)]


def test_s3_secret_from_environment_in_a_subprocess(s3_endpoint):
    # what a user does: export the AWS variables, then run a program that reads the bucket
    key = f"proc-{uuid.uuid4().hex[:8]}/n.parquet"
    with offline_connection() as con:
        create_s3_secret(con, s3_endpoint)
        con.execute(f"COPY (SELECT 42 AS n) TO 's3://{s3_endpoint.bucket}/{key}'")
    program = (
        "import duckdb, sys\n"
        "from warehouse.extensions import s3_secret_from_environment\n"
        "con = duckdb.connect()\n"
        "assert s3_secret_from_environment(con)\n"
        "print(con.execute(f\"SELECT n FROM '{sys.argv[1]}'\").fetchone()[0])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program, f"s3://{s3_endpoint.bucket}/{key}"], cwd=REPO,
        env=s3_endpoint.environment(), capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "42"


def test_s3_secret_needs_both_keys(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "only-the-id")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    con = offline_connection()
    assert s3_secret_from_environment(con) is False
    assert con.execute("SELECT count(*) FROM duckdb_secrets() WHERE NOT persistent").fetchone() == (0,)


def test_s3_secret_from_environment_https_endpoint_and_session_token(monkeypatch):
    # a TLS endpoint (R2, a cloud MinIO): TLS on, DuckDB's default URL style; nothing is contacted
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://objects.example.test:9000")
    con = offline_connection()
    assert s3_secret_from_environment(con) is True
    (described,) = con.execute("SELECT secret_string FROM duckdb_secrets() WHERE NOT persistent").fetchone()
    settings = dict(part.split("=", 1) for part in described.split(";"))
    assert settings["endpoint"] == "objects.example.test:9000"
    assert settings["use_ssl"] == "true"
    assert settings["url_style"] == "vhost"
    assert settings["region"] == "eu-central-1"
    assert settings["key_id"] == "id"
