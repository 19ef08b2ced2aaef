"""The positions bots closed (table bot_trades): written by the bots' projections, read by the
dashboard as SQL aggregates (`adapters/db/dashboard.py`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.engine import dialect_insert
from adapters.db.models_bots import BotOrderRecord, BotTradeRecord
from domain.bots.orders import Strategy
from domain.bots.trades import TradeResult


class TradeStore:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self,
        *,
        bot_id: uuid.UUID,
        user_id: uuid.UUID,
        context_id: uuid.UUID,
        quote: str,
        strategy: Strategy,
        trades: Sequence[TradeResult],
    ) -> int:
        """The bot's closed trades; those already stored are ignored. Each takes the strategy
        of the sale that closed it (`strategy`, the bot's own, when that order is unknown).
        Returns how many were new."""
        if not trades:
            return 0
        sales = {t.closing_order for t in trades}
        strategies = dict(
            (
                await self.session.execute(
                    select(BotOrderRecord.client_order_id, BotOrderRecord.strategy).where(
                        BotOrderRecord.client_order_id.in_(sales)
                    )
                )
            ).all()
        )
        rows = [
            {
                "id": uuid.uuid4(),
                "bot_id": bot_id,
                "user_id": user_id,
                "context_id": context_id,
                "number": trade.number,
                "strategy": strategies.get(trade.closing_order, strategy),
                "quote": quote,
                "opened_at": trade.opened_at,
                "closed_at": trade.closed_at,
                "closing_order": trade.closing_order,
                "profit": trade.profit,
                "won": (trade.profit > 0) - (trade.profit < 0),
            }
            for trade in trades
        ]
        statement = (
            dialect_insert(self.session, BotTradeRecord)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[BotTradeRecord.bot_id, BotTradeRecord.number])
            .returning(BotTradeRecord.id)
        )
        return len((await self.session.execute(statement)).all())
