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
writer, whatever the runner. Process workers run at a lower CPU priority (`WORKER_NICENESS`) than the flow's
process: the flow thread fetches and loads between the workers' batches, and when it shared the 2 cores with
two equally ranked workers its loads took up to 1.5x their time alone. The workers lose nothing (the flow's
thread mostly waits), and a laptop stays responsive during a big run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner

ENV_VAR = "AKHBAR_TASK_RUNNER"
WORKER_NICENESS = 5


def lower_priority(increment: int = WORKER_NICENESS) -> None:
    """ProcessPoolExecutor initializer: lower this worker's CPU priority (where the OS supports `nice`)."""
    try:
        os.nice(increment)
    except (AttributeError, OSError):  # Windows has no os.nice; a refused change only costs the tuning
        pass


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
        try:
            return ProcessPoolTaskRunner(max_workers=workers, initializer=lower_priority, initargs=(WORKER_NICENESS,))
        except TypeError:  # Prefect before 3.8 has no initializer option: same runner, workers at normal priority
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
