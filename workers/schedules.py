"""Temporal Schedules for platform jobs, created or updated when a worker starts."""

from __future__ import annotations

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from workflows import TaskQueue
from workflows.maintenance import CredentialRevalidationWorkflow, RevalidationProgress

CREDENTIAL_REVALIDATION = "credentials-revalidation-daily"


def credential_revalidation_schedule() -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            CredentialRevalidationWorkflow.run,
            RevalidationProgress(),
            id="credentials-revalidation",
            task_queue=TaskQueue.MAINTENANCE,
        ),
        # 06:00 UTC is 03:00 in São Paulo: the quietest hour for our users.
        spec=ScheduleSpec(cron_expressions=["0 6 * * *"]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_schedules(client: Client) -> None:
    """Idempotent: a second worker (or a restart) updates the schedule instead of failing."""
    schedule = credential_revalidation_schedule()
    try:
        await client.create_schedule(CREDENTIAL_REVALIDATION, schedule)
    except ScheduleAlreadyRunningError:

        async def replace(_input: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(CREDENTIAL_REVALIDATION).update(replace)
