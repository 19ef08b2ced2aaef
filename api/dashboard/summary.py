"""`GET /api/dashboard/summary`: the caller's bots in numbers, now and over the plan's history.

Money is per quote currency (a BRL bot's reais never add to a USDT bot's dollars). Decided:
- balance, invested and positions are the bots' funds now: `total_balance` is what they hold
  free and blocked plus their positions at the last price; `total_invested` what those
  positions cost (fees included); `in_positions` what they are worth;
- realized P&L, trades and win rate count the trades closed within the plan's history; a trade
  belongs to the strategy of the sale that closed it (a manual sale closes a manual trade);
  `invested` per strategy is the quote its buys spent in that window;
- positions are valued at the venue's last price (read at most every 30 s); a market whose
  price cannot be read is listed in `unpriced` and left out of the unrealized P&L.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.dashboard import DashboardReads, Holding, TradeTotals
from adapters.db.models import User
from adapters.exchanges.prices import MarketPrices, Quote
from api.dashboard.plans import Window, plan_window
from api.deps import CurrentUser, DashboardCacheDep, PricesDep, SessionDep
from api.errors import error_responses
from domain.analytics.trades import unrealized_pnl
from domain.bots.orders import Strategy
from domain.bots.state import BotKind, BotStatus
from domain.market import Money, Symbol, Venue

router = APIRouter(
    prefix="/api/dashboard", tags=["dashboard"], responses=error_responses(401, 422, 500)
)

PerCurrency = dict[str, Money]
_ZERO = Decimal(0)


class DcaPosition(BaseModel):
    bot_id: uuid.UUID
    symbol: str
    quantity: Money
    average_price: Money | None
    price: Money | None = Field(description="the last price; null when it could not be read")
    unrealized_profit: Money | None


class StrategyPerformance(BaseModel):
    invested: PerCurrency = Field(description="quote its buys spent in the period")
    realized_profit: PerCurrency
    trades: int
    wins: int
    win_rate: Money | None = Field(description="wins / trades (0.5 is half); null: no trade")
    positions: list[DcaPosition] | None = Field(
        default=None, description="DCA only: each bot's accumulated position"
    )


class PricedMarket(BaseModel):
    venue: Venue
    symbol: str
    price: Money
    at: datetime
    stale: bool = Field(description="the venue could not be read: the last price known")


class Summary(BaseModel):
    history_from: datetime | None = Field(description="the plan's history starts here")
    total_balance: PerCurrency
    total_invested: PerCurrency = Field(description="what the open positions cost")
    in_positions: PerCurrency = Field(description="the open positions at the last price")
    realized_pnl: PerCurrency
    unrealized_pnl: PerCurrency
    trades: int
    win_rate: Money | None
    active_bots: int = Field(description="bots running")
    pending_orders: int = Field(description="orders placed and not yet final")
    performance_by_strategy: dict[Strategy, StrategyPerformance]
    prices: list[PricedMarket]
    unpriced: list[str] = Field(description="markets held whose price could not be read")


def _add(totals: PerCurrency, currency: str, amount: Decimal) -> None:
    totals[currency] = totals.get(currency, _ZERO) + amount


def _rate(wins: int, trades: int) -> Decimal | None:
    return Decimal(wins) / trades if trades else None


@router.get("/summary", response_model=Summary)
async def summary(
    user: CurrentUser, session: SessionDep, prices: PricesDep, cache: DashboardCacheDep
) -> Response:
    window = await plan_window(session, user)
    return await cache.response(
        session,
        user.id,
        ("summary", window.plan.plan),
        lambda: summarise(session, user, window, prices),
    )


async def summarise(
    session: AsyncSession, user: User, window: Window, prices: MarketPrices
) -> Summary:
    reads = DashboardReads(session)
    holdings = await reads.holdings(user.id)
    totals = await reads.trade_totals(user.id, window.since)
    spent = await reads.spent(user.id, window.since)
    pending = await reads.pending_orders(user.id)
    held = {(h.venue, h.symbol) for h in holdings if h.amount("position_quantity") > 0}
    quotes = await prices.last(held)

    balance: PerCurrency = {}
    invested: PerCurrency = {}
    worth: PerCurrency = {}
    unrealized: PerCurrency = {}
    for h in holdings:
        quote_asset = h.funds["quote"]
        cash = h.amount("free") + h.amount("blocked")
        quantity, cost = h.amount("position_quantity"), h.amount("invested")
        _add(invested, quote_asset, cost)
        _add(balance, quote_asset, cash)
        quote = quotes.get((h.venue, h.symbol))
        if quantity > 0 and quote is not None:
            _add(balance, quote_asset, quantity * quote.price)
            _add(worth, quote_asset, quantity * quote.price)
            _add(unrealized, quote_asset, unrealized_pnl(quantity, cost, quote.price))
        elif quantity <= 0:
            _add(worth, quote_asset, _ZERO)
            _add(unrealized, quote_asset, _ZERO)

    return Summary(
        history_from=window.since,
        total_balance=balance,
        total_invested=invested,
        in_positions=worth,
        realized_pnl=_realized(totals),
        unrealized_pnl=unrealized,
        trades=sum(t.trades for t in totals),
        win_rate=_rate(sum(t.wins for t in totals), sum(t.trades for t in totals)),
        active_bots=sum(h.status is BotStatus.RUNNING for h in holdings),
        pending_orders=pending,
        performance_by_strategy=_by_strategy(totals, spent, holdings, quotes),
        prices=[
            PricedMarket(venue=venue, symbol=symbol, price=q.price, at=q.at, stale=q.stale)
            for (venue, symbol), q in sorted(quotes.items())
        ],
        unpriced=sorted(f"{v.value}:{s}" for v, s in held - quotes.keys()),
    )


def _realized(totals: list[TradeTotals]) -> PerCurrency:
    realized: PerCurrency = {}
    for t in totals:
        _add(realized, t.quote, t.profit)
    return realized


def _by_strategy(
    totals: list[TradeTotals],
    spent: list[tuple[Strategy, str, Decimal]],
    holdings: list[Holding],
    quotes: dict[tuple[Venue, str], Quote],
) -> dict[Strategy, StrategyPerformance]:
    result: dict[Strategy, StrategyPerformance] = {}
    for strategy in Strategy:
        mine = [t for t in totals if t.strategy is strategy]
        bought: PerCurrency = {}
        for s, symbol, amount in spent:
            if s is strategy:
                _add(bought, Symbol.parse(symbol).quote, amount)
        trades, wins = sum(t.trades for t in mine), sum(t.wins for t in mine)
        result[strategy] = StrategyPerformance(
            invested=bought,
            realized_profit=_realized(mine),
            trades=trades,
            wins=wins,
            win_rate=_rate(wins, trades),
            positions=_dca_positions(holdings, quotes) if strategy is Strategy.DCA else None,
        )
    return result


def _dca_positions(
    holdings: list[Holding], quotes: dict[tuple[Venue, str], Quote]
) -> list[DcaPosition]:
    positions = []
    for h in holdings:
        if h.kind is not BotKind.DCA:
            continue
        quantity, cost = h.amount("position_quantity"), h.amount("invested")
        quote = quotes.get((h.venue, h.symbol))
        average = h.funds.get("average_price")
        positions.append(
            DcaPosition(
                bot_id=h.bot_id,
                symbol=h.symbol,
                quantity=quantity,
                average_price=Decimal(average) if average is not None else None,
                price=quote.price if quote else None,
                unrealized_profit=unrealized_pnl(quantity, cost, quote.price) if quote else None,
            )
        )
    return positions
