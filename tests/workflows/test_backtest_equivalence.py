"""Same code, same answer (issue 14): one SmartBot configuration run live — its workflow on the
real dev server, the production workers, the paper venue trading on a replayed price path in
real time — and backtested over the same candles gives the same orders and the same funds.

The path holds each price for a step of 4 s: the live bot reacts within a step (its feed reads
every second), so live and backtest act on the same prices. Its timer buys every 8 s; the
price moves between its buys: a rise over the take profit, a fall through the hard stop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from adapters.db.bots_rows import venue_status
from adapters.db.models_bots import BotOrderRecord
from adapters.exchanges.paper import build_paper_market
from adapters.settings import Settings
from backtest.candles import Candles
from backtest.runner import Backtest, BacktestMarket
from domain.bots.funds import OrderFunds
from domain.bots.kinds import parse_config
from domain.bots.state import BotKind
from domain.market import Candle, Venue
from domain.price_paths import CandleReplay
from tests.exchanges.conftest_binance import BinanceSim
from tests.workflows.conftest import own_lab

STEP = timedelta(seconds=4)
# One price per step; the bot buys at steps 0, 2, 4, ...: its take profit sells at step 3,
# its hard stop at step 5.
PRICES = [350_000, 350_000, 350_000, 358_000, 358_000, 346_000] + [346_000] + [350_000] * 7
CONFIG: dict[str, Any] = {
    "symbol": "BTC-BRL",
    "mode": "CONTINUOUS",
    "interval_seconds": 8,
    "order_amount": "100",
    "allocated_balance": "1000",
    "risk": {
        "take_profit": {"percent": "2"},
        "stop_loss": {"soft_percent": None, "hard_percent": "3"},
    },
}


def steps(start: datetime) -> list[Candle]:
    return [
        Candle(
            open_time=start + STEP * k,
            open=Decimal(p),
            high=Decimal(p),
            low=Decimal(p),
            close=Decimal(p),
            volume=Decimal(1),
        )
        for k, p in enumerate(PRICES)
    ]


@pytest.mark.once  # the bots' own rules against themselves: one database is enough
async def test_a_live_paper_bot_and_its_backtest_make_the_same_orders_and_funds(
    temporal: Client,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    binance_sim: BinanceSim,
    db: AsyncSession,
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    candles = steps(start)
    market = build_paper_market()
    market.set_path("BTC-BRL", CandleReplay(candles, started_at=start))
    async with own_lab(temporal, sessions, settings, binance_sim, "same", paper=market) as lab:
        user = await lab.user()
        await asyncio.sleep((start - datetime.now(UTC)).total_seconds())
        bot = await lab.start(user, Venue.PAPER, CONFIG)
        # The last step's middle: its buy made, the next not due before the data ends.
        await asyncio.sleep(
            (start + STEP * (len(PRICES) - 0.5) - datetime.now(UTC)).total_seconds()
        )
        live = await bot.view()
        async with sessions() as session:
            rows = list(
                await session.scalars(
                    select(BotOrderRecord)
                    .where(BotOrderRecord.bot_id == bot.ref.bot_id)
                    .order_by(BotOrderRecord.created_at)
                )
            )
    backtest = Backtest(
        BotKind.SMART,
        parse_config(BotKind.SMART, CONFIG),
        Candles(tuple(candles), STEP),
        BacktestMarket(next(r for r in market.engine.markets.values() if r.symbol == "BTC-BRL")),
    )
    await backtest.run()
    tested = [
        (
            p.request.request.side.value,
            venue_status(p.order.status) if p.order else "REJECTED",
            p.order.filled_quantity if p.order else Decimal(0),
            p.order.average_price if p.order else None,
            p.request.creation_context["reason"],
            (p.at - start) // STEP,
        )
        for p in backtest.host.orders
    ]
    lived = [
        (
            o.side,
            o.status,
            o.filled_quantity,
            o.average_price,
            o.creation_context["reason"],
            (o.created_at.replace(tzinfo=UTC) - start) // STEP,
        )
        for o in rows
    ]
    assert lived == tested
    reasons = [row[4] for row in tested if row[0] == "sell"]
    assert reasons == ["take_profit", "stop_loss_hard"]
    # The funds to the last unit; the orders they track are named by each bot's own id, their
    # trades by each venue's own numbering.
    funds = backtest.trader.state.funds
    assert live.funds.model_dump(exclude={"orders"}) == funds.model_dump(exclude={"orders"})

    def tracked(orders: dict[str, OrderFunds]) -> list[dict[str, Any]]:
        return [order.model_dump(exclude={"trade_ids"}) for order in orders.values()]

    assert tracked(live.funds.orders) == tracked(funds.orders)
