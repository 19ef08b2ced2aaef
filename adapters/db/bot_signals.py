"""Candle bots' signals: one row per bot and closed candle, written by the market feed that
computed it (`activities.market_analysis`), read by the API (latest, and a page at a time).
A signal recorded twice (a feed's new run sends the last candle again) keeps its first row."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.engine import dialect_insert
from adapters.db.models_bots import BotRecord, BotSignalRecord
from adapters.db.paging import decode_cursor, encode_place, older_than
from domain.market import epoch_ms, from_epoch_ms
from domain.signals import Signal

__all__ = ["SignalPage", "SignalStore"]


@dataclass(frozen=True)
class SignalPage:
    signals: list[BotSignalRecord]
    next_cursor: str | None  # pass back for the next (older) page; None on the last page


class SignalStore:
    """Writes run in the caller's session, which commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, signals: dict[uuid.UUID, Signal], timeframe: str, at: datetime) -> None:
        """Each bot's signal, with the bot's context; a (bot, candle) already recorded is kept."""
        if not signals:
            return
        found = await self.session.execute(
            select(BotRecord.id, BotRecord.context_id).where(BotRecord.id.in_(signals))
        )
        contexts = {row.id: row.context_id for row in found}
        rows: list[dict[str, Any]] = [
            {
                "id": uuid.uuid4(),
                "bot_id": bot_id,
                "context_id": contexts[bot_id],
                "timeframe": timeframe,
                "candle_open_ms": signal.candle_open_ms,
                "action": signal.action.value,
                "confidence": signal.confidence.value,
                "close": signal.close,
                "reasons": [reason.model_dump(mode="json") for reason in signal.reasons],
                "created_at": at,
            }
            for bot_id, signal in signals.items()
            if bot_id in contexts  # a bot deleted meanwhile has nobody to show it to
        ]
        if not rows:
            return
        statement = dialect_insert(self.session, BotSignalRecord).on_conflict_do_nothing(
            index_elements=["bot_id", "candle_open_ms"]
        )
        await self.session.execute(statement, rows)

    async def page(self, bot_id: uuid.UUID, *, limit: int, cursor: str | None) -> SignalPage:
        """The bot's signals, newest candle first. ValueError for a cursor not made here."""
        return await self._page(BotSignalRecord.bot_id == bot_id, limit, cursor)

    async def context_page(
        self, context_id: uuid.UUID, *, limit: int, cursor: str | None
    ) -> SignalPage:
        """The signals of every bot of a trading context, newest candle first."""
        return await self._page(BotSignalRecord.context_id == context_id, limit, cursor)

    async def _page(self, where: ColumnElement[bool], limit: int, cursor: str | None) -> SignalPage:
        query = select(BotSignalRecord).where(where)
        if cursor is not None:
            at, signal_id = decode_cursor(cursor)
            query = query.where(
                older_than(
                    BotSignalRecord.candle_open_ms, BotSignalRecord.id, epoch_ms(at), signal_id
                )
            )
        query = query.order_by(BotSignalRecord.candle_open_ms.desc(), BotSignalRecord.id.desc())
        rows = list((await self.session.scalars(query.limit(limit + 1))).all())
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1] if more else None
        next_cursor = (
            None if last is None else encode_place(from_epoch_ms(last.candle_open_ms), last.id)
        )
        return SignalPage(rows, next_cursor)
