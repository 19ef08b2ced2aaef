"""A one-off job a user asked for (a report, a backtest), done once: its activity runs it
(retried while the database, a venue or a worker is away); a job it cannot do is marked failed,
with the reason, instead of staying pending forever."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError
from temporalio.types import MethodAsyncSingleParam

Failed = TypeVar("Failed")


async def do_once(
    job: MethodAsyncSingleParam[Any, uuid.UUID, None],
    job_id: uuid.UUID,
    fail: MethodAsyncSingleParam[Any, Failed, None],
    failed: Callable[[str], Failed],
    *,
    attempt: timedelta,
    give_up: timedelta,
) -> None:
    """Run `job` on `job_id`; once it gives up, `fail` with `failed(reason)`."""
    try:
        await workflow.execute_activity_method(
            job,
            job_id,
            start_to_close_timeout=attempt,
            schedule_to_close_timeout=give_up,
            retry_policy=RetryPolicy(maximum_attempts=5),
        )
    except ActivityError as error:
        await workflow.execute_activity_method(
            fail,
            failed(str(error.cause or error)),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
        )
