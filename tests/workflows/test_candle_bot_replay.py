"""Candle bots on real candles, on the real dev server and the production workers: a Binance
simulator of the test's own replays ETH/BTC's recorded one-minute candles (data/ohlcv), its
market clock held still and moved by the test a minute at a time, so each step closes exactly
one candle, and the price is always a recorded candle's close: the run is the same every time.

Three bots share one strategy (an RSI over 3 candles, BUY at or under 30) and differ only in
how a position ends: take profit, hard stop loss, trailing stop (selling on signals off). On
every close the market feed records each bot's signal once, and it is what the analysis of
the venue's own closed candles says; a BUY buys with the indicator values in the order; each
exit closes a position. The replay starts at a stretch of the recorded day where all three
exits come within 9 closes; STEPS leaves room, a later stretch would only make the test slower.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.bot_models import BotProjection
from adapters.db.models_bots import BotSignalRecord, BotTriggerRecord
from adapters.settings import Settings
from domain.bots.state import BotKind, BotTriggers
from domain.market import Side, Venue
from domain.signals import CandleStrategy, Signal, analyse, candles_needed
from simulators.binance.config import default_symbols
from tests.exchanges.conftest_binance import BinanceSim, SimFactory
from tests.workflows.conftest import BotLab, RunningBot, feed_has_read, own_lab, until

SYMBOL, SIM_SYMBOL = "ETH-BTC", "ETHBTC"
MINUTE = 60_000  # ms
START_MINUTES = 180  # into the replayed day: where the stretch below begins
STEPS = 25
STRATEGY = CandleStrategy.model_validate(
    {"timeframe": "1m", "rsi": {"period": 3, "oversold": 30, "overbought": 70}}
)
EXITS: dict[str, dict[str, Any]] = {
    "take_profit": {"take_profit": {"percent": "0.2"}, "stop_loss": {"enabled": False}},
    "stop_loss_hard": {
        "take_profit": {"enabled": False},
        "stop_loss": {"soft_percent": None, "hard_percent": "0.2"},
    },
    "trailing_stop": {
        "take_profit": {"enabled": False},
        "stop_loss": {"enabled": False},
        "trailing_stop": {"enabled": True, "activation_percent": "0.2", "trail_percent": "0.05"},
    },
}


@pytest.fixture
async def replay_lab(
    temporal: Client,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    binance_sim_factory: SimFactory,
    db: AsyncSession,
) -> AsyncIterator[BotLab]:
    """ETH/BTC replayed on a market clock that only the test moves (a millionth of real
    speed)."""
    [eth_btc] = [market for market in default_symbols() if market.name == SIM_SYMBOL]
    sim = binance_sim_factory(symbols=[eth_btc], clock_speed=1e-6)
    async with own_lab(temporal, sessions, settings, sim, "replay") as made:
        yield made


def config(exit_settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "symbol": SYMBOL,
        "strategy": STRATEGY.model_dump(mode="json"),
        "order_amount": "0.002",
        "allocated_balance": "0.01",
        "auto_execute": True,
        "min_confidence": "HIGH",
        "sell_on_signal": False,
        "risk": exit_settings,
    }


async def advance(sim: BinanceSim, seconds: int) -> None:
    response = await sim.http.post("/_sim/clock", json={"advance_seconds": seconds})
    response.raise_for_status()


async def to_close_quarter(sim: BinanceSim) -> int:
    """Seconds to move the market clock to the 50th second of its minute: a replayed candle's
    last quarter, where the price is its close, so every step's price is too (the replay walks
    each candle open, low, high, close, a quarter of its time each)."""
    response = await sim.http.get(
        "/api/v3/klines", params={"symbol": SIM_SYMBOL, "interval": "1s", "limit": 1}
    )
    response.raise_for_status()
    [now] = response.json()
    second = int(now[0]) // 1000 % 60
    return (50 - second) % 60


async def venue_signal(sim: BinanceSim) -> Signal:
    """The strategy's signal on the venue's latest closed candles, as the test reads them."""
    response = await sim.http.get(
        "/api/v3/klines",
        params={"symbol": SIM_SYMBOL, "interval": "1m", "limit": candles_needed(STRATEGY) + 1},
    )
    response.raise_for_status()
    rows = response.json()[:-1]  # the last one is still open
    columns = ("open", "high", "low", "close", "volume")
    candles = pl.DataFrame(
        {
            "open_time_ms": [row[0] for row in rows],
            **{name: [Decimal(row[i]) for row in rows] for i, name in enumerate(columns, 1)},
        }
    )
    return analyse(candles, STRATEGY)


async def settled(lab: BotLab, bots: list[RunningBot], candle_ms: int) -> None:
    """Once every bot has taken the candle's signal, has no order open at the venue and its
    triggers are the ones its feed reads, and two more of the feed's reads (each after a fresh
    look at the triggers) changed nothing: whatever this price fires has fired."""
    while True:
        views = [await taken(bot, candle_ms) for bot in bots]
        await feed_has_read(lab.binance, 2)
        if [(await bot.view()).sequence for bot in bots] == [view.sequence for view in views]:
            return


async def taken(bot: RunningBot, candle_ms: int) -> BotProjection:
    view = await bot.until(
        lambda v: (
            v.triggers.analysis is not None
            and v.triggers.analysis.seen_ms == candle_ms
            and all(order.final for order in v.funds.orders.values())
        )
    )
    await until(lambda: published(bot, view.triggers))
    return view


async def published(bot: RunningBot, triggers: BotTriggers) -> bool:
    """The bot's triggers as its feed reads them are `triggers`."""
    async with bot.sessions() as session:
        row = await session.get(BotTriggerRecord, bot.ref.bot_id)
        return row is not None and BotTriggers.model_validate(row.triggers) == triggers


async def recorded(bot: RunningBot) -> list[BotSignalRecord]:
    async with bot.sessions() as session:
        rows = await session.scalars(
            select(BotSignalRecord)
            .where(BotSignalRecord.bot_id == bot.ref.bot_id)
            .order_by(BotSignalRecord.candle_open_ms)
        )
        return list(rows)


async def exits(bot: RunningBot) -> list[str]:
    """The reasons of the bot's filled sales."""
    return [
        order.creation_context["reason"]
        for order in await bot.orders()
        if order.side == Side.SELL.value and order.status == "FILLED"
    ]


async def test_on_real_candles_each_close_brings_a_signal_buys_follow_and_every_exit_sells(
    replay_lab: BotLab,
) -> None:
    lab = replay_lab
    await advance(lab.binance, START_MINUTES * 60 + await to_close_quarter(lab.binance))
    user = await lab.user()
    await lab.binance_key(user, BTC="1")
    context = await lab.context(user, Venue.BINANCE, SYMBOL)
    bots = {
        name: await lab.start(
            user, Venue.BINANCE, config(settings), context_id=context, kind=BotKind.CANDLE
        )
        for name, settings in EXITS.items()
    }
    expected: dict[int, Signal] = {}
    for step in range(STEPS + 1):
        if step:
            await advance(lab.binance, 60)
        signal = await venue_signal(lab.binance)
        expected[signal.candle_open_ms] = signal
        await settled(lab, list(bots.values()), signal.candle_open_ms)
        if all([name in await exits(bot) for name, bot in bots.items()]):
            break
    else:
        done = {name: await exits(bot) for name, bot in bots.items()}
        raise AssertionError(f"not every exit sold within {STEPS} closes: {done}")

    closes = sorted(expected)
    assert closes == [closes[0] + MINUTE * i for i in range(len(closes))]
    for name, bot in bots.items():
        rows = await recorded(bot)
        # One signal per close, none missed, none twice, each the venue's candles' analysis.
        assert [row.candle_open_ms for row in rows] == closes
        for row in rows:
            venue = expected[row.candle_open_ms]
            assert (row.action, row.confidence) == (venue.action.value, venue.confidence.value)
            assert row.close == venue.close  # the recorded candle's close, exactly
            assert (row.timeframe, row.context_id) == ("1m", context)
        buy_closes = [row.candle_open_ms for row in rows if row.action == "BUY"]
        orders = await bot.orders()
        buys = [o for o in orders if o.side == Side.BUY.value]
        assert buys and len(buys) <= len(buy_closes)
        for buy in buys:
            assert buy.strategy == "candle" and buy.status == "FILLED"
            assert buy.creation_context["detail"].startswith("signal BUY (HIGH)")
            rsi = buy.creation_context["indicators"]["rsi"]["rsi"]
            assert rsi is not None and Decimal(rsi) <= 30
        sales = await exits(bot)
        assert set(sales) == {name}  # only its own exit sold: signals never did
        view = await bot.view()
        assert view.funds.violations() == []
        if name == "take_profit":
            assert view.funds.realized_profit > 0
        if name == "stop_loss_hard":
            assert view.funds.realized_profit < 0
