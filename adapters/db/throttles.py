"""Rate-limit counters in the database, each changed by one atomic UPSERT ... RETURNING.

Check and count are the same statement, so concurrent requests cannot all read "under the
limit" before any of them writes (PostgreSQL locks the row; SQLite the database). Works on
PostgreSQL and SQLite (3.35+) alike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, delete, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.engine import dialect_insert
from adapters.db.models import Throttle, ThrottleKind, UtcDateTime


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # whole seconds until the next attempt may start (when refused)


def _at(value: datetime) -> ColumnElement[datetime]:
    return literal(value, UtcDateTime())


def _seconds_until(moment: datetime | None, now: datetime) -> int:
    # At least 1: a refusal always asks the client to wait.
    return max(1, math.ceil(((moment or now) - now).total_seconds()))


class Throttles:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _upsert(self, values: dict[str, Any]) -> Any:
        return dialect_insert(self.session, Throttle).values(**values)

    async def hit(
        self, kind: ThrottleKind, key: str, *, limit: int, window: timedelta, now: datetime
    ) -> Verdict:
        """Count one attempt in the current fixed window; refused once past `limit`."""
        expired = Throttle.expires_at <= _at(now)
        statement = self._upsert(
            {
                "kind": kind,
                "key": key,
                "count": 1,
                "started_at": now,
                "next_at": now,
                "expires_at": now + window,
            }
        )
        statement = statement.on_conflict_do_update(
            index_elements=[Throttle.kind, Throttle.key],
            set_={
                "count": case((expired, 1), else_=Throttle.count + 1),
                "started_at": case((expired, _at(now)), else_=Throttle.started_at),
                "expires_at": case((expired, _at(now + window)), else_=Throttle.expires_at),
            },
        ).returning(Throttle.count, Throttle.expires_at)
        count, expires_at = (await self.session.execute(statement)).one()
        if count <= limit:
            return Verdict(True)
        return Verdict(False, _seconds_until(expires_at, now))

    async def backoff(
        self,
        kind: ThrottleKind,
        key: str,
        *,
        delays: Sequence[timedelta],
        forget_after: timedelta,
        now: datetime,
    ) -> Verdict:
        """Claim the next attempt, counted as a failure in advance: the n-th claim in a row
        makes the one after it wait `delays[n-1]` (the last delay repeats). A claim made while
        the previous one's delay runs is refused and changes nothing. Counting starts again
        `forget_after` past the last delay."""
        expired = Throttle.expires_at <= _at(now)
        count = case((expired, 1), else_=Throttle.count + 1)
        last = len(delays)

        def by_count(offset: timedelta) -> ColumnElement[datetime]:
            whens = {n: _at(now + delays[n - 1] + offset) for n in range(1, last)}
            return case(whens, value=count, else_=_at(now + delays[-1] + offset))

        statement = self._upsert(
            {
                "kind": kind,
                "key": key,
                "count": 1,
                "started_at": now,
                "next_at": now + delays[0],
                "expires_at": now + delays[0] + forget_after,
            }
        )
        statement = statement.on_conflict_do_update(
            index_elements=[Throttle.kind, Throttle.key],
            set_={
                "count": count,
                "started_at": case((expired, _at(now)), else_=Throttle.started_at),
                "next_at": by_count(timedelta(0)),
                "expires_at": by_count(forget_after),
            },
            where=Throttle.next_at <= _at(now),
        ).returning(Throttle.count)
        if (await self.session.execute(statement)).first() is not None:
            return Verdict(True)
        next_at = await self.session.scalar(
            select(Throttle.next_at).where(Throttle.kind == kind, Throttle.key == key)
        )
        return Verdict(False, _seconds_until(next_at, now))

    async def refund(self, kind: ThrottleKind, key: str) -> None:
        """Take back one counted attempt (it succeeded, or was never tried)."""
        await self.session.execute(
            update(Throttle)
            .where(Throttle.kind == kind, Throttle.key == key, Throttle.count > 0)
            .values(count=Throttle.count - 1)
        )

    async def clear(self, kind: ThrottleKind, key: str) -> None:
        await self.session.execute(
            delete(Throttle).where(Throttle.kind == kind, Throttle.key == key)
        )

    async def purge(self, now: datetime) -> int:
        """Delete every counter that has expired; an expired counter counts as empty anyway."""
        result = await self.session.execute(delete(Throttle).where(Throttle.expires_at < now))
        return int(result.rowcount)  # type: ignore[attr-defined]
