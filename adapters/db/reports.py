"""Reports a user asked for (issue 13, exports): requested by the API with what the request
already computed (`spec`: the summary, strategies and equity), produced by an activity
(`activities/reports.py`) that adds the orders and renders the file, kept here until
fetched again or replaced. A report's `status` only moves forward: pending → ready or failed."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from adapters.db.models import Base


class ReportFormat(StrEnum):
    PDF = "pdf"  # summary, equity and drawdown charts, strategies, the newest orders
    ORDERS_CSV = "orders_csv"  # every order of the period
    FILLS_CSV = "fills_csv"  # every fill of the period


class ReportStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


class ReportRecord(Base):
    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_user_requested", "user_id", "requested_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    format: Mapped[ReportFormat] = mapped_column(String(20))
    status: Mapped[ReportStatus] = mapped_column(String(10))
    spec: Mapped[dict[str, Any]] = mapped_column(
        JSON
    )  # adapters.reports.document.Report, no orders
    requested_at: Mapped[datetime]
    ready_at: Mapped[datetime | None]
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    error: Mapped[str | None] = mapped_column(String(300))


class ReportStore:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def pending(self, user_id: uuid.UUID) -> int:
        query = select(func.count()).where(
            ReportRecord.user_id == user_id, ReportRecord.status == ReportStatus.PENDING
        )
        return int((await self.session.execute(query)).scalar_one())

    def add(self, report: ReportRecord) -> None:
        self.session.add(report)

    async def get(self, user_id: uuid.UUID, report_id: uuid.UUID) -> ReportRecord | None:
        """The owner's report (another user's is not found)."""
        return await self.session.scalar(
            select(ReportRecord).where(
                ReportRecord.id == report_id, ReportRecord.user_id == user_id
            )
        )

    async def by_id(self, report_id: uuid.UUID) -> ReportRecord | None:
        """For the activity producing it (not owner-scoped: never for the API)."""
        return await self.session.get(ReportRecord, report_id)

    async def finish(
        self,
        report_id: uuid.UUID,
        at: datetime,
        *,
        content: bytes | None = None,
        error: str | None = None,
    ) -> bool:
        """Ready with `content`, or failed with `error`; False when it was no longer pending
        (a repeated attempt changes nothing)."""
        status = ReportStatus.READY if error is None else ReportStatus.FAILED
        result = await self.session.execute(
            update(ReportRecord)
            .where(ReportRecord.id == report_id, ReportRecord.status == ReportStatus.PENDING)
            .values(status=status, ready_at=at, content=content, error=error and error[:300])
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
