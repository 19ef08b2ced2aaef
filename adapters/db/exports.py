"""What an export reads (`activities/reports.py`): a user's orders or fills of a period, newest
first."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.models_bots import BotFillRecord, BotOrderRecord, BotRecord


async def period_orders(
    session: AsyncSession, user_id: uuid.UUID, since: datetime | None, limit: int | None = None
) -> list[tuple[BotOrderRecord, str]]:
    """The user's orders created since `since` (None: all), newest first, each with its bot's
    name; at most `limit`."""
    query = (
        select(BotOrderRecord, BotRecord.name)
        .join(BotRecord, BotRecord.id == BotOrderRecord.bot_id)
        .where(BotOrderRecord.user_id == user_id)
        .order_by(BotOrderRecord.created_at.desc(), BotOrderRecord.id.desc())
        .limit(limit)
    )
    if since is not None:
        query = query.where(BotOrderRecord.created_at >= since)
    return [(order, name) for order, name in await session.execute(query)]


async def count_orders(session: AsyncSession, user_id: uuid.UUID, since: datetime | None) -> int:
    query = select(func.count()).where(BotOrderRecord.user_id == user_id)
    if since is not None:
        query = query.where(BotOrderRecord.created_at >= since)
    return int((await session.execute(query)).scalar_one())


async def period_fills(
    session: AsyncSession, user_id: uuid.UUID, since: datetime | None
) -> list[BotFillRecord]:
    """The user's fills since `since` (None: all), newest first."""
    query = (
        select(BotFillRecord)
        .where(BotFillRecord.user_id == user_id)
        .order_by(BotFillRecord.at.desc(), BotFillRecord.id.desc())
    )
    if since is not None:
        query = query.where(BotFillRecord.at >= since)
    return list(await session.scalars(query))
