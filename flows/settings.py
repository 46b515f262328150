"""The flows' settings from the environment (`AKHBAR_*`), typed and validated in one place.

- `AKHBAR_TASK_RUNNER`: which Prefect task runner runs the CPU stages (flows/runners.py): `thread[:N]`,
  `process[:N]` or `dask:ADDRESS`; default `process` on machines with 2 or more CPUs, else `thread`.
- `AKHBAR_SHARED_POLITENESS`: keep each host's limits across workers through the Prefect server
  (flows/politeness.py) when a run does not say; a boolean (1/0, true/false, yes/no, on/off), default off.
- `AKHBAR_HOST_LOCKS_DIR`: where runs on this machine share each host's limits through lock files when there is
  no shared politeness (flows/politeness.py); default `<temp dir>/akhbar-<user id>/hosts`.
- `AKHBAR_SERVE_PROJECT_DIR`, `AKHBAR_SERVE_ALLOW_ANY_PATH`, `AKHBAR_SERVE_ALLOW_PRIVATE_ADDRESSES`: set by
  `akhbar serve` for the flow runs it serves (flows/serve.py: what a served run's parameters may ask for).
- `AKHBAR_CAMEL_INT8`: the camel NER backend runs int8 Linear layers on CPU (a boolean; default in
  extractors/entities/camel_fast.py, INT8_DEFAULT). `AKHBAR_NER_THREADS`: torch threads per process for that
  backend (default: the usable cores divided among the process runner's workers). The backend reads both
  itself (extractors do not import flows); they are declared here so a bad value stops the CLI at start.
- `AKHBAR_DATA_DIR`: the user's data directory; `akhbar ner adapt` installs the adapted entity model in
  `<dir>/ner/crf/`. Default: the platform's per-user data directory (`$XDG_DATA_HOME/akhbar`, i.e.
  `~/.local/share/akhbar`). The crf backend reads it itself (extractors/entities/crf/tagger.py, user_data_dir).

An empty variable counts as unset. The command line reads the settings once before any command runs, so a bad
value stops it with one line naming the variable (`SettingsError`); a flow run started some other way (a
deployment, a script) reads them when it needs them and fails with the same message. This module imports
nothing heavy: every `akhbar` command pays for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "AKHBAR_"
TASK_RUNNER_VAR = f"{ENV_PREFIX}TASK_RUNNER"

RunnerKind = Literal["thread", "process", "dask"]


class SettingsError(ValueError):
    """An `AKHBAR_*` variable with a value the flows cannot use; the message names it, on one line."""


class RunnerConfigError(SettingsError):
    """A task runner spec that names no runner this project can build."""


@dataclass(frozen=True, slots=True)
class RunnerSpec:
    """A parsed `AKHBAR_TASK_RUNNER` value: the kind of runner and its worker count or scheduler address."""

    kind: RunnerKind
    workers: int | None = None  # thread/process: None means the runner's default
    address: str = ""  # dask: the scheduler


def default_runner_spec() -> str:
    """`process` where there are two CPUs to use (see flows/runners.py for the measurements), else `thread`."""
    return "process" if (os.cpu_count() or 1) >= 2 else "thread"


def _worker_count(arg: str, spec: str) -> int | None:
    if not arg:
        return None
    if not arg.isdigit() or int(arg) < 1:
        raise RunnerConfigError(f"{TASK_RUNNER_VAR}={spec}: the number of workers must be a whole number >= 1")
    return int(arg)


def parse_runner_spec(spec: str | None) -> RunnerSpec:
    """`thread[:N]`, `process[:N]` or `dask:ADDRESS` (None or blank: the default) as a RunnerSpec."""
    text = (spec or "").strip() or default_runner_spec()
    kind, _, arg = text.partition(":")
    kind = kind.lower()
    if kind == "thread":
        return RunnerSpec("thread", workers=_worker_count(arg, text))
    if kind == "process":
        return RunnerSpec("process", workers=_worker_count(arg, text))
    if kind == "dask":
        if not arg:
            raise RunnerConfigError(f"{TASK_RUNNER_VAR}=dask needs a scheduler address, e.g. dask:tcp://127.0.0.1:8786")
        return RunnerSpec("dask", address=arg)
    raise RunnerConfigError(f"{TASK_RUNNER_VAR} must be thread, process[:N] or dask:ADDRESS, got {spec!r}")


class FlowSettings(BaseSettings):
    """The `AKHBAR_*` environment variables the flows read (see the module docstring)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True)

    task_runner: str | None = None  # None: default_runner_spec()
    shared_politeness: bool = False
    host_locks_dir: str | None = None  # None: flows/politeness.py's default, one directory per user and machine
    serve_project_dir: str | None = None  # set by `akhbar serve` for the flows it serves (flows/serve.py)
    serve_allow_any_path: bool = False
    serve_allow_private_addresses: bool = False
    camel_int8: bool | None = None  # None: the camel backend's default (extractors/entities/camel_fast.py)
    ner_threads: int | None = Field(default=None, ge=1)  # None: usable cores // process-runner workers
    data_dir: str | None = None  # None: the per-user data directory (extractors/entities/crf/tagger.py)

    @field_validator("task_runner")
    @classmethod
    def _runner_spec_parses(cls, value: str | None) -> str | None:
        parse_runner_spec(value)
        return value

    @property
    def runner_spec(self) -> RunnerSpec:
        return parse_runner_spec(self.task_runner)


def _one_line(exc: ValidationError) -> str:
    """The first problem of a ValidationError, naming the environment variable."""
    first = exc.errors()[0]
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, SettingsError):  # already names the variable
        return str(cause)
    var = ENV_PREFIX + str(first["loc"][0]).upper() if first.get("loc") else ENV_PREFIX + "*"
    return f"{var}: {first['msg']}, got {first.get('input')!r}"


def load_settings() -> FlowSettings:
    """The settings as the environment has them now; SettingsError (one line) when a value is bad."""
    try:
        return FlowSettings()
    except ValidationError as exc:
        raise SettingsError(_one_line(exc)) from None
