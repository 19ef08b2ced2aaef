"""A SmartBot's protections end to end: the emergency sell, and the circuit breaker that trips
after losing trades, tells the user, refuses to resume and resumes only by its reset."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from activities.bot_models import BotProjection, ManualOrder
from adapters.db.alerts import AlertRecord
from adapters.db.models import AuditEvent, MailOutbox, User
from adapters.db.models_bots import BotTradeRecord
from domain.accounts import AuditAction
from domain.bots.state import BotStatus, PauseReason
from domain.market import Venue
from tests.conftest import ActivityInputs
from tests.workflows.conftest import (
    BotLab,
    RunningBot,
    Tally,
    assert_funds_match,
    feed_has_read,
    until,
    venue_fills,
    venue_orders,
)

SYMBOL, SIM_SYMBOL = "BTC-BRL", "BTCBRL"
START = Decimal("350000")


def manual(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "symbol": SYMBOL,
        "mode": "MANUAL",
        "order_amount": "100",
        "allocated_balance": "500",
    }
    config.update(overrides)
    return config


async def refused(bot: RunningBot, command: str, arg: Any = None) -> str:
    """The command's refusal message (BotCommandRefused)."""
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await bot.command(command, arg)
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "BotCommandRefused", cause
    return cause.message


async def test_emergency_sell_cancels_open_orders_and_sells_the_whole_position(
    lab: BotLab,
) -> None:
    """Limit buys rest 2 % under the bid: the first fills when the price falls to it (the
    account sync reports it), the second still rests when the user pulls the plug."""
    await lab.binance.set_price(SIM_SYMBOL, START)
    user = await lab.user()
    key = await lab.binance_key(user, BRL="1000")
    bot = await lab.start(user, Venue.BINANCE, manual(order_type="limit", limit_offset_percent="2"))
    first = await bot.command("buy", ManualOrder())
    assert Decimal("99") < first.funds.blocked <= Decimal("100")
    [resting] = await bot.orders()
    assert resting.status == "NEW" and resting.price is not None
    await lab.binance.set_price(SIM_SYMBOL, resting.price)  # the venue fills it
    await bot.until(lambda v: v.funds.position_quantity > 0 and v.funds.blocked == 0)
    await bot.command("buy", ManualOrder())  # rests under the new, lower bid
    waiting = [o for o in await bot.orders() if o.status == "NEW"]
    assert len(waiting) == 1

    done = await bot.command("emergency_sell")
    assert done.funds.blocked == 0 and done.funds.blocked_quantity == 0
    assert done.funds.sellable_quantity < Decimal("0.00001")  # at most dust under the lot step
    assert done.last_decision is not None and done.last_decision.action == "sell"
    orders = {o.client_order_id: o for o in await bot.orders()}
    assert orders[waiting[0].client_order_id].status == "CANCELED"
    [sale] = [o for o in orders.values() if o.side == "sell"]
    assert (sale.status, sale.type, sale.strategy) == ("FILLED", "market", "manual")
    assert sale.creation_context["reason"] == "emergency"
    async with lab.venue(bot, key) as venue:
        at_venue = await venue_orders(venue, SYMBOL)
        assert await venue.open_orders(SYMBOL) == []
        fills = await venue_fills(venue, SYMBOL, {o.order_id for o in at_venue.values()})
    assert set(at_venue) == set(orders)
    assert_funds_match(done.funds, Tally.of(fills, "BTC", "BRL"))


async def _losing_trade(lab: BotLab, bot: RunningBot, price: Decimal) -> None:
    """Buy at `price`, sell after a 0.2 % fall (under every stop): a loss."""
    await lab.binance.set_price(SIM_SYMBOL, price)
    await bot.command("buy", ManualOrder())
    await lab.binance.set_price(SIM_SYMBOL, (price * Decimal("0.998")).quantize(Decimal("0.01")))
    await bot.command("sell", ManualOrder())


async def test_circuit_breaker_trips_after_losing_trades_and_only_a_reset_resumes(
    lab: BotLab,
) -> None:
    user = await lab.user()
    await lab.binance_key(user, BRL="1000")
    breaker = {"preset": "custom", "max_consecutive_losses": 2, "max_daily_loss_percent": "50"}
    bot = await lab.start(user, Venue.BINANCE, manual(risk={"circuit_breaker": breaker}))

    await _losing_trade(lab, bot, START)
    one = await bot.view()
    assert one.risk.consecutive_losses == 1 and one.status is BotStatus.RUNNING
    await _losing_trade(lab, bot, START - 1000)
    tripped = await bot.until(lambda v: v.status is BotStatus.PAUSED)
    assert tripped.pause_reason is PauseReason.CIRCUIT_BREAKER
    assert tripped.risk.tripped is not None and "2" in (tripped.pause_detail or "")
    assert tripped.triggers.empty  # a paused bot has nothing for its feed to watch

    async def notified() -> tuple[AuditEvent, MailOutbox] | None:
        async with lab.sessions() as session:
            audit = await session.scalar(
                select(AuditEvent).where(
                    AuditEvent.user_id == user, AuditEvent.action == AuditAction.BOT_NOTICE
                )
            )
            email = await session.scalar(select(User.email).where(User.id == user))
            mail = await session.scalar(select(MailOutbox).where(MailOutbox.to == email))
        return (audit, mail) if audit is not None and mail is not None else None

    audit, mail = await until(notified)
    assert audit.details["kind"] == "circuit_breaker_tripped"
    assert audit.details["bot_id"] == str(bot.ref.bot_id)
    assert "circuit breaker" in mail.subject
    async with lab.sessions() as session:  # written with the audit row, for the dashboard
        [alert] = await session.scalars(select(AlertRecord).where(AlertRecord.user_id == user))
    assert (alert.kind, alert.bot_id, alert.read_at) == (
        "circuit_breaker_tripped",
        bot.ref.bot_id,
        None,
    )
    assert alert.message == tripped.pause_detail

    async def closed_trades() -> list[BotTradeRecord] | None:
        async with lab.sessions() as session:  # each closed position, for the dashboard
            rows = await session.scalars(
                select(BotTradeRecord)
                .where(BotTradeRecord.bot_id == bot.ref.bot_id)
                .order_by(BotTradeRecord.number)
            )
            found = list(rows)
        return found if len(found) >= 2 else None

    trades = await until(closed_trades)
    assert [(t.number, t.strategy, t.won, t.quote) for t in trades] == [
        (1, "manual", -1, "BRL"),
        (2, "manual", -1, "BRL"),
    ]
    assert sum(t.profit for t in trades) == tripped.funds.realized_profit
    assert all(t.opened_at is not None and t.opened_at <= t.closed_at for t in trades)

    assert "reset" in await refused(bot, "resume")
    assert "circuit breaker" in await refused(bot, "buy", ManualOrder())
    assert len(await bot.orders()) == 4

    reset = await bot.command("reset_circuit_breaker")
    assert reset.status is BotStatus.RUNNING and reset.pause_reason is None
    assert reset.risk.tripped is None and reset.risk.consecutive_losses == 0
    again = await bot.command("buy", ManualOrder())
    assert again.funds.invested > 0 and len(await bot.orders()) == 5


def projected(inputs: ActivityInputs, bot: RunningBot, reason: str) -> bool:
    """Whether one of the bot's projections carried a last decision for `reason`."""
    return any(
        projection.bot.bot_id == bot.ref.bot_id
        and projection.last_decision is not None
        and projection.last_decision.reason == reason
        for name, (projection, *_) in inputs.calls
        if name == "bot_project" and isinstance(projection, BotProjection)
    )


async def test_a_resting_buy_that_drifted_from_the_market_is_canceled(lab: BotLab) -> None:
    """Nothing but the feed wakes a MANUAL bot: the price leaving the orders' band does."""
    await lab.binance.set_price(SIM_SYMBOL, START)
    user = await lab.user()
    await lab.binance_key(user, BRL="1000")
    bot = await lab.start(user, Venue.BINANCE, manual(order_type="limit"))
    placed = await bot.command("buy", ManualOrder())
    assert placed.funds.blocked > 0 and placed.triggers.risk.orders_band_high is not None
    await lab.binance.set_price(SIM_SYMBOL, START * Decimal("1.06"))  # 6 % over its bid
    released = await bot.until(lambda v: v.funds.blocked == 0)
    assert released.funds.free == Decimal(500)
    assert released.last_decision is not None and released.last_decision.action == "cancel"
    [order] = await bot.orders()
    assert order.status == "CANCELED"


async def test_a_price_jump_is_refused_and_recorded_and_the_next_look_sells(
    lab: BotLab, activity_inputs: ActivityInputs
) -> None:
    await lab.binance.set_price(SIM_SYMBOL, START)
    user = await lab.user()
    await lab.binance_key(user, BRL="1000")
    bot = await lab.start(user, Venue.BINANCE, manual())
    await bot.command("buy", ManualOrder())
    # The sanity check compares with the bot's previous look at the market: a fall under its
    # soft stop wakes it (the window starts, nothing sold), then a jump of 17 %.
    await lab.binance.set_price(SIM_SYMBOL, START * Decimal("0.94"))
    await bot.until(lambda v: v.risk.soft_stop_since is not None)
    await lab.binance.set_price(SIM_SYMBOL, START * Decimal("1.10"))
    sold = await bot.until(lambda v: v.funds.proceeds > 0)
    assert sold.last_decision is not None and sold.last_decision.reason == "take_profit"
    assert projected(activity_inputs, bot, "price_jump")  # the refusal came first
    orders = await bot.orders()
    assert [o.side for o in orders] == ["buy", "sell"]


async def test_a_soft_stop_sells_once_its_confirmation_window_has_held(lab: BotLab) -> None:
    await lab.binance.set_price(SIM_SYMBOL, START)
    user = await lab.user()
    await lab.binance_key(user, BRL="1000")
    stop = {"soft_percent": "5", "hard_percent": "20", "confirmation_seconds": 2}
    bot = await lab.start(user, Venue.BINANCE, manual(risk={"stop_loss": stop}))
    await bot.command("buy", ManualOrder())
    await lab.binance.set_price(SIM_SYMBOL, START * Decimal("0.94"))  # under the soft stop
    holding = await bot.until(lambda v: v.risk.soft_stop_since is not None)
    assert holding.funds.proceeds == 0  # the window holds first
    sold = await bot.until(lambda v: v.funds.proceeds > 0)
    assert sold.last_decision is not None and sold.last_decision.reason == "stop_loss_soft"
    assert sold.risk.consecutive_losses == 1


async def test_a_trailing_stop_follows_the_peak_the_feed_saw_and_sells_on_the_pullback(
    lab: BotLab,
) -> None:
    await lab.binance.set_price(SIM_SYMBOL, START)
    user = await lab.user()
    await lab.binance_key(user, BRL="1000")
    risk = {
        "take_profit": {"enabled": False},
        "trailing_stop": {"enabled": True, "activation_percent": "1", "trail_percent": "0.5"},
    }
    bot = await lab.start(user, Venue.BINANCE, manual(risk=risk))
    await bot.command("buy", ManualOrder())
    # The feed follows the peak itself (the bot sleeps) and wakes it on the pullback.
    for rise in ("1.02", "1.025"):  # armed at 1 %, then a new peak: no sale
        await lab.binance.set_price(SIM_SYMBOL, START * Decimal(rise))
        await feed_has_read(lab.binance)
    assert (await bot.view()).funds.proceeds == 0
    await lab.binance.set_price(SIM_SYMBOL, START * Decimal("1.015"))  # 1 % under the peak
    sold = await bot.until(lambda v: v.funds.proceeds > 0)
    assert sold.last_decision is not None and sold.last_decision.reason == "trailing_stop"
    assert sold.funds.realized_profit > 0
    assert sold.risk.peak_price is None  # the position is closed: no peak to follow
    [_, sale] = await bot.orders()
    assert Decimal(sale.creation_context["best_bid"]) < START * Decimal("1.02")


async def test_the_user_is_warned_once_as_the_price_nears_the_take_profit_or_the_stop(
    lab: BotLab,
) -> None:
    """Take profit 10 % and soft stop 5 % over and under the average cost: the feed wakes the
    bot 80 % of the way to either, and the user hears of each once per position."""
    await lab.binance.set_price(SIM_SYMBOL, START)
    user = await lab.user()
    await lab.binance_key(user, BRL="1000")
    bot = await lab.start(user, Venue.BINANCE, manual(risk={"take_profit": {"percent": "10"}}))
    held = await bot.command("buy", ManualOrder())
    warn = held.triggers.warn
    assert warn is not None and warn.at_or_above is not None and warn.at_or_below is not None
    average = held.funds.average_price
    assert average is not None
    assert warn.at_or_above == average + average * Decimal("0.10") * Decimal("0.8")

    async def alerts(count: int) -> list[AlertRecord] | None:
        async with lab.sessions() as session:
            rows = await session.scalars(
                select(AlertRecord).where(AlertRecord.user_id == user).order_by(AlertRecord.at)
            )
            found = list(rows)
        return found if len(found) >= count else None

    await lab.binance.set_price(SIM_SYMBOL, START * Decimal("1.085"))
    [near_profit] = await until(lambda: alerts(1))
    assert near_profit.kind == "take_profit_near" and "take profit" in near_profit.message
    warned = await bot.until(lambda v: v.risk.warned == frozenset({"take_profit_near"}))
    assert warned.triggers.warn is not None and warned.triggers.warn.at_or_above is None
    assert warned.funds.proceeds == 0  # a warning, not a sale

    await lab.binance.set_price(SIM_SYMBOL, START)  # no jump the sanity check would refuse
    await feed_has_read(lab.binance)
    await lab.binance.set_price(SIM_SYMBOL, START * Decimal("0.955"))
    _, near_stop = await until(lambda: alerts(2))
    assert near_stop.kind == "stop_loss_near" and "stop loss" in near_stop.message
    await bot.until(lambda v: v.triggers.warn is None)  # both given: nothing left to watch

    await lab.binance.set_price(SIM_SYMBOL, START * Decimal("1.09"))
    await feed_has_read(lab.binance)  # the feed saw it: nothing woke the bot to warn
    closed = await bot.command("sell", ManualOrder())
    assert closed.risk.warned == frozenset()  # the next position is warned afresh
    assert [a.kind for a in await until(lambda: alerts(2)) or []] == [
        "take_profit_near",
        "stop_loss_near",
    ]
