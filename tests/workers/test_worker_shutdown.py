"""A stopping worker drains: an activity running when SIGTERM arrives still finishes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.worker import Worker

from workers.supervisor import STOP_TIMEOUT_SECONDS
from workers.worker import SHUTDOWN_GRACE, serve

STILL_WORKING = timedelta(seconds=2)  # the work left when the stop comes, well inside the grace
RUNNING = asyncio.Event()  # the activity runs in this process, on this event loop


@activity.defn
async def finish_after_the_stop() -> str:
    RUNNING.set()
    await activity.wait_for_worker_shutdown()
    await asyncio.sleep(STILL_WORKING.total_seconds())  # the rest of its work, after the stop
    return "finished"


@workflow.defn(sandboxed=False)
class OneActivity:
    @workflow.run
    async def run(self) -> str:
        return str(
            await workflow.execute_activity(
                finish_after_the_stop,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
        )


def test_the_production_workers_have_a_shutdown_window(workers: list[Worker]) -> None:
    assert SHUTDOWN_GRACE > STILL_WORKING
    assert SHUTDOWN_GRACE.total_seconds() < STOP_TIMEOUT_SECONDS  # `up` never cuts a drain
    for worker in workers:  # the session's workers, built by workers.worker.build_workers
        assert worker.config()["graceful_shutdown_timeout"] == SHUTDOWN_GRACE


async def test_a_stop_lets_the_running_activity_finish(temporal: Client) -> None:
    queue = f"drain-{uuid.uuid4()}"
    worker = Worker(
        temporal,
        task_queue=queue,
        workflows=[OneActivity],
        activities=[finish_after_the_stop],
        graceful_shutdown_timeout=SHUTDOWN_GRACE,
    )
    stop = asyncio.Event()
    serving = asyncio.create_task(serve([worker], stop))
    handle = await temporal.start_workflow(OneActivity.run, id=queue, task_queue=queue)
    await asyncio.wait_for(RUNNING.wait(), 30)
    stop.set()  # what SIGTERM does in `crypteras worker`
    await asyncio.wait_for(serving, SHUTDOWN_GRACE.total_seconds() + 10)

    history = await handle.fetch_history()
    completed = [
        e.activity_task_completed_event_attributes
        for e in history.events
        if e.HasField("activity_task_completed_event_attributes")
    ]
    assert len(completed) == 1  # finished, not cancelled nor failed
    assert not any(e.HasField("activity_task_failed_event_attributes") for e in history.events)
    # A new worker finishes the workflow with the drained activity's result.
    async with Worker(
        temporal, task_queue=queue, workflows=[OneActivity], activities=[finish_after_the_stop]
    ):
        assert await handle.result() == "finished"
