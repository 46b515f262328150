"""Real servers for the lake tests, started by the tests on 127.0.0.1 and stopped at the end of the session.

- `postgres_dsn`: Debian's PostgreSQL (`initdb` + `pg_ctl` from /usr/lib/postgresql/*/bin) in a temporary
  directory on a free port, trust authentication, one database `akhbar`; yields a libpq DSN for
  `ATTACH 'ducklake:postgres:<dsn>'`. PostgreSQL refuses to run as root, so as root it runs as the `postgres`
  system user the Debian package creates (`runuser`), owning the data directory. `.ci/run` installs the package.
  `fresh_postgres_dsn` gives each test a new database on the same server (one DuckLake catalog per test:
  lakes in one database would share their metadata tables).
- `s3_endpoint`: moto's S3 server (a thread of the test process) with one bucket; `S3Endpoint.environment()`
  is what a user would export for a subprocess (AWS_ACCESS_KEY_ID ... AWS_ENDPOINT_URL).

Both skip the requesting test with the reason when the server cannot start here. Registered for every test
module by `pytest_plugins` in conftest.py.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PG_DATABASE = "akhbar"
PG_USER = "akhbar"
PG_SYSTEM_USER = "postgres"  # created by Debian's postgresql-common; PostgreSQL will not run as root
PG_START_SECONDS = 60

S3_BUCKET = "akhbar-lake"
S3_KEY_ID = "akhbar-test-key"
S3_SECRET = "akhbar-test-secret"
S3_REGION = "us-east-1"


def free_port() -> int:
    """A TCP port nobody listens on right now (the server binds it a moment later; a clash fails loudly)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------------------------- PostgreSQL


def postgres_bin_dir() -> Path | None:
    """The newest Debian PostgreSQL server's bin directory, or None when the server package is not installed."""
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    if not found:
        return None
    return max(found, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0)


@dataclass
class PostgresServer:
    bin_dir: Path
    base: Path  # holds the data directory, the socket and the log; removed at the end
    port: int
    as_user: str | None  # system user to run the server as (when the tests run as root)

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    @property
    def log_file(self) -> Path:
        return self.base / "server.log"

    @property
    def dsn(self) -> str:
        return self.dsn_of(PG_DATABASE)

    def dsn_of(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} dbname={database} user={PG_USER}"

    def create_database(self, database: str) -> str:
        """Create `database` (a plain identifier) and return its DSN."""
        done = self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, database)
        if done.returncode != 0:
            raise RuntimeError(f"createdb {database} failed: {done.stderr.strip()}")
        return self.dsn_of(database)

    def run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / program), *args]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        # cwd: the server user may not be allowed into the test's working directory
        return subprocess.run(command, cwd=self.base, capture_output=True, text=True, timeout=PG_START_SECONDS)

    def start(self) -> str | None:
        """Initialise, start and create the database; None when it runs, else why not (one line)."""
        steps = [
            ("initdb", "-D", str(self.data_dir), "-U", PG_USER, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"),
            ("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", str(PG_START_SECONDS),
             "-o", f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off", "start"),
            ("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, PG_DATABASE),
        ]
        for program, *args in steps:
            try:
                done = self.run(program, *args)
            except (OSError, subprocess.TimeoutExpired) as exc:
                return f"{program}: {exc}"
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
                return f"{program} exited {done.returncode}: {tail[0]}"
        return None

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self.run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)


def _postgres_user() -> tuple[str | None, str | None]:
    """(user to run the server as, or None for ourselves; why PostgreSQL cannot run here, or None)."""
    if os.geteuid() != 0:
        return None, None
    if shutil.which("runuser") is None:
        return None, "running as root and `runuser` is missing, so PostgreSQL cannot be started as another user"
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        return None, f"running as root and there is no `{PG_SYSTEM_USER}` user to run PostgreSQL as"
    return PG_SYSTEM_USER, None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server on 127.0.0.1 for the whole session, with the database `akhbar` created."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server not installed (apt-get install postgresql; .ci/run does it in CI)")
    as_user, problem = _postgres_user()
    if problem:
        pytest.skip(problem)
    base = Path(tempfile.mkdtemp(prefix="akhbar-pg-"))
    if as_user:
        shutil.chown(base, user=as_user, group=as_user)
    server = PostgresServer(bin_dir=bin_dir, base=base, port=free_port(), as_user=as_user)
    problem = server.start()
    if problem:
        server.stop()
        pytest.skip(f"PostgreSQL could not start here: {problem}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_dsn(postgres_server: PostgresServer) -> str:
    """The libpq DSN of the session's database: `host=127.0.0.1 port=N dbname=akhbar user=akhbar`."""
    return postgres_server.dsn


@pytest.fixture
def fresh_postgres_dsn(postgres_server: PostgresServer) -> str:
    """The DSN of a new, empty database on the session's server: one DuckLake catalog per test, no clashes."""
    return postgres_server.create_database(f"akhbar_{uuid.uuid4().hex[:12]}")


# ---------------------------------------------------------------------------------------------- S3 (moto)


@dataclass(frozen=True)
class S3Endpoint:
    endpoint: str  # host:port, as DuckDB's ENDPOINT takes it
    bucket: str
    key_id: str
    secret: str
    region: str

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def environment(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """`base` (default: this process's environment) plus what a user sets to reach this server."""
        env = dict(os.environ if base is None else base)
        env.update(
            AWS_ACCESS_KEY_ID=self.key_id,
            AWS_SECRET_ACCESS_KEY=self.secret,
            AWS_REGION=self.region,
            AWS_ENDPOINT_URL=self.url,
        )
        env.pop("AWS_SESSION_TOKEN", None)
        return env

    def client(self) -> Any:  # a boto3 S3 client (boto3 ships no type stubs)
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.url, aws_access_key_id=self.key_id, aws_secret_access_key=self.secret,
            region_name=self.region,
        )

    def keys(self, prefix: str = "") -> list[str]:
        """Every object key in the bucket under `prefix`."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[S3Endpoint]:
    """moto's S3 server on 127.0.0.1 with the bucket `akhbar-lake` created."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        pytest.skip(f"moto[server] is not installed ({exc}); `make install` installs the test extra")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    s3 = S3Endpoint(endpoint=f"{host}:{port}", bucket=S3_BUCKET, key_id=S3_KEY_ID, secret=S3_SECRET,
                    region=S3_REGION)
    try:
        s3.client().create_bucket(Bucket=s3.bucket)
        yield s3
    finally:
        server.stop()
