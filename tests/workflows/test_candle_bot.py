"""Candle bots on the real dev server, the production workers and the Binance simulator: the
market feed analyses the bot's 1-second candles as they close, records each signal and sends
it; the bot buys on a confident BUY with its indicator values in the order, its take profit is
a trigger on the feed like any bot's, and without auto-execution it only records."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from adapters.db.models_bots import BotSignalRecord
from domain.bots.state import BotKind
from domain.market import Side, Venue
from tests.workflows.conftest import BotLab, RunningBot, market_price, until

SYMBOL, SIM_SYMBOL = "BTC-BRL", "BTCBRL"


def candle(**overrides: Any) -> dict[str, Any]:
    """RSI over 2 one-second candles: two rising closes say SELL, a sharp fall says BUY, each
    with HIGH confidence (the only voting rule agrees with itself)."""
    config: dict[str, Any] = {
        "symbol": SYMBOL,
        "strategy": {"timeframe": "1s", "rsi": {"period": 2}},
        "order_amount": "100",
        "allocated_balance": "300",
        "auto_execute": True,
        "min_confidence": "HIGH",
        "risk": {"take_profit": {"percent": "2"}},
    }
    config.update(overrides)
    return config


async def rising(lab: BotLab) -> Decimal:
    """Three rising one-second closes from the market's price now: the RSI is high whatever
    came before (and no price jumps far from where an earlier test left it)."""
    price = (await market_price(lab.binance, SIM_SYMBOL)).quantize(Decimal("0.01"))
    for _ in range(3):
        price = (price * Decimal("1.003")).quantize(Decimal("0.01"))
        await lab.binance.set_price(SIM_SYMBOL, price)
        await asyncio.sleep(1.1)  # the next candle
    return price


def fall(top: Decimal) -> Decimal:
    """A sharp fall (3.4 %): the RSI over two candles drops under 30."""
    return (top * Decimal("0.966")).quantize(Decimal("0.01"))


async def signals(bot: RunningBot, count: int) -> list[BotSignalRecord]:
    """Once `count` signals of the bot are recorded: all of them, oldest candle first."""

    async def recorded() -> list[BotSignalRecord] | None:
        async with bot.sessions() as session:
            rows = list(
                await session.scalars(
                    select(BotSignalRecord)
                    .where(BotSignalRecord.bot_id == bot.ref.bot_id)
                    .order_by(BotSignalRecord.candle_open_ms)
                )
            )
        return rows if len(rows) >= count else None

    recorded.__name__ = f"{count} signals recorded"
    return await until(recorded)


async def test_a_confident_buy_signal_buys_and_the_take_profit_sells(lab: BotLab) -> None:
    top = await rising(lab)
    user = await lab.user()
    await lab.binance_key(user, BRL="1000")
    bot = await lab.start(user, Venue.BINANCE, candle(), kind=BotKind.CANDLE)
    [first] = (await signals(bot, 1))[:1]
    assert (first.timeframe, first.context_id) == ("1s", bot.ref.context_id)
    assert [reason["rule"] for reason in first.reasons] == ["rsi"]
    assert await bot.orders() == []  # the candles so far closed before the bot started
    await lab.binance.set_price(SIM_SYMBOL, fall(top))
    [buy] = await bot.filled(Side.BUY, 1)
    assert (buy.strategy, buy.side) == ("candle", "buy")
    rsi = buy.creation_context["indicators"]["rsi"]["rsi"]
    assert rsi is not None and float(rsi) <= 30
    assert buy.creation_context["detail"].startswith("signal BUY (HIGH)")
    holding = await bot.until(lambda v: v.triggers.risk.sell_at_or_above is not None)
    assert holding.triggers.analysis is not None  # still analysed: a SELL could close it
    target = holding.triggers.risk.sell_at_or_above
    assert target is not None
    await lab.binance.set_price(SIM_SYMBOL, (target * Decimal("1.01")).quantize(Decimal("0.01")))
    orders = await bot.filled(Side.SELL, 1)
    assert [(o.side, o.strategy) for o in orders] == [("buy", "candle"), ("sell", "candle")]
    assert orders[1].creation_context["reason"] in ("take_profit", "signal")
    after = await bot.until(lambda v: v.funds.realized_profit > 0)
    assert after.config["strategy"]["timeframe"] == "1s"  # the config as the user wrote it


async def test_without_auto_execution_signals_are_recorded_and_nothing_is_traded(
    lab: BotLab,
) -> None:
    top = await rising(lab)
    user = await lab.user()
    await lab.binance_key(user, BRL="1000")
    bot = await lab.start(user, Venue.BINANCE, candle(auto_execute=False), kind=BotKind.CANDLE)
    before = len(await signals(bot, 1))
    await lab.binance.set_price(SIM_SYMBOL, fall(top))
    rows = await signals(bot, before + 2)  # candles closed after the fall
    assert "BUY" in {row.action for row in rows}
    view = await bot.view()
    assert view.last_decision is not None and "auto-execution is off" in view.last_decision.detail
    assert await bot.orders() == []
