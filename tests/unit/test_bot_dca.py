"""A DCA bot's config, what it means to the engine, and the engine rules it relies on: the
average price of equal purchases, the cycle limit, and the stop after a loss."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from typing import Any

import pytest
from pydantic import ValidationError

from domain.bots.config import BotMode, BotOrderType
from domain.bots.dca import DcaBotConfig, DcaFrequency
from domain.bots.funds import BotFunds
from domain.bots.kinds import engine_config, parse_config
from domain.bots.smart import apply_order, buy_blocker, finished, timer_due
from domain.bots.state import BotKind, BotStatus, SmartBotState
from domain.market import Fill, Order, OrderRequest, OrderStatus, OrderType, Side

AT = datetime(2026, 12, 7, tzinfo=UTC)


def dca(**overrides: Any) -> DcaBotConfig:
    raw: dict[str, Any] = {
        "symbol": "BTC-BRL",
        "purchase_amount": "100",
        "frequency": "24h",
        "allocated_balance": "300",
    }
    return DcaBotConfig.model_validate({**raw, **overrides})


def refused(**overrides: Any) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        dca(**overrides)
    return [".".join(str(part) for part in error["loc"]) for error in caught.value.errors()]


@pytest.mark.parametrize(
    ("frequency", "seconds"),
    [("1h", 3_600), ("6h", 21_600), ("24h", 86_400), ("7d", 604_800), ("30d", 2_592_000), (5, 5)],
)
def test_a_named_frequency_or_any_seconds_is_the_engines_interval(
    frequency: str | int, seconds: int
) -> None:
    assert dca(frequency=frequency).engine().interval_seconds == seconds


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"frequency": "2h"}, "frequency"),
        ({"frequency": 0}, "frequency"),
        ({"frequency": True}, "frequency"),
        ({"frequency": "60"}, "frequency"),
        ({"allocated_balance": "99.99"}, "allocated_balance"),
        ({"purchase_amount": "0"}, "purchase_amount"),
        ({"take_profit_percent": "0"}, "take_profit_percent"),
        ({"stop_loss_percent": "100"}, "stop_loss_percent"),
        ({"max_cycles": 0}, "max_cycles"),
        ({"cycles": 3}, "cycles"),
        ({"symbol": "BTCBRL"}, "symbol"),
    ],
)
def test_each_bad_field_is_named(overrides: dict[str, Any], field: str) -> None:
    assert any(loc.startswith(field) for loc in refused(**overrides)), refused(**overrides)


def test_the_engine_buys_on_the_interval_and_exits_from_the_average_price_only() -> None:
    config = dca(take_profit_percent="8", stop_loss_percent="12", max_cycles=5).engine()
    assert (config.mode, config.order_type) == (BotMode.CONTINUOUS, BotOrderType.MARKET)
    assert (config.order_amount, config.allocated_balance) == (Decimal(100), Decimal(300))
    assert config.max_buys == 5 and config.dip_percent is None
    risk = config.risk
    assert risk.take_profit.enabled and risk.take_profit.percent == Decimal(8)
    assert risk.stop_loss.enabled and risk.stop_loss.hard_percent == Decimal(12)
    assert risk.stop_loss.soft_percent is None  # the stop sells at once, no confirmation
    assert not risk.trailing_stop.enabled and not risk.circuit_breaker.enabled
    assert config.sell.stop_after_sell and config.sell.stop_after_loss
    restarting = dca(auto_restart=True).engine()
    assert not restarting.sell.stop_after_sell and restarting.sell.stop_after_loss
    bare = dca().engine().risk
    assert not bare.take_profit.enabled and not bare.stop_loss.enabled


def test_the_kind_decides_the_config_model() -> None:
    raw = dca().model_dump(mode="json")
    assert parse_config(BotKind.DCA, raw) == dca()
    assert engine_config(parse_config(BotKind.DCA, raw)) == dca().engine()
    with pytest.raises(ValidationError):
        parse_config(BotKind.SMART, raw)


# -- the engine on a DCA plan ---------------------------------------------------------------------


def state(config: DcaBotConfig, **update: Any) -> SmartBotState:
    engine = config.engine()
    funds = BotFunds.allocate(engine.symbol, engine.allocated_balance)
    return SmartBotState(config=engine, dca=config, funds=funds).model_copy(update=update)


def bought(current: SmartBotState, cid: str, price: Decimal, quantity: Decimal) -> SmartBotState:
    """A market buy of the purchase amount, placed and filled at `price`."""
    request = OrderRequest(
        client_order_id=cid,
        symbol="BTC-BRL",
        side=Side.BUY,
        type=OrderType.MARKET,
        quote_quantity=Decimal(100),
    )
    current = current.model_copy(
        update={
            "funds": current.funds.place(request),
            "position_buys": current.position_buys + 1,
        }
    )
    fill = Fill(
        trade_id=cid,
        order_id=cid,
        symbol="BTC-BRL",
        side=Side.BUY,
        price=price,
        quantity=quantity,
        fee=Decimal(0),
        fee_asset="BRL",
        at=AT,
    )
    return apply_order(current, cid, _order(request, OrderStatus.FILLED, quantity), [fill], AT)


def _order(request: OrderRequest, status: OrderStatus, filled: Decimal) -> Order:
    return Order(
        order_id=request.client_order_id,
        client_order_id=request.client_order_id,
        symbol=request.symbol,
        side=request.side,
        type=request.type,
        status=status,
        quantity=filled,
        filled_quantity=filled,
        created_at=AT,
        updated_at=AT,
    )


def test_the_average_price_of_equal_purchases_is_weighted_by_quantity() -> None:
    """The issue's example: R$ 100 at 200,000, 210,000 and 190,000. R$ 100 buys less BTC at
    210,000 than at 190,000, so the average cost, what was paid over the BTC received, is
    199,666.39 (the harmonic mean of the prices): not their plain mean, 200,000, and not the
    issue's 199,333.33, which is the plain mean of 200,000, 208,000 and 190,000."""
    current = state(dca(max_cycles=3))
    paid, received = Fraction(0), Fraction(0)
    for cycle, price in enumerate((200_000, 210_000, 190_000), start=1):
        # What R$ 100 buys on Binance's BTC lot step (1e-8), never a satoshi more.
        quantity = (Decimal(100) / price).quantize(Decimal("1e-8"), rounding=ROUND_DOWN)
        current = bought(current, f"c{cycle}", Decimal(price), quantity)
        paid, received = paid + Fraction(quantity) * price, received + Fraction(quantity)
    assert current.position_buys == 3 and current.funds.position_quantity == Decimal("0.0015025")
    average = current.funds.average_price
    assert average is not None
    assert abs(Fraction(average) - paid / received) <= Fraction(1, 10**18)  # the cost quantum
    ideal = Fraction(300) / sum(Fraction(100, p) for p in (200_000, 210_000, 190_000))
    assert round(ideal, 2) == Fraction("199666.39")
    assert abs(Fraction(average) - ideal) < Fraction(1, 10)  # the lot step's rounding


def test_after_max_cycles_the_bot_buys_no_more_and_without_an_exit_it_is_finished() -> None:
    current = state(dca(max_cycles=2, allocated_balance="1000"), next_buy_at=AT)
    for cycle in (1, 2):
        assert buy_blocker(current, Decimal(100), AT) is None
        current = bought(current, f"c{cycle}", Decimal(200_000), Decimal("0.0005"))
    assert current.funds.free == Decimal(800)  # funds are left: the cycles stop it
    blocker = buy_blocker(current, Decimal(100), AT)
    assert blocker is not None and "2 buys" in blocker
    assert timer_due(current) is None  # no timer: nothing to buy, nothing to wake for
    assert finished(current)
    assert not finished(state(dca(max_cycles=2, take_profit_percent="5"), position_buys=2))


def sold(current: SmartBotState, price: Decimal) -> SmartBotState:
    quantity = current.funds.sellable_quantity
    request = OrderRequest(
        client_order_id="s", symbol="BTC-BRL", side=Side.SELL, type=OrderType.MARKET,
        quantity=quantity,
    )  # fmt: skip
    current = current.model_copy(update={"funds": current.funds.place(request)})
    fill = Fill(
        trade_id="s", order_id="s", symbol="BTC-BRL", side=Side.SELL, price=price,
        quantity=quantity, fee=Decimal(0), fee_asset="BRL", at=AT + timedelta(hours=1),
    )  # fmt: skip
    return apply_order(current, "s", _order(request, OrderStatus.FILLED, quantity), [fill], AT)


@pytest.mark.parametrize(
    ("auto_restart", "price", "status"),
    [
        (True, Decimal(210_000), BotStatus.RUNNING),  # a take profit: a new accumulation
        (True, Decimal(180_000), BotStatus.STOPPED),  # a stop loss ends it
        (False, Decimal(210_000), BotStatus.STOPPED),
        (False, Decimal(180_000), BotStatus.STOPPED),
    ],
)
def test_closing_the_position_restarts_only_after_a_gain_with_auto_restart(
    auto_restart: bool, price: Decimal, status: BotStatus
) -> None:
    config = dca(
        max_cycles=2, take_profit_percent="5", stop_loss_percent="10", auto_restart=auto_restart
    )
    current = state(config)
    for cycle in (1, 2):
        current = bought(current, f"c{cycle}", Decimal(200_000), Decimal("0.0005"))
    closed = sold(current, price)
    assert closed.status is status
    assert (closed.position_buys, closed.closed_positions) == (0, 1)  # the next accumulation
    assert closed.funds.position_quantity == 0


def test_a_smartbot_without_the_new_fields_behaves_as_before() -> None:
    """max_buys None and stop_after_loss False: buying continues and a losing close keeps it
    running, as in every history recorded before these fields."""
    engine = dca(auto_restart=True).engine().model_copy(
        update={"max_buys": None, "sell": dca().engine().sell.model_copy(
            update={"stop_after_sell": False, "stop_after_loss": False})}
    )  # fmt: skip
    funds = BotFunds.allocate("BTC-BRL", Decimal(300))
    current = SmartBotState(config=engine, funds=funds)
    for cycle in (1, 2, 3):
        current = bought(current, f"c{cycle}", Decimal(200_000), Decimal("0.0005"))
    assert current.position_buys == 3
    assert sold(current, Decimal(100_000)).status is BotStatus.RUNNING


def test_frequency_enum_names_the_five_rhythms() -> None:
    assert [f.value for f in DcaFrequency] == ["1h", "6h", "24h", "7d", "30d"]
