"""Which Prefect task runner runs the CPU stages (extract + entities), chosen by configuration.

`AKHBAR_TASK_RUNNER` (read when the flows module is imported):
- `process[:N]` (the default on machines with 2 or more CPUs): Prefect's ProcessPoolTaskRunner with N workers
  (default: the number of CPUs), so both cores of a laptop extract and tag in parallel (the pipeline benchmark
  measured 67-76 pages/s against 51 with threads on 2 cores).
- `thread`: Prefect's ThreadPoolTaskRunner; no start-up cost (about 2-3 s per process worker), good for small
  runs and tests; the default on a single CPU.
- `dask:ADDRESS` (e.g. `dask:tcp://scheduler:8786`): prefect-dask's DaskTaskRunner on an existing Dask
  cluster (install `prefect-dask`).

Fetching stays in the flow's process (one shared HTTP client, one politeness state) and loading stays a single
writer, whatever the runner.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner

ENV_VAR = "AKHBAR_TASK_RUNNER"


class RunnerConfigError(ValueError):
    pass


def default_spec() -> str:
    return "process" if (os.cpu_count() or 1) >= 2 else "thread"


def task_runner_from_spec(spec: str | None) -> TaskRunner:
    spec = (spec or default_spec()).strip()
    kind, _, arg = spec.partition(":")
    kind = kind.lower()
    if kind == "thread":
        return ThreadPoolTaskRunner(max_workers=int(arg) if arg else 4)
    if kind == "process":
        workers = int(arg) if arg else (os.cpu_count() or 2)
        return ProcessPoolTaskRunner(max_workers=workers)
    if kind == "dask":
        if not arg:
            raise RunnerConfigError(f"{ENV_VAR}=dask needs a scheduler address, e.g. dask:tcp://127.0.0.1:8786")
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError:
            raise RunnerConfigError(f"{ENV_VAR}={spec} needs the prefect-dask package: pip install prefect-dask") from None
        return DaskTaskRunner(address=arg)
    raise RunnerConfigError(f"{ENV_VAR} must be thread, process[:N] or dask:ADDRESS, got {spec!r}")


def configured_task_runner() -> TaskRunner:
    return task_runner_from_spec(os.environ.get(ENV_VAR))


@contextmanager
def workers_share_this_api() -> Iterator[None]:
    """Let task-runner worker processes report to the API this flow run uses.

    Without PREFECT_API_URL, each process-pool worker would start its own temporary Prefect server (the
    benchmark measured 350-550 MB and ~11 CPU-seconds per run for that); workers are started lazily during
    the run, so exporting the URL for the run's duration is enough.
    """
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    url = getattr(getattr(ctx, "client", None), "api_url", None) if ctx else None
    if os.environ.get("PREFECT_API_URL") or not url:
        yield
        return
    os.environ["PREFECT_API_URL"] = str(url).rstrip("/")
    try:
        yield
    finally:
        os.environ.pop("PREFECT_API_URL", None)
