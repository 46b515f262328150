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
