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
from workflows.purge import LoginRecordsPurgeWorkflow

CREDENTIAL_REVALIDATION = "credentials-revalidation-daily"
LOGIN_RECORDS_PURGE = "login-records-purge-daily"


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


def login_records_purge_schedule() -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            LoginRecordsPurgeWorkflow.run,
            id="login-records-purge",
            task_queue=TaskQueue.MAINTENANCE,
        ),
        spec=ScheduleSpec(cron_expressions=["30 6 * * *"]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_schedules(client: Client) -> None:
    """Idempotent: a second worker (or a restart) updates the schedules instead of failing."""
    for schedule_id, schedule in (
        (CREDENTIAL_REVALIDATION, credential_revalidation_schedule()),
        (LOGIN_RECORDS_PURGE, login_records_purge_schedule()),
    ):
        await _create_or_update(client, schedule_id, schedule)


async def _create_or_update(client: Client, schedule_id: str, schedule: Schedule) -> None:
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:

        async def replace(_input: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(schedule_id).update(replace)
