"""DCA bots on the real dev server, the production workers and the Binance simulator: a
purchase per cycle (the dev server's time skipping makes an hour, or thirty days, pass at
once), the position's average price, the exits from it, the end of an accumulation, and a
venue account that runs out of money."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from adapters.db.alerts import AlertRecord
from domain.bots.state import BotKind, BotStatus, PauseReason
from domain.market import Side, Venue
from tests.workflows.conftest import (
    BotLab,
    RunningBot,
    Tally,
    assert_funds_match,
    market_price,
    until,
    venue_fills,
    venue_orders,
)

# A market of these tests' own: the worker's market reader keeps each market's previous read
# as the sanity check's reference, so a price another test left on BTC-BRL minutes ago would
# make the first purchase here a "price_jump" refusal (and a DCA bot waits a cycle after one).
SYMBOL, SIM_SYMBOL = "ETH-BRL", "ETHBRL"
HOUR = timedelta(hours=1)
LOT = Decimal("0.00001")  # the simulator's ETHBRL lot step: a sale leaves less than this


def dca(**overrides: Any) -> dict[str, Any]:
    """R$ 100 of ETH every hour out of R$ 300."""
    config: dict[str, Any] = {
        "symbol": SYMBOL,
        "purchase_amount": "100",
        "frequency": "1h",
        "allocated_balance": "300",
    }
    config.update(overrides)
    return config


async def next_cycle(env: WorkflowEnvironment, bot: RunningBot, buys: int) -> None:
    """Skip the bot's hour; its next purchase fills."""
    assert await env.fast_forward(bot.handle, HOUR)
    await bot.filled(Side.BUY, buys)


async def pinned(lab: BotLab) -> Decimal:
    """Pin the market where it is now (on the tick): the tests move it from there."""
    price = (await market_price(lab.binance, SIM_SYMBOL)).quantize(Decimal("0.01"))
    await lab.binance.set_price(SIM_SYMBOL, price)
    return price


def at(price: Decimal, factor: str) -> Decimal:
    return (price * Decimal(factor)).quantize(Decimal("0.01"))


def cycles(orders: list[Any]) -> list[tuple[int, int]]:
    return [
        (o.creation_context["accumulation"], o.creation_context["cycle"])
        for o in orders
        if o.side == "buy"
    ]


async def test_three_cycles_average_by_quantity_then_the_bot_without_an_exit_stops(
    lab: BotLab, temporal_env: WorkflowEnvironment
) -> None:
    """The issue's example's shape on the simulator: R$ 100 at a price, 5 % over it and 5 %
    under it (its exact figures are the unit test's: test_bot_dca.py)."""
    start = await pinned(lab)
    prices = [start, at(start, "1.05"), at(start, "0.95")]
    user = await lab.user()
    key = await lab.binance_key(user, BRL="1000")
    bot = await lab.start(user, Venue.BINANCE, dca(max_cycles=3), kind=BotKind.DCA)
    await bot.filled(Side.BUY, 1)  # the first purchase at once
    await lab.binance.set_price(SIM_SYMBOL, prices[1])
    await next_cycle(temporal_env, bot, 2)
    await lab.binance.set_price(SIM_SYMBOL, prices[2])
    await next_cycle(temporal_env, bot, 3)
    done = await bot.until(lambda v: v.status is BotStatus.STOPPED)
    assert done.last_decision is not None and done.last_decision.reason == "max_buys"
    orders = await bot.orders()
    assert cycles(orders) == [(1, 1), (1, 2), (1, 3)]
    assert {(o.strategy, o.status) for o in orders} == {("dca", "FILLED")}
    assert [o.creation_context["detail"][:16] for o in orders] == [
        f"DCA cycle {n} of 3" for n in (1, 2, 3)
    ]
    async with lab.venue(bot, key) as venue:
        at_venue = await venue_orders(venue, SYMBOL)
        fills = await venue_fills(venue, SYMBOL, {o.order_id for o in at_venue.values()})
    assert set(at_venue) == {o.client_order_id for o in orders}
    tally = Tally.of(fills, "ETH", "BRL")
    assert_funds_match(done.funds, tally)
    # Weighted by quantity: R$ 300 over the ETH bought, the prices' harmonic mean (under their
    # plain mean, `start`), to the lot step's rounding.
    bought = sum(fill.quantity for fill in fills)
    harmonic = 3 / sum(1 / price for price in prices)
    assert abs(tally.spent / bought - harmonic) / harmonic < Decimal("0.0005")
    assert harmonic < start
    # The position's average cost counts what it holds, net of the fees charged in ETH.
    average = done.funds.average_price
    assert average is not None and abs(average - tally.spent / tally.position) < Decimal("1e-12")
    # The config reads back as the user wrote it.
    assert done.config["purchase_amount"] == "100" and done.config["max_cycles"] == 3


async def test_a_take_profit_sells_everything_and_auto_restart_begins_a_new_accumulation(
    lab: BotLab, temporal_env: WorkflowEnvironment
) -> None:
    start = await pinned(lab)
    user = await lab.user()
    key = await lab.binance_key(user, BRL="1000")
    config = dca(max_cycles=2, take_profit_percent="2", stop_loss_percent="10", auto_restart=True)
    bot = await lab.start(user, Venue.BINANCE, config, kind=BotKind.DCA)
    await bot.filled(Side.BUY, 1)
    await next_cycle(temporal_env, bot, 2)
    holding = await bot.until(lambda v: v.triggers.risk.sell_at_or_above is not None)
    assert holding.triggers.buy is None  # two cycles made: it waits for its exit
    target = holding.triggers.risk.sell_at_or_above
    assert target is not None and holding.funds.average_price is not None
    assert abs(target - holding.funds.average_price * Decimal("1.02")) < Decimal("1e-9")
    await lab.binance.set_price(SIM_SYMBOL, at(start, "1.025"))  # over the 2 % target
    await bot.filled(Side.SELL, 1)
    after = await bot.until(lambda v: v.funds.realized_profit > 0)
    assert after.status is BotStatus.RUNNING
    assert after.funds.position_quantity < LOT  # all it could sell: dust is left
    await lab.binance.set_price(SIM_SYMBOL, at(start, "1.005"))
    await next_cycle(temporal_env, bot, 3)  # the new accumulation's first purchase
    orders = await bot.orders()
    assert [o.side for o in orders] == ["buy", "buy", "sell", "buy"]
    assert cycles(orders) == [(1, 1), (1, 2), (2, 1)]
    assert orders[2].creation_context["reason"] == "take_profit"
    async with lab.venue(bot, key) as venue:
        at_venue = await venue_orders(venue, SYMBOL)
        fills = await venue_fills(venue, SYMBOL, {o.order_id for o in at_venue.values()})
    assert_funds_match((await bot.view()).funds, Tally.of(fills, "ETH", "BRL"))


async def test_a_stop_loss_sells_everything_and_stops_the_bot_even_with_auto_restart(
    lab: BotLab,
) -> None:
    start = await pinned(lab)
    user = await lab.user()
    await lab.binance_key(user, BRL="1000")
    config = dca(take_profit_percent="5", stop_loss_percent="4", auto_restart=True)
    bot = await lab.start(user, Venue.BINANCE, config, kind=BotKind.DCA)
    await bot.filled(Side.BUY, 1)
    await bot.until(lambda v: v.triggers.risk.sell_at_or_below is not None)
    await lab.binance.set_price(SIM_SYMBOL, at(start, "0.95"))  # 5 % under the average
    await bot.filled(Side.SELL, 1)
    stopped = await bot.until(lambda v: v.status is BotStatus.STOPPED)
    assert stopped.funds.position_quantity < LOT and stopped.funds.realized_profit < 0
    assert (await bot.orders())[-1].creation_context["reason"] == "stop_loss_hard"


async def test_a_venue_account_short_of_money_pauses_the_bot_and_spends_nothing(
    lab: BotLab, temporal_env: WorkflowEnvironment
) -> None:
    """The account holds 150 BRL: the first purchase fills, the second is refused at the
    venue, and the bot pauses saying so, its books whole."""
    await pinned(lab)
    user = await lab.user()
    await lab.binance_key(user, BRL="150")
    bot = await lab.start(user, Venue.BINANCE, dca(), kind=BotKind.DCA)
    await bot.filled(Side.BUY, 1)
    assert await temporal_env.fast_forward(bot.handle, HOUR)
    paused = await bot.until(lambda v: v.status is BotStatus.PAUSED)
    assert paused.pause_reason is PauseReason.FUNDS
    assert paused.pause_detail is not None and "add funds" in paused.pause_detail
    first, refused = await bot.orders()
    assert (first.status, refused.status) == ("FILLED", "REJECTED")
    funds = paused.funds
    assert funds.violations() == [] and funds.blocked == 0
    assert funds.free == Decimal(300) - funds.invested
    assert paused.triggers.empty  # paused: nothing for the feed to watch

    async def alerted() -> AlertRecord | None:
        async with lab.sessions() as session:
            return await session.scalar(select(AlertRecord).where(AlertRecord.user_id == user))

    alert = await until(alerted)  # the user hears of it
    assert (alert.kind, alert.bot_id) == ("paused_for_funds", bot.ref.bot_id)
    assert alert.message == paused.pause_detail
    resumed = await bot.command("resume")  # the user's call, once the account has money
    assert resumed.status is BotStatus.RUNNING


async def test_a_thirty_day_frequency_buys_once_a_month(
    lab: BotLab, temporal_env: WorkflowEnvironment
) -> None:
    await pinned(lab)
    user = await lab.user()
    await lab.binance_key(user, BRL="1000")
    config = dca(frequency="30d", max_cycles=2, take_profit_percent="50")
    bot = await lab.start(user, Venue.BINANCE, config, kind=BotKind.DCA)
    await bot.filled(Side.BUY, 1)
    assert await temporal_env.fast_forward(bot.handle, timedelta(days=29))
    assert len(await bot.orders()) == 1  # 29 days: not yet
    assert await temporal_env.fast_forward(bot.handle, timedelta(days=1, seconds=1))
    orders = await bot.filled(Side.BUY, 2)
    assert cycles(orders) == [(1, 1), (1, 2)]
    info = await bot.handle.describe()
    assert info.workflow_type == "DcaBot"
