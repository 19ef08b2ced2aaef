"""The dashboard's summary over HTTP, on trades and orders written by the stores the bots'
projections use: money per currency and exact to the last decimal on both databases, trades
within the plan's history, each strategy apart, each user only their own."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import update
from temporalio.client import Client

from adapters.db.bots_rows import funds_json
from adapters.db.models_bots import BotKind, BotRecord
from adapters.db.trades import TradeStore
from adapters.exchanges.prices import MarketPrices
from adapters.settings import Settings
from api.app import create_app
from api.dashboard.cache import DashboardCache
from api.deps import Services
from domain.bots.funds import BotFunds
from domain.bots.orders import Strategy
from domain.bots.trades import TradeResult
from domain.market import OrderStatus, Side
from domain.plans import Plan
from tests.api.bot_helpers import (
    Sessions,
    Trader,
    add_bot_row,
    add_context,
    add_order,
    set_plan,
    trader,
)
from tests.exchanges.conftest_binance import BinanceSim

__all__ = ["trader"]  # the fixture

MakeTrader = Callable[[], Awaitable[Trader]]
NOW = datetime.now(UTC)
FILLED = OrderStatus.FILLED


async def summary(api: httpx.AsyncClient, t: Trader) -> Any:
    response = await api.get("/api/dashboard/summary", headers=t.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def close_trades(
    sessions: Sessions,
    t: Trader,
    bot_id: uuid.UUID,
    context_id: uuid.UUID,
    profits: list[tuple[str, Strategy, datetime]],
) -> None:
    """Trades closed by sales of the given strategies, through the projection's store."""
    trades = []
    for number, (profit, strategy, at) in enumerate(profits, start=1):
        sale = await add_order(
            sessions, bot_id, 100 + number, side=Side.SELL, strategy=strategy, status=FILLED
        )
        trades.append(
            TradeResult(
                number=number,
                opened_at=at - timedelta(hours=2),
                closed_at=at,
                closing_order=sale,
                profit=Decimal(profit),
            )
        )
    async with sessions() as session:
        store = TradeStore(session)
        ids = {"bot_id": bot_id, "user_id": t.id, "context_id": context_id, "quote": "BRL"}
        assert await store.record(**ids, strategy=Strategy.SMART, trades=trades) == len(trades)
        # A repeated projection writes none twice.
        assert await store.record(**ids, strategy=Strategy.SMART, trades=trades) == 0
        await session.commit()


async def set_funds(sessions: Sessions, bot_id: uuid.UUID, funds: BotFunds, **row: Any) -> None:
    async with sessions() as session:
        await session.execute(
            update(BotRecord).where(BotRecord.id == bot_id).values(funds=funds_json(funds), **row)
        )
        await session.commit()


async def test_summary_counts_trades_per_strategy_exactly_within_the_plans_history(
    api: httpx.AsyncClient, trader: MakeTrader, sessions: Sessions
) -> None:
    t = await trader()
    context = await add_context(sessions, t.id)
    bot = await add_bot_row(sessions, t.id, context)
    old = NOW - timedelta(days=40)  # beyond FREE's 30 days
    await close_trades(
        sessions,
        t,
        bot,
        context,
        [
            ("12.500000000000000001", Strategy.SMART, NOW - timedelta(days=1)),
            ("-3.25", Strategy.SMART, NOW - timedelta(hours=5)),
            ("0.000000000000000002", Strategy.MANUAL, NOW - timedelta(hours=1)),
            ("0", Strategy.SMART, NOW - timedelta(minutes=30)),  # neither won nor lost
            ("100", Strategy.SMART, old),
        ],
    )
    await add_order(sessions, bot, 1, status=OrderStatus.FILLED, at=NOW - timedelta(days=2))
    await add_order(sessions, bot, 2, at=NOW - timedelta(hours=3))  # open
    await add_order(sessions, bot, 3, strategy=Strategy.MANUAL, status=OrderStatus.FILLED)
    other = await trader()
    other_bot = await add_bot_row(sessions, other.id, await add_context(sessions, other.id))
    await add_order(sessions, other_bot, 1)

    free = await summary(api, t)
    assert free["history_from"] is not None
    assert free["trades"] == 4
    assert Decimal(free["win_rate"]) == Decimal(2) / 4
    assert free["realized_pnl"] == {"BRL": "9.250000000000000003"}
    smart, manual = (
        free["performance_by_strategy"]["smart"],
        free["performance_by_strategy"]["manual"],
    )
    assert (smart["trades"], smart["wins"]) == (3, 1)
    assert smart["realized_profit"] == {"BRL": "9.250000000000000001"}
    assert smart["invested"] == {"BRL": "350.0001"}  # the filled buy; the open one spent 0
    assert (manual["trades"], manual["wins"], manual["realized_profit"]) == (
        1,
        1,
        {"BRL": "0.000000000000000002"},
    )
    assert manual["invested"] == {}  # its buy is older than T0 + 3 minutes: out of 30 days
    assert free["performance_by_strategy"]["candle"] == {
        "invested": {},
        "realized_profit": {},
        "trades": 0,
        "wins": 0,
        "win_rate": None,
        "positions": None,
    }
    assert free["pending_orders"] == 1
    assert free["active_bots"] == 1

    await set_plan(sessions, t.id, Plan.MAX)
    everything = await summary(api, t)
    assert everything["history_from"] is None
    assert everything["trades"] == 5
    assert everything["realized_pnl"] == {"BRL": "109.250000000000000003"}
    assert everything["performance_by_strategy"]["manual"]["invested"] == {"BRL": "350.0001"}

    theirs = await summary(api, other)
    assert theirs["trades"] == 0 and theirs["realized_pnl"] == {}
    assert theirs["pending_orders"] == 1


async def test_positions_are_valued_at_the_venues_last_price(
    api: httpx.AsyncClient, trader: MakeTrader, sessions: Sessions
) -> None:
    t = await trader()
    context = await add_context(sessions, t.id)
    smart = await add_bot_row(sessions, t.id, context, allocated="1000")
    dca = await add_bot_row(sessions, t.id, context, allocated="500")
    held = BotFunds.allocate("BTC-BRL", Decimal(1000)).model_copy(
        update={
            "free": Decimal("640.5"),
            "blocked": Decimal("9.5"),
            "invested": Decimal("350"),
            "position_quantity": Decimal("0.001"),
        }
    )
    await set_funds(sessions, smart, held)
    accumulated = BotFunds.allocate("BTC-BRL", Decimal(500)).model_copy(
        update={
            "free": Decimal("200"),
            "invested": Decimal("300"),
            "position_quantity": Decimal("0.0009"),
        }
    )
    await set_funds(sessions, dca, accumulated, kind=BotKind.DCA)

    result = await summary(api, t)
    [priced] = result["prices"]
    assert (priced["venue"], priced["symbol"], priced["stale"]) == ("paper", "BTC-BRL", False)
    price = Decimal(priced["price"])
    assert price > 0
    worth = Decimal("0.0019") * price
    assert Decimal(result["in_positions"]["BRL"]) == worth
    assert Decimal(result["total_balance"]["BRL"]) == Decimal("850") + worth
    assert result["total_invested"] == {"BRL": "650"}
    assert Decimal(result["unrealized_pnl"]["BRL"]) == worth - 650
    assert result["unpriced"] == []
    [position] = result["performance_by_strategy"]["dca"]["positions"]
    assert position["bot_id"] == str(dca)
    assert position["average_price"] == "333333.333333333333333333"  # 300 / 0.0009, to 1e-18
    assert Decimal(position["unrealized_profit"]) == Decimal("0.0009") * price - 300


async def test_the_summary_is_kept_until_a_bots_projection_changes_it(
    api: httpx.AsyncClient, trader: MakeTrader, sessions: Sessions
) -> None:
    t = await trader()
    context = await add_context(sessions, t.id)
    bot = await add_bot_row(sessions, t.id, context)
    await close_trades(sessions, t, bot, context, [("5", Strategy.SMART, NOW)])
    assert (await summary(api, t))["realized_pnl"] == {"BRL": "5"}

    async with sessions() as session:  # a trade written behind the projection's back
        sale = await add_order(sessions, bot, 900, side=Side.SELL, status=FILLED)
        trade = TradeResult(
            number=2, opened_at=None, closed_at=NOW, closing_order=sale, profit=Decimal(7)
        )
        ids = {"bot_id": bot, "user_id": t.id, "context_id": context, "quote": "BRL"}
        await TradeStore(session).record(**ids, strategy=Strategy.SMART, trades=[trade])
        await session.commit()
    assert (await summary(api, t))["realized_pnl"] == {"BRL": "5"}  # from the cache

    later = datetime.now(UTC) + timedelta(seconds=1)
    await set_funds(sessions, bot, BotFunds.allocate("BTC-BRL", Decimal(1000)), updated_at=later)
    assert (await summary(api, t))["realized_pnl"] == {"BRL": "12"}  # the projection moved


async def test_a_venue_that_cannot_be_read_values_positions_at_the_last_price_known(
    trader: MakeTrader,
    settings: Settings,
    sessions: Sessions,
    temporal: Client,
    binance_sim: BinanceSim,
) -> None:
    # Nothing kept between requests: each summary reads the venue again.
    built = Services.build(settings, sessions, temporal)
    services = dataclasses.replace(
        built, prices=MarketPrices(built.exchanges, ttl=0), dashboard=DashboardCache(ttl=0)
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings, services)),
        base_url="http://testserver",
    ) as api:
        t = await trader()
        context = await add_context(sessions, t.id, exchange="binance")
        bot = await add_bot_row(sessions, t.id, context)
        held = BotFunds.allocate("BTC-BRL", Decimal(1000)).model_copy(
            update={
                "free": Decimal(650),
                "invested": Decimal(350),
                "position_quantity": Decimal("0.001"),
            }
        )
        await set_funds(sessions, bot, held)
        [fresh] = (await summary(api, t))["prices"]
        assert (fresh["venue"], fresh["stale"]) == ("binance", False)

        await binance_sim.fault(path="/api/v3/ticker/24hr", status=503, count=1000)
        try:
            down = await summary(api, t)
        finally:
            await binance_sim.http.delete("/_sim/faults")
        [stale] = down["prices"]
        assert stale == {**fresh, "stale": True}
        assert Decimal(down["in_positions"]["BRL"]) == Decimal("0.001") * Decimal(fresh["price"])
