"""`GET /api/dashboard/performance` (PRO and MAX): realized P&L and equity, hour by hour (the
last 7 days) or day by day (the plan's history), in total, per context and per strategy, with
holding Bitcoin over the same period beside it; `GET /api/dashboard/metrics` (MAX): the
ratios of that equity curve and of the trades.

Decided: the equity is the capital given to the bots (every bot's allocated balance, deleted
ones too, as their trades count) plus the P&L realized since the series' start; what open
positions would make is the summary's unrealized P&L, not a point of the curve (a past hour's
positions at that hour's price are not recorded). Buy and hold is Bitcoin in the series'
currency, on the venue of the caller's first context in it, from the first bucket's opening
price to the last price.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

import polars as pl
from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.dashboard import BucketTotals, DashboardReads, Holding
from adapters.db.models import TradingContext, User
from adapters.exchanges.prices import MarketPrices
from api.dashboard.plans import Window, plan_window, require
from api.deps import CurrentUser, DashboardCacheDep, PricesDep, SessionDep
from api.errors import error_responses
from domain.analytics import (
    PERIODS_PER_YEAR,
    Period,
    max_drawdown,
    periodic_returns,
    sharpe,
    sortino,
)
from domain.analytics.series import Point, bucket_start, equity_series
from domain.analytics.trades import buy_and_hold, gross_ratio
from domain.bots.orders import Strategy
from domain.market import Money, Venue
from domain.plans import Feature

router = APIRouter(
    prefix="/api/dashboard", tags=["dashboard"], responses=error_responses(401, 403, 422, 500)
)

K = TypeVar("K", bound=Hashable)
HOURLY_DAYS = 7  # hour buckets cover the last week: 168 points a series
_ZERO = Decimal(0)


class PointOut(BaseModel):
    at: datetime = Field(description="the bucket's start (UTC)")
    trades: int
    pnl: Money = Field(description="realized by the trades closed in the bucket")
    cumulative_pnl: Money
    equity: Money = Field(description="capital + cumulative_pnl")


class Series(BaseModel):
    currency: str
    capital: Money = Field(description="allocated to the bots the series covers")
    context_id: uuid.UUID | None = None
    symbol: str | None = None
    strategy: Strategy | None = None
    points: list[PointOut]


class HoldPoint(BaseModel):
    at: datetime = Field(description="the bucket's start (UTC)")
    equity: Money = Field(description="the capital, had it bought the coin at the first bucket")


class BuyAndHold(BaseModel):
    currency: str
    venue: Venue
    symbol: str
    from_price: Money
    to_price: Money
    market_return: Money = Field(description="holding it over the period (0.1 is +10 %)")
    bots_return: Money | None = Field(description="the bots' realized P&L over their capital")
    points: list[HoldPoint] = Field(
        description="beside the total's equity: the capital held in the coin, valued at each "
        "bucket's opening price (buckets the venue has no candle for are left out)"
    )


class Performance(BaseModel):
    period: Period
    start: datetime = Field(description="the first bucket's start")
    end: datetime
    history_from: datetime | None
    total: list[Series] = Field(description="one per currency")
    by_context: list[Series]
    by_strategy: list[Series]
    buy_and_hold: list[BuyAndHold] = Field(description="Bitcoin, per currency it was readable in")


@dataclass(frozen=True)
class Curves:
    """What both endpoints read: the window, the bots and their trades by bucket."""

    period: Period
    window: Window
    start: datetime
    holdings: list[Holding]
    rows: list[BucketTotals]

    def series(
        self, key: Callable[[BucketTotals], K], capital: Mapping[K, Decimal]
    ) -> dict[K, list[Point]]:
        """One equity curve per `key` of the trades (and per key given capital)."""
        closed: dict[K, dict[datetime, tuple[int, Decimal]]] = defaultdict(dict)
        for row in self.rows:
            group = closed[key(row)]
            trades, pnl = group.get(row.start, (0, _ZERO))
            group[row.start] = (trades + row.trades, pnl + row.profit)
        return {
            k: equity_series(closed.get(k, {}), self.start, self.window.now, self.period, c)
            for k, c in {**dict.fromkeys(closed, _ZERO), **capital}.items()
        }

    def capital(self, key: Callable[[Holding], K]) -> dict[K, Decimal]:
        """The balance allocated to the bots, per `key` of theirs."""
        capital: dict[K, Decimal] = defaultdict(Decimal)
        for h in self.holdings:
            capital[key(h)] += h.amount("allocated_balance")
        return dict(capital)

    def total(self) -> dict[str, list[Point]]:
        """The equity curve of each currency."""
        return self.series(lambda r: r.quote, self.capital(_quote))


def _quote(h: Holding) -> str:
    return str(h.funds["quote"])


async def read_curves(session: AsyncSession, user: User, window: Window, period: Period) -> Curves:
    reads = DashboardReads(session)
    if period is Period.HOUR:
        week = window.now - timedelta(days=HOURLY_DAYS)
        start = max(week, window.since) if window.since else week
    else:
        start = window.since or await reads.first_trade_at(user.id) or window.now
    return Curves(
        period,
        window,
        bucket_start(start, period),
        await reads.holdings(user.id, deleted=True),
        await reads.trade_buckets(user.id, start, period),
    )


def _points(points: list[Point]) -> list[PointOut]:
    return [PointOut.model_validate(p, from_attributes=True) for p in points]


@router.get("/performance", response_model=Performance)
async def performance(
    user: CurrentUser,
    session: SessionDep,
    prices: PricesDep,
    cache: DashboardCacheDep,
    period: Period = Period.DAY,
) -> Response:
    window = await plan_window(session, user)
    require(window.plan, Feature.MARKET_COMPARISON, "performance series")
    return await cache.response(
        session,
        user.id,
        ("performance", window.plan.plan, period),
        lambda: _performance(session, user, window, prices, period),
    )


async def _performance(
    session: AsyncSession, user: User, window: Window, prices: MarketPrices, period: Period
) -> Performance:
    curves = await read_curves(session, user, window, period)
    symbols = {h.context_id: h.symbol for h in curves.holdings}
    total = curves.total()
    context_capital = curves.capital(lambda h: (h.context_id, _quote(h)))
    contexts = curves.series(lambda r: (r.context_id, r.quote), context_capital)
    strategies = curves.series(lambda r: (r.strategy, r.quote), {})
    capital = curves.capital(_quote)
    return Performance(
        period=period,
        start=curves.start,
        end=window.now,
        history_from=window.since,
        total=[
            Series(currency=c, capital=capital.get(c, _ZERO), points=_points(p))
            for c, p in sorted(total.items())
        ],
        by_context=[
            Series(
                currency=c,
                capital=context_capital.get((k, c), _ZERO),
                context_id=k,
                symbol=symbols.get(k),
                points=_points(p),
            )
            for (k, c), p in sorted(contexts.items(), key=lambda i: str(i[0]))
        ],
        by_strategy=[
            Series(currency=c, capital=_ZERO, strategy=s, points=_points(p))
            for (s, c), p in sorted(strategies.items(), key=lambda i: str(i[0]))
        ],
        buy_and_hold=await _bitcoin(session, user, prices, period, curves.start, total, capital),
    )


_INTERVAL = {Period.HOUR: "1h", Period.DAY: "1d"}  # a bucket is one candle


async def _bitcoin(
    session: AsyncSession,
    user: User,
    prices: MarketPrices,
    period: Period,
    start: datetime,
    total: dict[str, list[Point]],
    capital: dict[str, Decimal],
) -> list[BuyAndHold]:
    venues: dict[str, Venue] = {}
    for exchange, fiat in await session.execute(
        select(TradingContext.exchange, TradingContext.fiat)
        .where(TradingContext.user_id == user.id)
        .order_by(TradingContext.created_at, TradingContext.id)
    ):
        venues.setdefault(fiat, Venue(exchange))
    compared = []
    for currency, points in sorted(total.items()):
        venue = venues.get(str(currency))
        if venue is None:
            continue
        market = (venue, f"BTC-{currency}")
        first = await prices.at_hour(market, start)
        last = (await prices.last({market})).get(market)
        if first is None or last is None:
            continue  # the venue has no such market, or cannot be read: nothing to compare
        invested = capital.get(currency, _ZERO)
        opens = await prices.opens(market, _INTERVAL[period], [p.at for p in points])
        base = opens.get(points[0].at)
        held = [
            HoldPoint(at=p.at, equity=invested * opens[p.at] / base)
            for p in points
            if base and invested > 0 and p.at in opens
        ]
        compared.append(
            BuyAndHold(
                currency=str(currency),
                venue=venue,
                symbol=market[1],
                from_price=first,
                to_price=last.price,
                market_return=buy_and_hold(first, last.price),
                bots_return=points[-1].cumulative_pnl / invested if invested > 0 else None,
                points=held,
            )
        )
    return compared


class DrawdownOut(BaseModel):
    depth: float = Field(description="the fall from the high, as a fraction of it (0.25: 25 %)")
    peak_at: datetime
    trough_at: datetime


class CurrencyMetrics(BaseModel):
    currency: str
    trades: int
    win_rate: Money | None
    sharpe: float | None = Field(description="annualised; null under two returns or none vary")
    sortino: float | None = Field(description="annualised; null without a downside")
    max_drawdown: DrawdownOut | None = Field(description="null: the equity never fell")
    profit_factor: Money | None = Field(description="gross profit / gross loss; null: no loss")
    gross_profit: Money
    gross_loss: Money
    average_hold_seconds: float | None


class Metrics(BaseModel):
    period: Period = Field(description="the returns' period (one per bucket, gaps filled)")
    periods_per_year: int = Field(description="annualisation: 365 days or 8,760 hours")
    risk_free_rate: float = Field(description="per period; Sortino's required return too")
    start: datetime
    end: datetime
    by_currency: list[CurrencyMetrics]


@router.get("/metrics", response_model=Metrics)
async def metrics(
    user: CurrentUser, session: SessionDep, cache: DashboardCacheDep, period: Period = Period.DAY
) -> Response:
    """The advanced metrics of the equity curve `performance` draws, and of the trades."""
    window = await plan_window(session, user)
    require(window.plan, Feature.ADVANCED_METRICS, "advanced metrics")
    return await cache.response(
        session,
        user.id,
        ("metrics", window.plan.plan, period),
        lambda: _metrics(session, user, window, period),
    )


async def _metrics(session: AsyncSession, user: User, window: Window, period: Period) -> Metrics:
    curves = await read_curves(session, user, window, period)
    total = curves.total()
    reads = DashboardReads(session)
    counts = await reads.trade_totals(user.id, curves.start)  # per strategy and currency
    shapes = {s.quote: s for s in await reads.trade_shapes(user.id, curves.start)}
    result = []
    for currency, points in sorted(total.items(), key=lambda i: str(i[0])):
        times = pl.Series([p.at for p in points])
        equity = pl.Series([float(p.equity) for p in points])
        returns = periodic_returns(equity)
        drawdown = max_drawdown(times, equity)
        shape = shapes.get(str(currency))
        trades = sum(t.trades for t in counts if t.quote == currency)
        wins = sum(t.wins for t in counts if t.quote == currency)
        result.append(
            CurrencyMetrics(
                currency=str(currency),
                trades=trades,
                win_rate=Decimal(wins) / trades if trades else None,
                sharpe=sharpe(returns, period),
                sortino=sortino(returns, period),
                max_drawdown=DrawdownOut(**vars(drawdown)) if drawdown else None,
                profit_factor=gross_ratio(shape.gross_profit, shape.gross_loss) if shape else None,
                gross_profit=shape.gross_profit if shape else _ZERO,
                gross_loss=shape.gross_loss if shape else _ZERO,
                average_hold_seconds=shape.average_hold_seconds if shape else None,
            )
        )
    return Metrics(
        period=period,
        periods_per_year=PERIODS_PER_YEAR[period],
        risk_free_rate=0.0,
        start=curves.start,
        end=curves.window.now,
        by_currency=result,
    )
