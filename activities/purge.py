"""Daily clean-up of what throttled logins leave behind (run by LoginRecordsPurgeWorkflow)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from adapters.db.models import AuditEvent
from adapters.db.throttles import Throttles
from domain.accounts import AuditAction

# A refused login is only worth keeping while someone may investigate the attack; failed and
# successful logins stay in the audit log like every other security event.
THROTTLED_LOGIN_AUDIT_RETENTION = timedelta(days=30)


class PurgeResult(BaseModel):
    throttles: int  # expired rate-limit counters deleted
    throttled_login_events: int  # audit rows of refused logins past the retention


class PurgeActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn
    async def purge_login_records(self) -> PurgeResult:
        """Idempotent: deletes only what has expired, so a retry deletes nothing twice."""
        now = datetime.now(UTC)
        async with self.sessions() as session:
            throttles = await Throttles(session).purge(now)
            events = await session.execute(
                delete(AuditEvent).where(
                    AuditEvent.action == AuditAction.LOGIN_THROTTLED,
                    AuditEvent.at < now - THROTTLED_LOGIN_AUDIT_RETENTION,
                )
            )
            await session.commit()
        result = PurgeResult(
            throttles=throttles,
            throttled_login_events=int(events.rowcount),  # type: ignore[attr-defined]
        )
        activity.logger.info("login records purged: %s", result)
        return result
