"""The user's alerts: what the workflows tell a user as it happens (a circuit breaker tripped,
a key refused), kept for the dashboard newest first, each read or not. Written in the same
transaction as the event's audit row and mail (`activities.bots.bot_notify`), so a retried
notice writes none twice."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from adapters.db.models import Base
from adapters.db.paging import decode_cursor, encode_place, older_than


class AlertRecord(Base):
    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_user_at", "user_id", "at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(40))  # circuit_breaker_tripped, ...
    bot_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bots.id"))
    message: Mapped[str] = mapped_column(String(500))
    at: Mapped[datetime]
    read_at: Mapped[datetime | None]


@dataclass(frozen=True)
class AlertPage:
    alerts: list[AlertRecord]
    next_cursor: str | None  # pass back for the next (older) page; None on the last page
    unread: int  # of all the user's alerts, not only this page's


class AlertStore:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(
        self, user_id: uuid.UUID, kind: str, message: str, at: datetime, bot_id: uuid.UUID | None
    ) -> None:
        self.session.add(
            AlertRecord(user_id=user_id, kind=kind, bot_id=bot_id, message=message[:500], at=at)
        )

    async def add_once(self, user_id: uuid.UUID, kind: str, message: str, at: datetime) -> None:
        """The user's alert of `kind` at `at`, unless one is there already (a retried write:
        one writer, the user's workflow, so a check in the transaction is enough)."""
        exists = await self.session.scalar(
            select(AlertRecord.id).where(
                AlertRecord.user_id == user_id, AlertRecord.kind == kind, AlertRecord.at == at
            )
        )
        if exists is None:
            self.add(user_id, kind, message, at, None)

    async def page(
        self, user_id: uuid.UUID, *, unread_only: bool, limit: int, cursor: str | None
    ) -> AlertPage:
        """The user's alerts, newest first. ValueError for a cursor not made here."""
        mine = AlertRecord.user_id == user_id
        query = select(AlertRecord).where(mine)
        if unread_only:
            query = query.where(AlertRecord.read_at.is_(None))
        if cursor is not None:
            at, alert_id = decode_cursor(cursor)
            query = query.where(older_than(AlertRecord.at, AlertRecord.id, at, alert_id))
        query = query.order_by(AlertRecord.at.desc(), AlertRecord.id.desc()).limit(limit + 1)
        rows = list((await self.session.scalars(query)).all())
        last = rows[limit - 1] if len(rows) > limit else None
        unread = await self.session.scalar(
            select(func.count()).where(mine, AlertRecord.read_at.is_(None))
        )
        return AlertPage(
            alerts=rows[:limit],
            next_cursor=None if last is None else encode_place(last.at, last.id),
            unread=unread or 0,
        )

    async def mark_read(self, user_id: uuid.UUID, alert_id: uuid.UUID, at: datetime) -> bool:
        """False when the user has no such alert. Reading one twice keeps the first time."""
        mine = and_(AlertRecord.id == alert_id, AlertRecord.user_id == user_id)
        found = await self.session.scalar(select(AlertRecord.id).where(mine))
        if found is None:
            return False
        await self.session.execute(
            update(AlertRecord).where(mine, AlertRecord.read_at.is_(None)).values(read_at=at)
        )
        return True
