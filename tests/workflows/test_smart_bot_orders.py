"""A SmartBot's orders against the venue: limit orders filled a part at a time, an order canceled
on the venue's own site (the account sync finds it and the bot releases its funds)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from activities.bot_models import ManualOrder
from adapters.db.bots import BotStore
from adapters.db.models_bots import BotOrderRecord
from domain.bots.state import BotStatus
from domain.market import OrderStatus, Venue
from tests.workflows.conftest import (
    BotLab,
    Tally,
    assert_funds_match,
    until,
    venue_fills,
    venue_orders,
)

SYMBOL, SIM_SYMBOL = "BTC-BRL", "BTCBRL"
START = Decimal("350000")


def limit_buyer(**overrides: Any) -> dict[str, Any]:
    """A MANUAL bot whose buys rest at the best bid (limit orders, no offset)."""
    config: dict[str, Any] = {
        "symbol": SYMBOL,
        "mode": "MANUAL",
        "order_type": "limit",
        "order_amount": "200",
        "allocated_balance": "500",
    }
    config.update(overrides)
    return config


async def test_partial_fills_move_funds_a_part_at_a_time_and_a_cancel_releases_the_rest(
    partial_lab: BotLab,
) -> None:
    lab = partial_lab
    await lab.binance.set_price(SIM_SYMBOL, START)
    user = await lab.user()
    key = await lab.binance_key(user, BRL="1000")
    bot = await lab.start(user, Venue.BINANCE, limit_buyer())
    placed = await bot.command("buy", ManualOrder())
    [order] = await bot.orders()
    price, quantity = order.price, order.quantity
    assert order.status == "NEW" and price is not None and quantity is not None
    assert placed.funds.blocked == price * quantity

    await lab.binance.set_price(SIM_SYMBOL, price)  # a crossing move fills half
    half = await bot.until(lambda v: v.funds.position_quantity > 0)
    assert 0 < half.funds.blocked < placed.funds.blocked
    assert half.funds.free + half.funds.blocked + half.funds.invested == Decimal("500")

    async def recorded_partial() -> BotOrderRecord | None:
        # The sync tells the bot first and records second: the row may trail the view.
        [order] = await bot.orders()
        return order if order.status == "PARTIALLY_FILLED" else None

    order = await until(recorded_partial)
    assert 0 < order.filled_quantity < quantity

    await lab.binance.set_price(SIM_SYMBOL, price - 1)  # another move: half the rest
    more = await bot.until(lambda v: v.funds.position_quantity > half.funds.position_quantity)
    assert 0 < more.funds.blocked < half.funds.blocked

    stopped = await bot.command("stop")  # cancels what is still open
    assert stopped.status is BotStatus.STOPPED
    assert stopped.funds.blocked == 0
    [order] = await bot.orders()
    assert order.status == "CANCELED" and 0 < order.filled_quantity < quantity
    async with lab.sessions() as session:
        recorded = await BotStore(session).order_fills(user, order.client_order_id)
    async with lab.venue(bot, key) as venue:
        at_venue = await venue_orders(venue, SYMBOL)
        fills = await venue_fills(venue, SYMBOL, {o.order_id for o in at_venue.values()})
    assert len(fills) == 2 and {f.trade_id for f in fills} == {f.trade_id for f in recorded}
    assert at_venue[order.client_order_id].status is OrderStatus.CANCELED
    assert_funds_match(stopped.funds, Tally.of(fills, "BTC", "BRL"))


async def test_an_order_canceled_on_the_venue_is_noticed_and_its_funds_released(
    lab: BotLab,
) -> None:
    await lab.binance.set_price(SIM_SYMBOL, START)
    user = await lab.user()
    key = await lab.binance_key(user, BRL="1000")
    bot = await lab.start(user, Venue.BINANCE, limit_buyer(limit_offset_percent="1"))
    placed = await bot.command("buy", ManualOrder())
    assert placed.funds.blocked > 0 and placed.funds.free < Decimal("500")
    [order] = await bot.orders()
    async with lab.venue(bot, key) as venue:  # the user cancels it on Binance's own site
        canceled = await venue.cancel_order(SYMBOL, client_order_id=order.client_order_id)
    assert canceled.status is OrderStatus.CANCELED

    released = await bot.until(lambda v: v.funds.blocked == 0)
    assert released.funds.free == Decimal("500") and released.funds.invested == 0
    assert released.status is BotStatus.RUNNING

    async def recorded_canceled() -> BotOrderRecord | None:
        [order] = await bot.orders()  # recorded right after the bot is told
        return order if order.status == "CANCELED" else None

    await until(recorded_canceled)
