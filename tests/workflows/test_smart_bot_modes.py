"""SmartBots in their three modes on the real dev server and the production workers: CONTINUOUS
over a real price path on the Binance simulator, SCHEDULED at its cron fires (the dev server's
time skipping), MANUAL only on the user's commands."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.bot_models import BotProjection, ManualOrder
from adapters.market_data import OHLCV_DIR, read_candles
from domain.bots.state import BotStatus
from domain.market import Side, Venue
from tests.workflows.conftest import (
    BotLab,
    Tally,
    assert_funds_match,
    feed_has_read,
    venue_fills,
    venue_orders,
)

SYMBOL, SIM_SYMBOL = "BTC-BRL", "BTCBRL"
START = Decimal("350000")


def smart(**overrides: Any) -> dict[str, Any]:
    """A bot buying 100 BRL of BTC a second, three times, selling at 1 % over its average."""
    config: dict[str, Any] = {
        "symbol": SYMBOL,
        "mode": "CONTINUOUS",
        "interval_seconds": 1,
        "order_amount": "100",
        "allocated_balance": "300",
        "risk": {"take_profit": {"percent": "1"}},
    }
    config.update(overrides)
    return config


def real_path() -> Iterator[Decimal]:
    """Real 1-minute closes (data/ohlcv, ETH/BTC from index 97: a small dip, then a 1.5 % rise
    within 30 minutes), scaled to start at 350,000 BRL on the simulator's 0.01 tick."""
    closes = [c.close for c in read_candles(OHLCV_DIR / "ETH_BTC-1m.parquet")[97:127]]
    scale = START / closes[0]
    for close in closes:
        yield (close * scale).quantize(Decimal("0.01"))


async def test_continuous_bot_buys_and_sells_over_a_real_price_path_and_its_funds_match(
    lab: BotLab,
) -> None:
    await lab.binance.set_price(SIM_SYMBOL, START)
    user = await lab.user()
    key = await lab.binance_key(user, BRL="1000")
    bot = await lab.start(user, Venue.BINANCE, smart(sell={"stop_after_sell": True}))
    path = real_path()
    for count in range(1, 4):  # one buy per price, each at the next real close
        await bot.filled(Side.BUY, count)
        await lab.binance.set_price(SIM_SYMBOL, next(path))
    view = await bot.until(lambda v: v.funds.free < Decimal("100"))
    assert view.funds.invested > 0 and view.triggers.risk.sell_at_or_above is not None
    target = view.triggers.risk.sell_at_or_above
    for price in path:  # the rest of the path, each price seen, until take profit sells
        await lab.binance.set_price(SIM_SYMBOL, price)
        await feed_has_read(lab.binance)
        if price > target:
            break
    else:
        pytest.fail(f"the path never reached the take profit {target}")
    stopped = await bot.until(lambda v: v.status is BotStatus.STOPPED)
    assert stopped.last_decision is not None
    orders = await bot.orders()
    assert [o.side for o in orders] == ["buy", "buy", "buy", "sell"]
    assert {o.status for o in orders} == {"FILLED"}
    sale = orders[-1]
    assert sale.creation_context["reason"] == "take_profit"
    assert Decimal(sale.creation_context["best_bid"]) >= target
    assert stopped.funds.realized_profit > 0
    async with lab.venue(bot, key) as venue:
        at_venue = await venue_orders(venue, SYMBOL)
        fills = await venue_fills(venue, SYMBOL, {o.order_id for o in at_venue.values()})
    assert set(at_venue) == {o.client_order_id for o in orders}
    assert {o.exchange_order_id for o in orders} == {o.order_id for o in at_venue.values()}
    assert_funds_match(stopped.funds, Tally.of(fills, "BTC", "BRL"))


async def test_manual_bot_acts_only_on_the_users_commands(lab: BotLab) -> None:
    await lab.binance.set_price(SIM_SYMBOL, START)
    user = await lab.user()
    key = await lab.binance_key(user, BRL="1000")
    bot = await lab.start(user, Venue.BINANCE, smart(mode="MANUAL", allocated_balance="500"))
    started = await bot.until(lambda v: v.sequence >= 1)
    # No position and no buy rule: nothing for a feed to watch, and no timer of its own.
    assert started.triggers.empty
    history = await bot.handle.fetch_history()
    assert not [e for e in history.events if e.HasField("timer_started_event_attributes")]
    assert await bot.orders() == []

    bought = await bot.command("buy", ManualOrder(amount=Decimal("150")))
    # The venue bought what 150 BRL buys on its lot step; the rest is free again.
    assert Decimal(140) < bought.funds.invested <= Decimal(150)
    assert bought.funds.free == Decimal(500) - bought.funds.invested
    [buy] = await bot.orders()
    assert (buy.side, buy.status, buy.strategy) == ("buy", "FILLED", "manual")
    assert buy.quote_order_quantity == Decimal("150")
    assert buy.creation_context["reason"] == "manual buy"

    await lab.binance.set_price(SIM_SYMBOL, START + 100)  # under its take profit (3 %)
    await feed_has_read(lab.binance, 3)
    assert len(await bot.orders()) == 1

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await bot.command("buy", ManualOrder(amount=Decimal("400")))  # more than is free
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == "BotCommandRefused"
    assert str(bought.funds.free) in refused.value.cause.message
    assert len(await bot.orders()) == 1

    sold = await bot.command("sell", ManualOrder())
    orders = await bot.orders()
    assert [(o.side, o.status) for o in orders] == [
        ("buy", "FILLED"),
        ("sell", "FILLED"),
    ]
    assert sold.funds.proceeds > 0
    async with lab.venue(bot, key) as venue:
        at_venue = await venue_orders(venue, SYMBOL)
        fills = await venue_fills(venue, SYMBOL, {o.order_id for o in at_venue.values()})
    assert set(at_venue) == {o.client_order_id for o in orders}
    assert_funds_match((await bot.view()).funds, Tally.of(fills, "BTC", "BRL"))


def _local(view: BotProjection, zone: str) -> datetime:
    assert view.last_decision is not None
    return view.last_decision.at.astimezone(ZoneInfo(zone))


async def test_scheduled_bot_buys_at_its_cron_fires(
    lab: BotLab, temporal_env: WorkflowEnvironment
) -> None:
    """`0 9 * * *` in São Paulo: two days skipped are two buys, each decided at 09:00 there."""
    zone = "America/Sao_Paulo"
    await lab.binance.set_price(SIM_SYMBOL, START)
    user = await lab.user()
    await lab.binance_key(user, BRL="1000")
    config = smart(mode="SCHEDULED", cron="0 9 * * *", timezone=zone)
    bot = await lab.start(user, Venue.BINANCE, config)
    await bot.until(lambda v: v.sequence >= 1)
    assert await bot.orders() == []
    began = datetime.now(UTC)
    # Margins: two fires lie within 2 days from any start, a third not before 2 days + 1 s.
    assert await temporal_env.fast_forward(bot.handle, timedelta(days=2))
    orders = await bot.filled(Side.BUY, 2)
    assert [(o.side, o.status) for o in orders] == [("buy", "FILLED")] * 2
    view = await bot.until(lambda v: v.funds.free == Decimal(300) - v.funds.invested)
    fired = _local(view, zone)
    assert (fired.hour, fired.minute) == (9, 0)
    assert fired.date() > began.astimezone(ZoneInfo(zone)).date()


async def test_a_paused_bot_buys_again_once_resumed_and_a_larger_allocation_is_spent(
    lab: BotLab,
) -> None:
    """A command that makes a buy due (resume, more allocation) sets the bot's timer again:
    the bot was asleep with no timer at all."""
    await lab.binance.set_price(SIM_SYMBOL, START)
    user = await lab.user()
    await lab.binance_key(user, BRL="1000")
    bot = await lab.start(user, Venue.BINANCE, smart())
    await bot.filled(Side.BUY, 1)
    paused = await bot.command("pause")
    assert paused.status is BotStatus.PAUSED and paused.triggers.empty
    bought = len(await bot.orders())
    await feed_has_read(lab.binance, 3)  # its next buy was due a second after the first
    assert len(await bot.orders()) == bought
    resumed = await bot.command("resume")
    assert resumed.status is BotStatus.RUNNING
    await bot.filled(Side.BUY, 3)  # the rest of its allocation, one a second
    spent = await bot.until(lambda v: v.funds.free < Decimal(100))
    assert bought < 3 and spent.funds.blocked == 0
    config = {**spent.config, "allocated_balance": "400"}
    more = await bot.command("configure", config)
    assert more.funds.allocated_balance == Decimal(400) and more.funds.free >= Decimal(100)
    await bot.filled(Side.BUY, 4)


async def test_the_dip_rule_buys_only_when_the_feed_sees_the_price_fall_under_its_level(
    lab: BotLab,
) -> None:
    """Dip 1 % under the reference (the first price seen, then each fill's): no timer, the
    feed watches the level and wakes the bot; each buy lowers the next level."""
    await lab.binance.set_price(SIM_SYMBOL, START)
    user = await lab.user()
    await lab.binance_key(user, BRL="1000")
    bot = await lab.start(user, Venue.BINANCE, smart(dip_percent="1"))
    waiting = await bot.until(lambda v: v.triggers.buy is not None)
    assert waiting.triggers.buy is not None
    assert waiting.triggers.buy.at_or_below == START * Decimal("0.99")
    await lab.binance.set_price(SIM_SYMBOL, START * Decimal("0.995"))  # not deep enough
    await feed_has_read(lab.binance, 3)
    assert await bot.orders() == []
    await lab.binance.set_price(SIM_SYMBOL, START * Decimal("0.985"))
    [buy] = await bot.filled(Side.BUY, 1)
    assert buy.creation_context["source"] == "smart" and "dip" in buy.creation_context["reason"]
    after = await bot.until(lambda v: v.funds.invested > 0)
    level = after.triggers.buy.at_or_below if after.triggers.buy else None
    assert level is not None and level < START * Decimal("0.985")  # 1 % under the fill
    await feed_has_read(lab.binance, 3)  # the same price again buys nothing
    assert len(await bot.orders()) == 1
