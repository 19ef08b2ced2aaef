"""The dashboard's aggregates, computed by the database (GROUP BY over indexed rows, exact
sums): the caller gets one row per group, never every order.

- trades (bot_trades, index user + closed_at): per strategy and currency, how many closed,
  how many won, their profit; per time bucket for the series; gross profit and loss and the
  average hold for the advanced metrics;
- quote spent on buys (bot_orders, index user + side + created_at), per strategy and market;
- the orders still open (index user + status);
- every bot's funds now (one row per bot).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.bots_rows import venue_status
from adapters.db.models import TradingContext
from adapters.db.models_bots import BotKind, BotOrderRecord, BotRecord, BotStatus, BotTradeRecord
from adapters.db.sums import exact_sum, held_seconds, hour_bucket
from domain.analytics import Period
from domain.bots.orders import Strategy
from domain.market import OrderStatus, Side, Venue

_ZERO = Decimal(0)


@dataclass(frozen=True)
class TradeTotals:
    strategy: Strategy
    quote: str
    trades: int
    wins: int
    profit: Decimal


@dataclass(frozen=True)
class BucketTotals:
    """The trades closed in one hour or day, of one context and strategy."""

    start: datetime
    context_id: uuid.UUID
    strategy: Strategy
    quote: str
    trades: int
    profit: Decimal


@dataclass(frozen=True)
class TradeShape:
    """What the advanced metrics need of the trades in one currency."""

    quote: str
    gross_profit: Decimal
    gross_loss: Decimal  # positive: what the losing trades lost
    average_hold_seconds: float | None  # over the trades whose opening is known


@dataclass(frozen=True)
class Holding:
    """A bot and its funds now (`funds` as stored: BotFunds without its order books)."""

    bot_id: uuid.UUID
    kind: BotKind
    status: BotStatus
    context_id: uuid.UUID
    venue: Venue
    symbol: str
    funds: dict[str, Any]

    def amount(self, name: str) -> Decimal:
        return Decimal(self.funds.get(name, "0"))


class DashboardReads:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _trades(self, user_id: uuid.UUID, since: datetime | None, *columns: Any) -> Select[Any]:
        query = select(*columns).where(BotTradeRecord.user_id == user_id)
        if since is not None:
            query = query.where(BotTradeRecord.closed_at >= since)
        return query

    async def trade_totals(self, user_id: uuid.UUID, since: datetime | None) -> list[TradeTotals]:
        won = func.sum(case((BotTradeRecord.won > 0, 1), else_=0))
        query = self._trades(
            user_id,
            since,
            BotTradeRecord.strategy,
            BotTradeRecord.quote,
            func.count(),
            won,
            exact_sum(BotTradeRecord.profit),
        ).group_by(BotTradeRecord.strategy, BotTradeRecord.quote)
        return [
            TradeTotals(Strategy(s), quote, count, int(wins or 0), profit or _ZERO)
            for s, quote, count, wins, profit in (await self.session.execute(query)).all()
        ]

    async def trade_buckets(
        self, user_id: uuid.UUID, since: datetime | None, period: Period
    ) -> list[BucketTotals]:
        bucket = hour_bucket(period.value, BotTradeRecord.closed_at)
        keys = (bucket, BotTradeRecord.context_id, BotTradeRecord.strategy, BotTradeRecord.quote)
        query = (
            self._trades(user_id, since, *keys, func.count(), exact_sum(BotTradeRecord.profit))
            .group_by(*keys)
            .order_by(bucket)
        )
        return [
            BucketTotals(
                datetime.fromisoformat(start).replace(tzinfo=UTC),
                context_id,
                Strategy(strategy),
                quote,
                count,
                profit or _ZERO,
            )
            for start, context_id, strategy, quote, count, profit in (
                await self.session.execute(query)
            ).all()
        ]

    async def trade_shapes(self, user_id: uuid.UUID, since: datetime | None) -> list[TradeShape]:
        trade = BotTradeRecord
        query = self._trades(
            user_id,
            since,
            trade.quote,
            trade.won,
            exact_sum(trade.profit),
            func.sum(held_seconds(trade.opened_at, trade.closed_at)),
            func.count(trade.opened_at),
        ).group_by(trade.quote, trade.won)
        grouped: dict[str, list[Any]] = {}
        for quote, won, profit, held, opened in (await self.session.execute(query)).all():
            gained, lost, held_total, counted = grouped.setdefault(quote, [_ZERO, _ZERO, 0.0, 0])
            grouped[quote] = [
                gained + (profit if won > 0 else _ZERO),
                lost - (profit if won < 0 else _ZERO),
                held_total + (held or 0.0),
                counted + opened,
            ]
        return [
            TradeShape(quote, gained, lost, held / counted if counted else None)
            for quote, (gained, lost, held, counted) in sorted(grouped.items())
        ]

    async def spent(
        self, user_id: uuid.UUID, since: datetime | None
    ) -> list[tuple[Strategy, str, Decimal]]:
        """Quote spent on buys (what filled), per strategy and market (BASE-QUOTE)."""
        order = BotOrderRecord
        query = select(order.strategy, order.symbol, exact_sum(order.quote_quantity)).where(
            order.user_id == user_id, order.side == Side.BUY.value
        )
        if since is not None:
            query = query.where(order.created_at >= since)
        query = query.group_by(order.strategy, order.symbol)
        return [
            (Strategy(strategy), symbol, spent or _ZERO)
            for strategy, symbol, spent in (await self.session.execute(query)).all()
        ]

    async def pending_orders(self, user_id: uuid.UUID) -> int:
        open_statuses = [venue_status(s) for s in OrderStatus if not s.is_final]
        query = select(func.count()).where(
            BotOrderRecord.user_id == user_id, BotOrderRecord.status.in_(open_statuses)
        )
        return int((await self.session.execute(query)).scalar_one())

    async def first_trade_at(self, user_id: uuid.UUID) -> datetime | None:
        query = select(func.min(BotTradeRecord.closed_at)).where(BotTradeRecord.user_id == user_id)
        first = (await self.session.execute(query)).scalar_one()
        return first.replace(tzinfo=UTC) if first is not None and first.tzinfo is None else first

    async def holdings(self, user_id: uuid.UUID, *, deleted: bool = False) -> list[Holding]:
        """Every bot (the deleted ones too when `deleted`), with its context's market."""
        query = (
            select(
                BotRecord.id,
                BotRecord.kind,
                BotRecord.status,
                BotRecord.context_id,
                TradingContext.exchange,
                TradingContext.coin,
                TradingContext.fiat,
                BotRecord.funds,
            )
            .join(TradingContext, and_(TradingContext.id == BotRecord.context_id))
            .where(BotRecord.user_id == user_id)
            .order_by(BotRecord.created_at, BotRecord.id)
        )
        if not deleted:
            query = query.where(BotRecord.deleted_at.is_(None))
        return [
            Holding(
                bot_id,
                BotKind(kind),
                BotStatus(status),
                context_id,
                Venue(venue),
                f"{coin}-{fiat}",
                funds,
            )
            for bot_id, kind, status, context_id, venue, coin, fiat, funds in (
                await self.session.execute(query)
            ).all()
        ]
