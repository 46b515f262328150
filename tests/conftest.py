from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

# Prefect: never phone home, and keep its state out of the user's ~/.prefect.
os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="akhbar-prefect-home-"))
# a developer's own adapted entity model must not change what the crf tests see
os.environ.setdefault("AKHBAR_DATA_DIR", tempfile.mkdtemp(prefix="akhbar-data-"))
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.pop("PREFECT_API_URL", None)
# Small test runs: threads (process workers cost seconds to start); the process runner has its own test.
os.environ.setdefault("AKHBAR_TASK_RUNNER", "thread")

sys.path.insert(0, str(REPO / "tests"))
# postgres_dsn and s3_endpoint: real PostgreSQL and S3 (moto) servers for the lake tests (tests/engines.py)
pytest_plugins = ["engines"]


def pytest_collection_modifyitems(session, config, items):
    import recipe_training

    if any(item.name == recipe_training.TEST_NAME for item in items) and not recipe_training.missing_corpora():
        recipe_training.start()


def pytest_sessionfinish(session, exitstatus):
    import recipe_training

    recipe_training.stop()


def shared_path(*parts: str) -> Path:
    """A file under ../shared, or skip the test when this machine has no ../shared (a newcomer's clone)."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"needs ../shared/{'/'.join(parts)} (the project's shared data beside the repo); not on this machine")
    return p


@pytest.fixture
def site():
    from localsite import LocalSite

    s = LocalSite()
    yield s
    s.close()


@pytest.fixture(scope="session")
def prefect_harness():
    """A real temporary Prefect API (SQLite) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@dataclass(frozen=True)
class SampleIngest:
    """The bundled sample site, ingested once through the real flow; the site keeps serving for the session."""

    db: Path  # read it, never write it: tests that write take a copy (copy_database)
    base_url: str
    sources: Path  # a sources.toml pointing at the running site
    summary: Any  # the flow's RunSummary
    requests: list[str]  # paths the site served during the ingest
    site: Any  # the running flows.sample_site.StaticSite


def copy_database(src: Path, dst: Path) -> Path:
    """A private copy of a DuckDB file (with its WAL, if any) for a test that writes."""
    shutil.copy(src, dst)
    wal = Path(f"{src}.wal")
    if wal.exists():
        shutil.copy(wal, f"{dst}.wal")
    return dst


@pytest.fixture(scope="session")
def sample_ingest(tmp_path_factory, prefect_harness):
    """Every test that only reads an ingested sample site shares this one ingest."""
    from flows.ingest import ingest
    from flows.sample_site import StaticSite

    tmp = tmp_path_factory.mktemp("sample-ingest")
    db = tmp / "sample.duckdb"
    with StaticSite() as site:
        sources = tmp / "sources.toml"
        sources.write_text(site.sources_toml(), encoding="utf-8")
        summary = ingest(sources_file=str(sources), db_path=str(db), allow_private_addresses=True)
        yield SampleIngest(db=db, base_url=site.base_url, sources=sources, summary=summary,
                           requests=list(site.requests), site=site)
