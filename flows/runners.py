"""Which Prefect task runner runs the CPU stages (extract + entities), chosen by configuration.

`AKHBAR_TASK_RUNNER` (flows/settings.py), read when a flow run starts, not when the flows are imported:
- `process[:N]` (the default on machines with 2 or more CPUs): Prefect's ProcessPoolTaskRunner with N workers
  (default: the number of CPUs), so both cores of a laptop extract and tag in parallel (the pipeline benchmark
  measured 67-76 pages/s against 51 with threads on 2 cores).
- `thread[:N]`: Prefect's ThreadPoolTaskRunner (4 threads by default); no start-up cost (about 2-3 s per process
  worker), good for small runs and tests; the default on a single CPU.
- `dask:ADDRESS` (e.g. `dask:tcp://scheduler:8786`): prefect-dask's DaskTaskRunner on an existing Dask
  cluster (install `prefect-dask`).

The command line applies the runner to the flow it calls (`flow.with_options(task_runner=...)`); flows started
any other way (deployments from prefect.yaml or `akhbar serve`, scripts) carry a `ConfiguredTaskRunner`, which
reads the setting when Prefect starts the run.

Fetching stays in the flow's process (one shared HTTP client, one politeness state) and loading stays a single
writer, whatever the runner. Process workers run at a lower CPU priority (`WORKER_NICENESS`) than the flow's
process: the flow thread fetches and loads between the workers' batches, and when it shared the 2 cores with
two equally ranked workers its loads took up to 1.5x their time alone. The workers lose nothing (the flow's
thread mostly waits), and a laptop stays responsive during a big run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, Self

from prefect.futures import PrefectFuture, PrefectFutureList
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner
from prefect.tasks import Task

from extractors.entities.camel_fast import ENV_WORKERS as NER_WORKERS_VAR
from flows.settings import TASK_RUNNER_VAR, RunnerConfigError, load_settings, parse_runner_spec

__all__ = ["RunnerConfigError", "ConfiguredTaskRunner", "configured_task_runner", "task_runner_from_spec",
           "workers_share_this_api", "WORKER_NICENESS"]

WORKER_NICENESS = 5
DEFAULT_THREADS = 4


def lower_priority(increment: int = WORKER_NICENESS) -> None:
    """ProcessPoolExecutor initializer: lower this worker's CPU priority (where the OS supports `nice`)."""
    with suppress(AttributeError, OSError):  # Windows has no os.nice; a refused change only costs the tuning
        os.nice(increment)


def prepare_worker(increment: int, workers: int) -> None:
    """ProcessPoolExecutor initializer: lower the priority, and tell the camel NER backend how many processes
    share the cores (it gives torch `usable cores // workers` threads instead of oversubscribing them)."""
    lower_priority(increment)
    os.environ[NER_WORKERS_VAR] = str(workers)


def _process_pool(workers: int) -> TaskRunner[Any]:
    try:
        return ProcessPoolTaskRunner(max_workers=workers, initializer=prepare_worker,
                                     initargs=(WORKER_NICENESS, workers))
    except TypeError:  # Prefect before 3.8 has no initializer option: same runner, workers at normal priority
        return ProcessPoolTaskRunner(max_workers=workers)


def task_runner_from_spec(spec: str | None) -> TaskRunner[Any]:
    """The runner a spec names (`thread[:N]`, `process[:N]`, `dask:ADDRESS`; None: the default)."""
    parsed = parse_runner_spec(spec)
    if parsed.kind == "thread":
        return ThreadPoolTaskRunner(max_workers=parsed.workers or DEFAULT_THREADS)
    if parsed.kind == "process":
        return _process_pool(parsed.workers or os.cpu_count() or 2)
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise RunnerConfigError(f"{TASK_RUNNER_VAR}={spec} needs the prefect-dask package: pip install prefect-dask"
                                ) from None
    return DaskTaskRunner(address=parsed.address)


def configured_task_runner() -> TaskRunner[Any]:
    """The runner the environment's settings name, built now."""
    return task_runner_from_spec(load_settings().task_runner)


class ConfiguredTaskRunner(TaskRunner[PrefectFuture[Any]]):
    """Stands for the configured task runner until a flow run starts, then runs the tasks on it.

    Prefect starts every flow run with `flow.task_runner.duplicate()`: the settings are read there, so a
    deployment's runs follow the environment of the process that runs them. The duplicate hands every call to
    the runner built from the settings.
    """

    def __init__(self, runner: TaskRunner[Any] | None = None) -> None:
        super().__init__()
        self._runner = runner

    @property
    def runner(self) -> TaskRunner[Any]:
        if self._runner is None:
            raise RuntimeError("ConfiguredTaskRunner runs tasks only once a flow run has started it")
        return self._runner

    def duplicate(self) -> Self:
        return type(self)(configured_task_runner())

    def submit(self, task: Task[Any, Any], parameters: dict[str, Any],
               wait_for: Iterable[PrefectFuture[Any]] | None = None,
               dependencies: dict[str, Any] | None = None) -> PrefectFuture[Any]:
        return self.runner.submit(task, parameters, wait_for=wait_for, dependencies=dependencies)

    def map(self, task: Task[Any, Any], parameters: dict[str, Any],
            wait_for: Iterable[PrefectFuture[Any]] | None = None) -> PrefectFutureList[PrefectFuture[Any]]:
        return self.runner.map(task, parameters, wait_for=wait_for)

    def __enter__(self) -> Self:
        super().__enter__()
        self.runner.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        try:
            self.runner.__exit__(exc_type, exc_value, traceback)
        finally:
            super().__exit__(exc_type, exc_value, traceback)


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
