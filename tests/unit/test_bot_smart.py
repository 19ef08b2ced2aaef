"""A SmartBot's pure rules (domain/bots/smart.py): when its timer wakes it, what it publishes to
its feed, the orders it makes on the market's rules, and what the venue's answers do to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest

from domain.bots.config import SmartBotConfig
from domain.bots.funds import BotFunds
from domain.bots.orders import Strategy
from domain.bots.risk import Observation
from domain.bots.smart import (
    apply_order,
    bot_triggers,
    buy_blocker,
    buy_request,
    buy_rule,
    creation_context,
    held,
    is_dust,
    next_buy_time,
    sell_request,
    timer_due,
)
from domain.bots.state import BotStatus, PauseReason, SmartBotState
from domain.market import Fill, MarketRules, Order, OrderRequest, OrderStatus, OrderType, Side

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
RULES = MarketRules(
    symbol="BTC-BRL",
    price_tick=D("1"),
    lot_step=D("0.00001"),
    min_quantity=D("0.00001"),
    min_notional=D("10"),
)
SEEN = Observation(price=D(100_000), at=T0, bid=D(99_990), ask=D(100_010))


def config(**fields: Any) -> SmartBotConfig:
    base: dict[str, Any] = {
        "symbol": "BTC-BRL",
        "order_amount": "100",
        "allocated_balance": "300",
        "interval_seconds": 60,
    }
    return SmartBotConfig.model_validate({**base, **fields})


def state(**fields: Any) -> SmartBotState:
    cfg = fields.pop("config", None) or config()
    values: dict[str, Any] = {
        "config": cfg,
        "funds": BotFunds.allocate(cfg.symbol, cfg.allocated_balance),
        "rules": RULES,
        "next_buy_at": T0,
        **fields,
    }
    return SmartBotState(**values)


def order(request: OrderRequest, status: OrderStatus, filled: D = D(0)) -> Order:
    return Order(
        order_id="1",
        client_order_id=request.client_order_id,
        symbol=request.symbol,
        side=request.side,
        type=request.type,
        status=status,
        quantity=request.quantity or filled,
        filled_quantity=filled,
        created_at=T0,
        updated_at=T0,
    )


def fill(trade: str, side: Side, price: str, quantity: str, fee: str = "0") -> Fill:
    return Fill(
        trade_id=trade,
        order_id="1",
        symbol="BTC-BRL",
        side=side,
        price=D(price),
        quantity=D(quantity),
        fee=D(fee),
        fee_asset="BRL",
        at=T0,
    )


def bought(s: SmartBotState, quantity: str = "0.001", price: str = "100000") -> SmartBotState:
    """`s` after a market buy of `quantity` at `price` filled at once."""
    request = OrderRequest(
        client_order_id="b1", symbol="BTC-BRL", side=Side.BUY, type=OrderType.MARKET,
        quote_quantity=D(quantity) * D(price),
    )  # fmt: skip
    s = s.model_copy(update={"funds": s.funds.place(request)})
    done = order(request, OrderStatus.FILLED, D(quantity))
    return apply_order(s, "b1", done, [fill("t1", Side.BUY, price, quantity)], T0)


def sold(s: SmartBotState, price: str, cid: str = "s1") -> SmartBotState:
    quantity = s.funds.sellable_quantity
    request = OrderRequest(
        client_order_id=cid, symbol="BTC-BRL", side=Side.SELL, type=OrderType.MARKET,
        quantity=quantity,
    )  # fmt: skip
    s = s.model_copy(update={"funds": s.funds.place(request)})
    done = order(request, OrderStatus.FILLED, quantity)
    return apply_order(s, cid, done, [fill(f"t-{cid}", Side.SELL, price, str(quantity))], T0)


def test_next_buy_time_per_mode() -> None:
    assert next_buy_time(config(), T0) == T0 + timedelta(seconds=60)
    scheduled = config(mode="SCHEDULED", cron="0 9 * * *", timezone="America/Sao_Paulo")
    assert next_buy_time(scheduled, T0) == datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
    assert next_buy_time(config(mode="MANUAL"), T0) is None


@pytest.mark.parametrize(
    ("fields", "due"),
    [
        ({}, T0),  # the interval's buy
        ({"cooldown_until": T0 + timedelta(seconds=5)}, T0 + timedelta(seconds=5)),
        ({"status": BotStatus.PAUSED}, None),  # a paused bot has no timer
        ({"config": config(mode="MANUAL")}, None),
        ({"config": config(dip_percent="2"), "reference_price": D(100)}, None),  # the feed
        ({"next_buy_at": None}, None),
    ],
)
def test_timer_due(fields: dict[str, Any], due: datetime | None) -> None:
    assert timer_due(state(**fields)) == due


def test_no_timer_once_the_funds_are_spent() -> None:
    spent = state(config=config(allocated_balance="100"))
    assert timer_due(bought(spent)) is None  # idle: no workflow task until a trigger fires


def test_triggers_hold_the_dip_level_and_the_risk_levels() -> None:
    s = state(config=config(dip_percent="2"), reference_price=D(100_000))
    published = bot_triggers(s)
    assert published.buy is not None and published.buy.at_or_below == D(98_000)
    assert published.buy.not_before == T0
    assert published.fired(D(98_000), T0) and not published.fired(D(98_001), T0)
    held = bot_triggers(bought(s))
    assert held.risk.sell_at_or_above == D(103_000)  # take profit 3 % over the average
    assert held.fired(D(103_000), T0)
    assert bot_triggers(s.model_copy(update={"status": BotStatus.PAUSED})).empty


def test_buy_blockers() -> None:
    assert buy_blocker(state(), D(100), T0) is None
    assert "free" in (buy_blocker(state(), D(301), T0) or "")
    cooling = state(cooldown_until=T0 + timedelta(seconds=1))
    assert "cooling" in (buy_blocker(cooling, D(100), T0) or "")
    assert "paused" in (buy_blocker(state(status=BotStatus.PAUSED), D(100), T0) or "")


def test_market_buy_by_quote_and_limit_buy_on_the_rules() -> None:
    market = buy_request(state(), "c1", D(100), SEEN)
    assert isinstance(market, OrderRequest) and market.quote_quantity == D(100)
    assert buy_request(state(), "c1", D(5), SEEN) == ("5 is under the market's minimum order of 10")
    limit = state(config=config(order_type="limit", limit_offset_percent="1"))
    request = buy_request(limit, "c2", D(100), SEEN)
    assert isinstance(request, OrderRequest)
    # 1 % under the best bid, on the tick; quantity rounded down on the lot step.
    assert request.price == D(98_990) and request.quantity == D("0.00101")
    assert request.price * request.quantity <= D(100)


def test_sell_requests_round_down_and_refuse_dust() -> None:
    holding = bought(state(), quantity="0.0012345")
    request = sell_request(holding, "s", holding.funds.sellable_quantity, SEEN, market=True)
    assert isinstance(request, OrderRequest) and request.quantity == D("0.00123")
    dust = bought(state(), quantity="0.00001", price="100000")
    refusal = sell_request(dust, "s", D("0.00001"), SEEN, market=True)
    assert refusal == "0.00001 BTC is under the market's minimum notional"


def test_fills_move_funds_once_and_a_final_status_releases_the_rest() -> None:
    s = state()
    request = OrderRequest(
        client_order_id="b1", symbol="BTC-BRL", side=Side.BUY, type=OrderType.MARKET,
        quote_quantity=D(100),
    )  # fmt: skip
    s = s.model_copy(update={"funds": s.funds.place(request)})
    part = [fill("t1", Side.BUY, "100000", "0.0005", fee="0.05")]
    s = apply_order(s, "b1", order(request, OrderStatus.PARTIALLY_FILLED), part, T0)
    s = apply_order(s, "b1", order(request, OrderStatus.PARTIALLY_FILLED), part, T0)  # again
    assert s.funds.position_quantity == D("0.0005") and s.funds.blocked == D("49.95")
    s = apply_order(s, "b1", order(request, OrderStatus.CANCELED), part, T0)
    assert s.funds.blocked == 0 and s.funds.free == D("249.95")
    assert s.reference_price == D(100_000)
    assert not s.funds.violations()


def test_a_refused_order_releases_its_funds() -> None:
    s = state()
    request = OrderRequest(
        client_order_id="b1", symbol="BTC-BRL", side=Side.BUY, type=OrderType.MARKET,
        quote_quantity=D(100),
    )  # fmt: skip
    s = s.model_copy(update={"funds": s.funds.place(request)})
    s = apply_order(s, "b1", None, [], T0)
    assert s.funds.free == D(300) and s.funds.blocked == 0


def test_closing_sales_count_into_the_circuit_breaker_and_trip_it() -> None:
    breaker = {
        "circuit_breaker": {
            "preset": "custom",
            "max_consecutive_losses": 2,
            "max_daily_loss_percent": "50",
        }
    }
    s = state(config=config(risk=breaker, sell={"cooldown_seconds": 30}))
    s = sold(bought(s), "99000", "s1")  # a loss of 1
    assert s.risk.consecutive_losses == 1 and s.status is BotStatus.RUNNING
    assert s.cooldown_until == T0 + timedelta(seconds=30)
    s = sold(bought(s), "98000", "s2")
    assert s.status is BotStatus.PAUSED and s.pause_reason is PauseReason.CIRCUIT_BREAKER
    assert s.risk.tripped is not None and "2 losing trades" in (s.pause_detail or "")
    assert s.realized_at_last_trade == s.funds.realized_profit == D(-3)
    assert s.funds.orders == {}  # filled and reported: forgotten (the database keeps them)


def test_one_cycle_bot_stops_after_its_sale() -> None:
    s = sold(bought(state(config=config(sell={"stop_after_sell": True}))), "101000")
    assert s.status is BotStatus.STOPPED and s.risk.consecutive_losses == 0


def test_a_sale_leaving_only_dust_closes_the_trade_and_dust_is_no_position() -> None:
    """A venue charging the buy's fee in base leaves a remainder under the lot step after the
    whole sale: the trade is closed (cooldown, one-cycle stop) and nothing wakes the bot for
    it; a sellable remainder stays a position."""
    s = state(config=config(sell={"stop_after_sell": True}), last_price=D(100_000))
    s = bought(s, quantity="0.0012345")
    request = sell_request(s, "s1", s.funds.sellable_quantity, SEEN, market=True)
    assert isinstance(request, OrderRequest) and request.quantity == D("0.00123")
    s = s.model_copy(update={"funds": s.funds.place(request)})
    done = order(request, OrderStatus.FILLED, D("0.00123"))
    s = apply_order(s, "s1", done, [fill("t2", Side.SELL, "101000", "0.00123")], T0)
    assert s.funds.position_quantity == D("0.0000045")
    assert is_dust(s, s.funds.position_quantity) and held(s).quantity == 0
    assert s.status is BotStatus.STOPPED
    running = s.model_copy(update={"status": BotStatus.RUNNING})
    assert bot_triggers(running).risk == bot_triggers(state()).risk  # nothing to watch
    assert not is_dust(bought(state(last_price=D(100_000))), D("0.0002"))


def test_no_order_is_shaped_before_the_market_was_read() -> None:
    unread = state(rules=None)
    assert buy_request(unread, "c", D(100), SEEN) == "the market's rules are not known yet"
    assert sell_request(unread, "c", D(1), SEEN, market=True) == (
        "the market's rules are not known yet"
    )


def test_the_creation_context_says_why_and_what_the_bot_saw() -> None:
    s = state(config=config(dip_percent="2"))
    why = buy_rule(s.config, D(98_000))
    assert why == "buy 100 of the quote every 60s, at or under the dip level 98000"
    context = creation_context(s, SEEN, Strategy.SMART, "buy rule", why)
    assert context["source"] == "smart" and context["detail"] == why
    assert (context["best_bid"], context["best_ask"]) == ("99990", "100010")
    assert context["spread_percent"] == "0.0200"  # 20 over a mid of 100000
    assert context["parameters"]["dip_percent"] == "2"
    scheduled = config(mode="SCHEDULED", cron="0 9 * * *", timezone="America/Sao_Paulo")
    assert buy_rule(scheduled, None) == (
        "buy 100 of the quote at each fire of 0 9 * * * (America/Sao_Paulo)"
    )


def test_a_closed_trade_forgets_its_trailing_peak_and_soft_stop_window() -> None:
    s = bought(state(config=config(risk={"trailing_stop": {"enabled": True}})))
    followed = s.risk.model_copy(update={"peak_price": D(120_000), "soft_stop_since": T0})
    s = sold(s.model_copy(update={"risk": followed}), "110000")
    assert s.risk.peak_price is None and s.risk.soft_stop_since is None
    again = bought(s, price="100000")  # a manual buy: no look at the market in between
    assert bot_triggers(again).risk.trailing_peak != D(120_000)
