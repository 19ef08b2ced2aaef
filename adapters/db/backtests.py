"""Backtests users asked for through the API (issue 14): the request (a bot kind and config, a
venue's market, a period and timeframe) and, once the activity has run it, its summary and
result (`backtest.report`). A backtest's `status` only moves forward: pending → ready or
failed."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from adapters.db.models import Base


class BacktestStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


class BacktestRecord(Base):
    __tablename__ = "backtests"
    __table_args__ = (Index("ix_backtests_user_requested", "user_id", "requested_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(10))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)  # as the user wrote it
    venue: Mapped[str] = mapped_column(String(20))
    symbol: Mapped[str] = mapped_column(String(41))
    timeframe: Mapped[str] = mapped_column(String(4))
    period_from: Mapped[datetime]
    period_to: Mapped[datetime]
    status: Mapped[BacktestStatus] = mapped_column(String(10))
    requested_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # equity, orders, trades
    error: Mapped[str | None] = mapped_column(String(300))


class BacktestStore:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, backtest: BacktestRecord) -> None:
        self.session.add(backtest)

    async def requested_since(self, user_id: uuid.UUID, since: datetime) -> int:
        query = select(func.count()).where(
            BacktestRecord.user_id == user_id, BacktestRecord.requested_at >= since
        )
        return int((await self.session.execute(query)).scalar_one())

    async def pending(self, user_id: uuid.UUID) -> int:
        query = select(func.count()).where(
            BacktestRecord.user_id == user_id, BacktestRecord.status == BacktestStatus.PENDING
        )
        return int((await self.session.execute(query)).scalar_one())

    async def get(self, user_id: uuid.UUID, backtest_id: uuid.UUID) -> BacktestRecord | None:
        """The owner's backtest (another user's is not found)."""
        return await self.session.scalar(
            select(BacktestRecord).where(
                BacktestRecord.id == backtest_id, BacktestRecord.user_id == user_id
            )
        )

    async def newest(self, user_id: uuid.UUID, limit: int) -> list[BacktestRecord]:
        rows = await self.session.scalars(
            select(BacktestRecord)
            .where(BacktestRecord.user_id == user_id)
            .order_by(BacktestRecord.requested_at.desc(), BacktestRecord.id)
            .limit(limit)
        )
        return list(rows)

    async def by_id(self, backtest_id: uuid.UUID) -> BacktestRecord | None:
        """For the activity running it (not owner-scoped: never for the API)."""
        return await self.session.get(BacktestRecord, backtest_id)

    async def finish(
        self,
        backtest_id: uuid.UUID,
        at: datetime,
        *,
        summary: dict[str, Any] | None = None,
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> bool:
        """Ready with its summary and result, or failed with `error`; False when it was no
        longer pending (a repeated attempt changes nothing)."""
        status = BacktestStatus.READY if error is None else BacktestStatus.FAILED
        outcome = await self.session.execute(
            update(BacktestRecord)
            .where(
                BacktestRecord.id == backtest_id, BacktestRecord.status == BacktestStatus.PENDING
            )
            .values(
                status=status,
                finished_at=at,
                summary=summary,
                result=result,
                error=error and error[:300],
            )
            .execution_options(synchronize_session=False)
        )
        return bool(outcome.rowcount)  # type: ignore[attr-defined]
