"""The process-pool runner's workers run below the flow's CPU priority (flows.runners.WORKER_NICENESS)."""

import os

import pytest

from flows.runners import WORKER_NICENESS, task_runner_from_spec


def worker_priority() -> int:
    return os.getpriority(os.PRIO_PROCESS, 0)


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="no process priorities on this platform")
def test_process_workers_run_at_lower_priority_than_the_flow(prefect_harness):
    from prefect import flow, task

    probe = task(worker_priority, name="worker-priority")

    @flow(task_runner=task_runner_from_spec("process:1"))
    def priorities() -> list[int]:
        return [probe.submit().result() for _ in range(2)]

    mine = os.getpriority(os.PRIO_PROCESS, 0)
    expected = min(mine + WORKER_NICENESS, 19)
    assert priorities() == [expected, expected]  # the worker lowered itself once, not per task
    assert os.getpriority(os.PRIO_PROCESS, 0) == mine  # the flow's own process keeps its priority


def test_runner_specs_parse_and_bad_ones_name_the_variable():
    from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner

    from flows.runners import RunnerConfigError

    assert isinstance(task_runner_from_spec("thread"), ThreadPoolTaskRunner)
    assert task_runner_from_spec("thread:2")._max_workers == 2
    assert isinstance(task_runner_from_spec(" Process:3 "), ProcessPoolTaskRunner)
    for bad in ("bogus", "thread:x", "process:0", "dask"):
        with pytest.raises(RunnerConfigError, match="AKHBAR_TASK_RUNNER"):
            task_runner_from_spec(bad)


def test_settings_read_the_environment_when_asked(monkeypatch):
    from flows.settings import SettingsError, load_settings

    monkeypatch.setenv("AKHBAR_SHARED_POLITENESS", "")
    assert load_settings().shared_politeness is False  # empty counts as unset
    monkeypatch.setenv("AKHBAR_SHARED_POLITENESS", "on")
    assert load_settings().shared_politeness is True
    monkeypatch.setenv("AKHBAR_TASK_RUNNER", "thread:bad")
    with pytest.raises(SettingsError, match="AKHBAR_TASK_RUNNER"):
        load_settings()


def test_configured_runner_is_chosen_when_the_flow_runs(prefect_harness, monkeypatch):
    """Flows carry a ConfiguredTaskRunner: the setting is read when a run starts, not when the flow is defined."""
    from prefect import flow, task
    from prefect.context import FlowRunContext
    from prefect.task_runners import ThreadPoolTaskRunner

    from flows.runners import ConfiguredTaskRunner

    monkeypatch.setenv("AKHBAR_TASK_RUNNER", "bogus")  # not read yet

    @flow(task_runner=ConfiguredTaskRunner())
    def which_runner() -> tuple[str, int]:
        ctx = FlowRunContext.get()
        assert ctx is not None and isinstance(ctx.task_runner, ConfiguredTaskRunner)
        inner = ctx.task_runner.runner
        assert isinstance(inner, ThreadPoolTaskRunner)
        return type(inner).__name__, task(lambda: 21 * 2, name="answer").submit().result()

    monkeypatch.setenv("AKHBAR_TASK_RUNNER", "thread:3")
    assert which_runner() == ("ThreadPoolTaskRunner", 42)
