from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

# Prefect: never phone home, and keep its state out of the user's ~/.prefect.
os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="akhbar-prefect-home-"))
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.pop("PREFECT_API_URL", None)
# Small test runs: threads (process workers cost seconds to start); the process runner has its own test.
os.environ.setdefault("AKHBAR_TASK_RUNNER", "thread")

sys.path.insert(0, str(REPO / "tests"))


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
