"""Which Prefect task runner runs the CPU stages (extract + entities), chosen by configuration.

`AKHBAR_TASK_RUNNER` (read when the flows module is imported):
- `thread` (default): Prefect's ThreadPoolTaskRunner; no start-up cost, good for small runs.
- `process[:N]`: Prefect's ProcessPoolTaskRunner with N workers (default: the number of CPUs), so both cores
  of a laptop extract and tag in parallel.
- `dask:ADDRESS` (e.g. `dask:tcp://scheduler:8786`): prefect-dask's DaskTaskRunner on an existing Dask
  cluster (install `prefect-dask`).

Fetching stays in the flow's process (one shared HTTP client, one politeness state) and loading stays a single
writer, whatever the runner.
"""

from __future__ import annotations

import os

from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner

ENV_VAR = "AKHBAR_TASK_RUNNER"


class RunnerConfigError(ValueError):
    pass


def task_runner_from_spec(spec: str | None) -> TaskRunner:
    spec = (spec or "thread").strip()
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
