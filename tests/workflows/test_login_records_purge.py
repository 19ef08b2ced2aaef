"""The daily purge of login throttles and throttled-login audit rows (issue 8, item 16)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, ScheduleActionStartWorkflow
from temporalio.worker import Worker

from activities.purge import THROTTLED_LOGIN_AUDIT_RETENTION, PurgeResult
from adapters.db.models import AuditEvent, Throttle, ThrottleKind
from domain.accounts import AuditAction
from workers.schedules import LOGIN_RECORDS_PURGE, ensure_schedules
from workflows import TaskQueue
from workflows.purge import LoginRecordsPurgeWorkflow


def throttle(key: str, expires_at: datetime) -> Throttle:
    return Throttle(
        kind=ThrottleKind.LOGIN_ACCOUNT,
        key=key,
        count=3,
        started_at=expires_at - timedelta(minutes=15),
        next_at=expires_at - timedelta(minutes=15),
        expires_at=expires_at,
    )


def event(action: AuditAction, age: timedelta) -> AuditEvent:
    return AuditEvent(
        action=action, ip="192.0.2.1", details={}, at=datetime.now(UTC) - age, user_id=None
    )


async def test_purge_deletes_expired_throttles_and_old_throttled_logins(
    db: AsyncSession, temporal: Client, workers: list[Worker]
) -> None:
    now = datetime.now(UTC)
    old = THROTTLED_LOGIN_AUDIT_RETENTION + timedelta(days=1)
    db.add_all(
        [
            throttle("expired@example.com", now - timedelta(seconds=1)),
            throttle("running@example.com", now + timedelta(minutes=5)),
            event(AuditAction.LOGIN_THROTTLED, old),
            event(AuditAction.LOGIN_THROTTLED, timedelta(days=1)),
            event(AuditAction.LOGIN_FAILED, old),  # other security events are kept
        ]
    )
    await db.commit()

    result = await temporal.execute_workflow(
        LoginRecordsPurgeWorkflow.run,
        id=f"purge-test-{uuid.uuid4()}",
        task_queue=TaskQueue.MAINTENANCE,
        result_type=PurgeResult,
    )

    assert result == PurgeResult(throttles=1, throttled_login_events=1)
    assert (await db.scalars(select(Throttle.key))).all() == ["running@example.com"]
    kept = (await db.execute(select(AuditEvent.action, AuditEvent.at))).all()
    assert sorted(action for action, _ in kept) == ["login_failed", "login_throttled"]
    again = await temporal.execute_workflow(
        LoginRecordsPurgeWorkflow.run,
        id=f"purge-test-{uuid.uuid4()}",
        task_queue=TaskQueue.MAINTENANCE,
        result_type=PurgeResult,
    )
    assert again == PurgeResult(throttles=0, throttled_login_events=0)


async def test_schedule_purges_daily_next_to_the_revalidation(temporal: Client) -> None:
    await ensure_schedules(temporal)
    await ensure_schedules(temporal)  # a restarted worker updates, never fails
    description = await temporal.get_schedule_handle(LOGIN_RECORDS_PURGE).describe()
    upcoming = description.info.next_action_times[:2]
    assert [(t.hour, t.minute, t.tzinfo is not None) for t in upcoming] == [(6, 30, True)] * 2
    assert (upcoming[1] - upcoming[0]).days == 1
    action = description.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.workflow == "LoginRecordsPurgeWorkflow"
    assert action.task_queue == TaskQueue.MAINTENANCE
