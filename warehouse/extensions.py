"""DuckDB extensions, loaded without touching the network, and S3 credentials from the environment.

Each extension the warehouse uses ships on PyPI as `duckdb-extension-<name>` with the build for exactly one DuckDB
version (`<package>/extensions/v<version>/<name>.duckdb_extension`); the project pins those packages to the pinned
DuckDB, so `LOAD '<that file>'` works offline on any machine that ran `make install`. When the package is missing
or is for another DuckDB, `LOAD <name>` still finds an extension installed earlier with `INSTALL <name>` (DuckDB's
own extension directory, also offline). When neither works the error names the package to install.

S3: DuckDB's httpfs reads credentials only from DuckDB secrets. A user who keeps keys in the usual AWS
environment variables gets a temporary secret made from them (`s3_secret_from_environment`); a persistent secret
made once in the duckdb shell (`CREATE PERSISTENT SECRET`, kept in ~/.duckdb/stored_secrets) is found by DuckDB
itself, the Python client included.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from urllib.parse import urlsplit

import duckdb

from warehouse.errors import WarehouseError, first_line
from warehouse.tables import sql_literal

# The extensions the warehouse uses; each has its package `duckdb-extension-<name with - for _>` on PyPI.
WAREHOUSE_EXTENSIONS = ("fts", "ducklake", "sqlite_scanner", "postgres_scanner", "httpfs")

ENV_SECRET_NAME = "akhbar_env_s3"
# Parameters bind like any other query (DuckDB takes prepared parameters in CREATE SECRET since 1.3).
CREATE_ENV_SECRET = (
    f"CREATE OR REPLACE TEMPORARY SECRET {ENV_SECRET_NAME} "
    "(TYPE s3, KEY_ID ?, SECRET ?, SESSION_TOKEN ?, REGION ?, ENDPOINT ?, URL_STYLE ?, USE_SSL ?)"
)
DEFAULT_REGION = "us-east-1"  # what the AWS SDKs assume when no region is set


def extension_package(name: str) -> str:
    """The PyPI package that bundles extension `name` (`sqlite_scanner` -> `duckdb-extension-sqlite-scanner`)."""
    return "duckdb-extension-" + name.replace("_", "-")


def extension_file(name: str) -> Path | None:
    """The extension file bundled by `duckdb-extension-<name>` for exactly this DuckDB version, if installed."""
    if not name.isidentifier():
        return None
    try:
        module = importlib.import_module("duckdb_extension_" + name)
    except ImportError:
        return None
    if module.__file__ is None:
        return None
    path = Path(module.__file__).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    return path if path.is_file() else None


def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Load extension `name` into `con` offline: the PyPI package's file, else one installed earlier; else raise
    WarehouseError saying what to install. Loading an already loaded extension is cheap and harmless."""
    problems = []
    path = extension_file(name)
    if path is not None:
        try:
            con.execute(f"LOAD {sql_literal(str(path))}")
            return
        except duckdb.Error as exc:
            problems.append(f"{path}: {first_line(exc)}")
    else:
        problems.append(f"no {extension_package(name)} for DuckDB {duckdb.__version__} installed")
    if name.isidentifier():  # LOAD takes a bare name; anything else is not an extension name
        try:
            con.execute(f"LOAD {name}")
            return
        except duckdb.Error as exc:
            problems.append(f"LOAD {name}: {first_line(exc)}")
    raise _unavailable(name, problems)


def _unavailable(name: str, problems: list[str]) -> WarehouseError:
    if not name.isidentifier():
        return WarehouseError(f"{name!r} is not a DuckDB extension name (the warehouse uses "
                              f"{', '.join(WAREHOUSE_EXTENSIONS)})")
    detail = "; ".join(problems)
    return WarehouseError(
        f"DuckDB's {name} extension could not be loaded ({detail}): run "
        f"`pip install {extension_package(name)}=={duckdb.__version__}` (or `make install`)"
    )


def s3_secret_from_environment(con: duckdb.DuckDBPyConnection) -> bool:
    """When AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set, give `con` a temporary S3 secret made from them
    and AWS_SESSION_TOKEN, AWS_REGION (or AWS_DEFAULT_REGION) and AWS_ENDPOINT_URL; return whether it did.
    An http:// endpoint (MinIO, a local test server) means no TLS and path-style URLs."""
    key_id = os.environ.get("AWS_ACCESS_KEY_ID", "")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    if not key_id or not secret:
        return False
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    endpoint, url_style, use_ssl = _endpoint_settings(os.environ.get("AWS_ENDPOINT_URL", ""))
    load_extension(con, "httpfs")  # registers the s3 secret type
    con.execute(
        CREATE_ENV_SECRET,
        [key_id, secret, os.environ.get("AWS_SESSION_TOKEN", ""), region, endpoint, url_style, use_ssl],
    )
    return True


def _endpoint_settings(endpoint_url: str) -> tuple[str, str, bool]:
    """(ENDPOINT, URL_STYLE, USE_SSL) for an AWS_ENDPOINT_URL; DuckDB wants the endpoint without its scheme."""
    if not endpoint_url:
        return "s3.amazonaws.com", "vhost", True
    parts = urlsplit(endpoint_url if "://" in endpoint_url else f"https://{endpoint_url}")
    host = parts.netloc + parts.path.rstrip("/")
    if parts.scheme == "http":
        return host, "path", False
    return host, "vhost", True
