"""Venue budgets in the database: `adapters.exchanges.budget.BudgetStore` for every worker
process of a deployment, one atomic UPSERT ... RETURNING per reserved slice.

A reservation adds its amount to the window's row and reads the total back in the same
statement, so two processes can never both be granted the last of a window (PostgreSQL locks
the row; SQLite the database). Works on PostgreSQL and SQLite (3.35+) alike, like
`adapters.db.throttles`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, delete, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.db.engine import dialect_insert
from adapters.db.models import UtcDateTime, VenueBudget
from adapters.exchanges.budget import WindowKey, granted

BLOCKED = "BLOCKED"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Expired rows go at most this often, by whichever process reserves first.
_PURGE_EVERY = 3600.0


def _at(value: datetime) -> ColumnElement[datetime]:
    return literal(value, UtcDateTime())


class DbBudgetStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._monotonic = monotonic
        self._purged = float("-inf")

    def _upsert(self, session: AsyncSession, values: dict[str, Any]) -> Any:
        return dialect_insert(session, VenueBudget).values(**values)

    @staticmethod
    def _greatest(session: AsyncSession, column: Any, floor: int) -> Any:
        postgres = session.get_bind().dialect.name == "postgresql"
        # SQLite's two-argument max() is a scalar, PostgreSQL spells it greatest().
        return func.greatest(column, floor) if postgres else func.max(column, floor)

    async def reserve(self, key: WindowKey, amount: int, cap: int, floor: int) -> int:
        async with self._sessions() as session, session.begin():
            statement = self._upsert(
                session,
                {
                    "venue": key.venue,
                    "scope": key.scope,
                    "name": key.name,
                    "window_start": key.start,
                    "used": max(floor, 0) + amount,
                    "expires_at": key.start + timedelta(seconds=key.seconds),
                },
            ).on_conflict_do_update(
                index_elements=[
                    VenueBudget.venue,
                    VenueBudget.scope,
                    VenueBudget.name,
                    VenueBudget.window_start,
                ],
                set_={"used": self._greatest(session, VenueBudget.used, floor) + amount},
            )
            used = (await session.execute(statement.returning(VenueBudget.used))).scalar_one()
            if self._monotonic() - self._purged >= _PURGE_EVERY:
                self._purged = self._monotonic()
                await session.execute(
                    delete(VenueBudget).where(VenueBudget.expires_at < datetime.now(UTC))
                )
        return granted(int(used), amount, cap)

    async def block(self, venue: str, scope: str, until: datetime) -> None:
        async with self._sessions() as session, session.begin():
            statement = self._upsert(
                session,
                {
                    "venue": venue,
                    "scope": scope,
                    "name": BLOCKED,
                    "window_start": _EPOCH,
                    "used": 0,
                    "expires_at": until,
                },
            ).on_conflict_do_update(
                index_elements=[
                    VenueBudget.venue,
                    VenueBudget.scope,
                    VenueBudget.name,
                    VenueBudget.window_start,
                ],
                set_={
                    "expires_at": case(
                        (VenueBudget.expires_at < _at(until), _at(until)),
                        else_=VenueBudget.expires_at,
                    )
                },
            )
            await session.execute(statement)

    async def blocked_until(self, venue: str, scope: str) -> datetime | None:
        async with self._sessions() as session:
            return await session.scalar(
                select(VenueBudget.expires_at).where(
                    VenueBudget.venue == venue,
                    VenueBudget.scope == scope,
                    VenueBudget.name == BLOCKED,
                    VenueBudget.window_start == _EPOCH,
                )
            )
