"""The matching engine: fills, partial fills, fees, slippage, locks, refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.market import Balance, MarketRules, OrderRequest, OrderStatus, OrderType, Side
from domain.matching import (
    DuplicateClientOrderId,
    FeeAsset,
    Fees,
    InsufficientFunds,
    InvalidRequest,
    MatchingEngine,
    NoPrice,
    OrderNotOpen,
    RuleViolation,
    UnknownMarket,
    UnknownOrder,
    WouldTake,
    WouldTrigger,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
D = Decimal


def limit(cid: str, side: Side, quantity: str, price: str, symbol: str = "BTC-BRL") -> OrderRequest:
    return OrderRequest(
        client_order_id=cid,
        symbol=symbol,
        side=side,
        type=OrderType.LIMIT,
        quantity=D(quantity),
        price=D(price),
    )


def market(
    cid: str,
    side: Side,
    quantity: str | None = None,
    quote: str | None = None,
    symbol: str = "BTC-BRL",
) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid,
        symbol=symbol,
        side=side,
        type=OrderType.MARKET,
        quantity=D(quantity) if quantity else None,
        quote_quantity=D(quote) if quote else None,
    )


def balance(engine: MatchingEngine, account: str, asset: str) -> Balance:
    return next(b for b in engine.balances(account) if b.asset == asset)


def test_market_buy_fills_with_slippage_up_and_taker_fee_in_base(
    engine_matcher: MatchingEngine,
) -> None:
    engine_matcher.deposit("a", "BRL", D(10_000))
    engine_matcher.set_price("BTC-BRL", D("300000"), T0)
    order = engine_matcher.place("a", market("m1", Side.BUY, quantity="0.01"), T0)
    assert order.status is OrderStatus.FILLED
    assert order.average_price == D("300300")  # 0.1% slippage, buys up
    assert order.quote_quantity == D("3003")
    assert order.fees == {"BTC": D("0.00007")}  # 0.7% of 0.01 BTC
    assert balance(engine_matcher, "a", "BRL") == Balance(asset="BRL", free=D("6997"), locked=D(0))
    assert balance(engine_matcher, "a", "BTC").free == D("0.00993")
    [fill] = engine_matcher.fills("a", "BTC-BRL")
    assert (fill.price, fill.quantity, fill.fee) == (D("300300"), D("0.01"), D("0.00007"))


def test_market_sell_fills_with_slippage_down_and_fee_in_quote(
    engine_matcher: MatchingEngine,
) -> None:
    engine_matcher.deposit("a", "BTC", D("0.1"))
    engine_matcher.set_price("BTC-BRL", D("300000"), T0)
    order = engine_matcher.place("a", market("m1", Side.SELL, quantity="0.1"), T0)
    assert order.average_price == D("299700")
    assert order.fees == {"BRL": D("29970") * D("0.007")}
    assert balance(engine_matcher, "a", "BRL").free == D("29970") - D("209.79")
    assert balance(engine_matcher, "a", "BTC") == Balance(asset="BTC", free=D(0), locked=D(0))


def test_market_buy_by_quote_quantity_buys_whole_lots_within_budget(
    engine_matcher: MatchingEngine,
) -> None:
    engine_matcher.deposit("a", "BRL", D(1000))
    engine_matcher.set_price("BTC-BRL", D("300000"), T0)
    order = engine_matcher.place("a", market("m1", Side.BUY, quote="1000"), T0)
    # 1000 / 300300 = 0.003330003.. -> 0.00333 BTC (lot 0.00001) for 999.999 BRL
    assert order.quantity == order.filled_quantity == D("0.00333")
    assert order.quote_quantity == D("999.999")
    assert balance(engine_matcher, "a", "BRL").free == D("0.001")


def test_limit_buy_rests_locking_quote_then_fills_as_maker_when_crossed(
    engine_matcher: MatchingEngine,
) -> None:
    engine_matcher.deposit("a", "BRL", D(10_000))
    engine_matcher.set_price("BTC-BRL", D("300000"), T0)
    order = engine_matcher.place("a", limit("l1", Side.BUY, "0.02", "290000"), T0)
    assert order.status is OrderStatus.NEW
    assert balance(engine_matcher, "a", "BRL") == Balance(asset="BRL", free=D(4200), locked=D(5800))
    assert engine_matcher.set_price("BTC-BRL", D("290000.01"), T0) == []  # not crossed yet
    fills = engine_matcher.set_price("BTC-BRL", D("289000"), T0 + timedelta(seconds=1))
    assert [(f.price, f.quantity, f.fee) for f in fills] == [(D(290000), D("0.02"), D("0.00006"))]
    done = engine_matcher.get("a", "BTC-BRL", order_id=order.order_id)
    assert done.status is OrderStatus.FILLED and done.updated_at == T0 + timedelta(seconds=1)
    assert balance(engine_matcher, "a", "BRL") == Balance(asset="BRL", free=D(4200), locked=D(0))
    assert balance(engine_matcher, "a", "BTC").free == D("0.01994")
    assert engine_matcher.open_orders("a") == []


def test_limit_sell_fills_partially_per_crossing_update() -> None:
    rules = MarketRules(
        symbol="ETH-BTC", price_tick=D("0.000001"), lot_step=D("0.001"), min_quantity=D("0.001")
    )
    engine = MatchingEngine([rules], Fees(maker=D(0), taker=D(0)), partial_fill_ratio=D("0.5"))
    engine.deposit("a", "ETH", D(1))
    engine.set_price("ETH-BTC", D("0.05"), T0)
    order = engine.place("a", limit("s1", Side.SELL, "1", "0.06", "ETH-BTC"), T0)
    quantities = []
    for _ in range(12):
        quantities += [f.quantity for f in engine.set_price("ETH-BTC", D("0.061"), T0)]
    assert quantities[:3] == [D("0.5"), D("0.25"), D("0.125")]
    assert sum(quantities) == D(1) and min(quantities) == D("0.001")
    state = engine.get("a", "ETH-BTC", order_id=order.order_id)
    assert state.status is OrderStatus.FILLED and state.quote_quantity == D("0.06")
    assert balance(engine, "a", "ETH") == Balance(asset="ETH", free=D(0), locked=D(0))


def test_partially_filled_order_cancel_releases_only_the_rest() -> None:
    rules = MarketRules(
        symbol="ETH-BTC", price_tick=D("0.000001"), lot_step=D("0.001"), min_quantity=D("0.001")
    )
    engine = MatchingEngine([rules], Fees(maker=D(0), taker=D(0)), partial_fill_ratio=D("0.5"))
    engine.deposit("a", "BTC", D(1))
    engine.set_price("ETH-BTC", D("0.05"), T0)
    engine.place("a", limit("b1", Side.BUY, "2", "0.04", "ETH-BTC"), T0)
    engine.set_price("ETH-BTC", D("0.039"), T0)
    canceled = engine.cancel("a", "ETH-BTC", client_order_id="b1", at=T0)
    assert canceled.status is OrderStatus.CANCELED and canceled.filled_quantity == D(1)
    assert balance(engine, "a", "BTC") == Balance(asset="BTC", free=D("0.96"), locked=D(0))
    assert balance(engine, "a", "ETH").free == D(1)


def test_marketable_limit_fills_at_once_as_taker_never_above_its_limit(
    engine_matcher: MatchingEngine,
) -> None:
    engine_matcher.deposit("a", "BRL", D(10_000))
    engine_matcher.set_price("BTC-BRL", D("300000"), T0)
    order = engine_matcher.place("a", limit("l1", Side.BUY, "0.01", "300100"), T0)
    assert order.status is OrderStatus.FILLED
    assert order.average_price == D("300100")  # slippage would be 300300: capped at the limit
    assert order.fees == {"BTC": D("0.01") * D("0.007")}  # taker
    cheap = engine_matcher.place("a", limit("l2", Side.BUY, "0.01", "310000"), T0)
    assert cheap.average_price == D("300300")
    assert balance(engine_matcher, "a", "BRL") == Balance(
        asset="BRL", free=D(10_000) - D(3001) - D(3003), locked=D(0)
    )


def test_cancel_of_a_filled_order_is_refused(engine_matcher: MatchingEngine) -> None:
    engine_matcher.deposit("a", "BRL", D(10_000))
    engine_matcher.set_price("BTC-BRL", D("300000"), T0)
    order = engine_matcher.place("a", market("m1", Side.BUY, quantity="0.01"), T0)
    with pytest.raises(OrderNotOpen):
        engine_matcher.cancel("a", "BTC-BRL", order_id=order.order_id, at=T0)


def test_insufficient_funds_refuses_without_locking(engine_matcher: MatchingEngine) -> None:
    engine_matcher.deposit("a", "BRL", D(100))
    engine_matcher.set_price("BTC-BRL", D("300000"), T0)
    with pytest.raises(InsufficientFunds):
        engine_matcher.place("a", limit("l1", Side.BUY, "0.001", "200000"), T0)
    with pytest.raises(InsufficientFunds):
        engine_matcher.place("a", market("m1", Side.SELL, quantity="0.001"), T0)
    assert engine_matcher.balances("a") == [Balance(asset="BRL", free=D(100), locked=D(0))]
    assert engine_matcher.orders("a", "BTC-BRL") == []


def test_duplicate_client_id_is_refused_while_open_and_reusable_after(
    engine_matcher: MatchingEngine,
) -> None:
    engine_matcher.deposit("a", "BRL", D(10_000))
    engine_matcher.set_price("BTC-BRL", D("300000"), T0)
    first = engine_matcher.place("a", limit("same", Side.BUY, "0.001", "200000"), T0)
    with pytest.raises(DuplicateClientOrderId):
        engine_matcher.place("a", limit("same", Side.BUY, "0.001", "200000"), T0)
    engine_matcher.cancel("a", "BTC-BRL", client_order_id="same", at=T0)
    second = engine_matcher.place("a", limit("same", Side.BUY, "0.001", "200000"), T0)
    assert second.order_id != first.order_id
    assert engine_matcher.get("a", "BTC-BRL", client_order_id="same").order_id == second.order_id


def test_same_client_id_in_another_account_is_independent(engine_matcher: MatchingEngine) -> None:
    for account in ("a", "b"):
        engine_matcher.deposit(account, "BRL", D(1000))
    engine_matcher.place("a", limit("same", Side.BUY, "0.001", "200000"), T0)
    engine_matcher.place("b", limit("same", Side.BUY, "0.001", "200000"), T0)
    assert len(engine_matcher.open_orders("a")) == len(engine_matcher.open_orders("b")) == 1
    with pytest.raises(UnknownOrder):
        engine_matcher.get("b", "BTC-BRL", order_id="1")  # order 1 is a's


def test_tiny_satoshi_prices_settle_exactly(engine_matcher: MatchingEngine) -> None:
    engine_matcher.deposit("a", "BTC", D("0.01"))
    engine_matcher.set_price("TRX-BTC", D("0.00000123"), T0)
    order = engine_matcher.place("a", market("t1", Side.BUY, quantity="1000", symbol="TRX-BTC"), T0)
    # 0.00000123 * 1.001 = 0.00000123123 -> rounded up onto the tick: 0.00000124
    assert order.average_price == D("0.00000124")
    assert order.quote_quantity == D("0.00124")
    assert balance(engine_matcher, "a", "BTC").free == D("0.00876")
    assert balance(engine_matcher, "a", "TRX").free == D("993")
    resting = engine_matcher.place("a", limit("t2", Side.SELL, "993", "0.00000125", "TRX-BTC"), T0)
    assert resting.status is OrderStatus.NEW
    [fill] = engine_matcher.set_price("TRX-BTC", D("0.00000126"), T0)
    assert fill.price == D("0.00000125") and fill.fee == D("0.00124125") * D("0.003")
    assert balance(engine_matcher, "a", "BTC").free == D("0.00876") + D("0.00124125") * D("0.997")


def test_sell_price_never_slips_to_zero_on_a_one_tick_market(
    engine_matcher: MatchingEngine,
) -> None:
    engine_matcher.deposit("a", "TRX", D(100_000))
    engine_matcher.set_price("TRX-BTC", D("0.00000001"), T0)
    order = engine_matcher.place(
        "a", market("t1", Side.SELL, quantity="100000", symbol="TRX-BTC"), T0
    )
    assert order.average_price == D("0.00000001")


@pytest.mark.parametrize(
    ("request_", "rule"),
    [
        (limit("r1", Side.BUY, "0.001", "200000.001"), "price_tick"),
        (limit("r2", Side.BUY, "0.000015", "200000"), "lot_step"),
        (limit("r3", Side.BUY, "0.00001", "200000"), "notional"),  # 2 BRL < 10
        (limit("r4", Side.BUY, "0", "200000"), "quantity_range"),
        (market("r5", Side.BUY, quote="1"), "quantity_range"),  # buys 0 lots
    ],
)
def test_rule_violations_name_the_rule(
    engine_matcher: MatchingEngine, request_: OrderRequest, rule: str
) -> None:
    engine_matcher.deposit("a", "BRL", D(10_000))
    engine_matcher.set_price("BTC-BRL", D("300000"), T0)
    with pytest.raises(RuleViolation) as refused:
        engine_matcher.place("a", request_, T0)
    assert refused.value.rule == rule
    assert balance(engine_matcher, "a", "BRL").locked == 0


def test_malformed_requests_are_refused(engine_matcher: MatchingEngine) -> None:
    engine_matcher.set_price("BTC-BRL", D("300000"), T0)
    both = market("x", Side.BUY, quantity="0.01").model_copy(update={"quote_quantity": D(1)})
    no_price = limit("y", Side.BUY, "0.01", "1").model_copy(update={"price": None})
    for request in (both, no_price):
        with pytest.raises(InvalidRequest):
            engine_matcher.place("a", request, T0)
    with pytest.raises(InvalidRequest):
        engine_matcher.get("a", "BTC-BRL")


def test_unknown_market_order_and_missing_price_are_refused(engine_matcher: MatchingEngine) -> None:
    with pytest.raises(UnknownMarket):
        engine_matcher.set_price("DOGE-BRL", D(1), T0)
    with pytest.raises(UnknownMarket):
        engine_matcher.place("a", limit("u", Side.BUY, "1", "1", "nonsense"), T0)
    with pytest.raises(NoPrice):
        engine_matcher.place("a", market("m", Side.BUY, quantity="0.01"), T0)
    with pytest.raises(UnknownOrder):
        engine_matcher.cancel("a", "BTC-BRL", order_id="42", at=T0)


def test_order_ids_are_sequential_and_lists_oldest_first(engine_matcher: MatchingEngine) -> None:
    engine_matcher.deposit("a", "BRL", D(10_000))
    engine_matcher.set_price("BTC-BRL", D("300000"), T0)
    ids = [
        engine_matcher.place("a", market(f"m{i}", Side.BUY, "0.001"), T0).order_id for i in range(3)
    ]
    assert ids == ["1", "2", "3"]
    assert [o.order_id for o in engine_matcher.orders("a", "btc-brl")] == ids
    assert [f.trade_id for f in engine_matcher.fills("a", "BTC-BRL")] == ["1", "2", "3"]


def test_tiny_market_sell_slips_down_onto_the_tick(engine_matcher: MatchingEngine) -> None:
    engine_matcher.deposit("a", "TRX", D(1000))
    engine_matcher.set_price("TRX-BTC", D("0.00000123"), T0)
    order = engine_matcher.place(
        "a", market("t1", Side.SELL, quantity="1000", symbol="TRX-BTC"), T0
    )
    # 0.00000123 * 0.999 = 0.00000122877 -> down onto the tick: 0.00000122
    assert order.average_price == D("0.00000122")
    assert balance(engine_matcher, "a", "BTC").free == D("0.00122") * D("0.993")


def typed(
    cid: str, kind: OrderType, side: Side, quantity: str, price: str, stop: str | None = None
) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid,
        symbol="BTC-BRL",
        side=side,
        type=kind,
        quantity=D(quantity),
        price=D(price),
        stop_price=D(stop) if stop else None,
    )


def test_limit_maker_is_refused_when_it_would_take_and_else_fills_as_maker(
    engine_matcher: MatchingEngine,
) -> None:
    engine_matcher.deposit("a", "BRL", D(10_000))
    engine_matcher.set_price("BTC-BRL", D("300000"), T0)
    with pytest.raises(WouldTake):
        engine_matcher.place(
            "a", typed("p1", OrderType.LIMIT_MAKER, Side.BUY, "0.01", "300000"), T0
        )
    assert balance(engine_matcher, "a", "BRL").locked == 0
    order = engine_matcher.place(
        "a", typed("p2", OrderType.LIMIT_MAKER, Side.BUY, "0.01", "299999"), T0
    )
    assert (order.type, order.status) == (OrderType.LIMIT_MAKER, OrderStatus.NEW)
    assert balance(engine_matcher, "a", "BRL").locked == D("2999.99")
    [fill] = engine_matcher.set_price("BTC-BRL", D("299000"), T0)
    assert (fill.price, fill.fee, fill.fee_asset) == (D("299999"), D("0.00003"), "BTC")  # maker


def test_stop_loss_sell_waits_locked_then_takes_when_the_price_falls_to_its_stop(
    engine_matcher: MatchingEngine,
) -> None:
    engine_matcher.deposit("a", "BTC", D("0.01"))
    engine_matcher.set_price("BTC-BRL", D("300000"), T0)
    stop = typed("s1", OrderType.STOP_LOSS_LIMIT, Side.SELL, "0.01", "289000", "290000")
    order = engine_matcher.place("a", stop, T0)
    assert (order.status, order.stop_price) == (OrderStatus.NEW, D("290000"))
    assert engine_matcher.working_since("a", "BTC-BRL", order.order_id) is None
    assert balance(engine_matcher, "a", "BTC") == Balance(asset="BTC", free=D(0), locked=D("0.01"))
    assert engine_matcher.set_price("BTC-BRL", D("290001"), T0) == []
    later = T0 + timedelta(minutes=1)
    [fill] = engine_matcher.set_price("BTC-BRL", D("290000"), later)
    # Triggered, then a marketable limit: a taker at 290000 - 0.1% slippage, above its limit.
    assert (fill.price, fill.fee) == (D("289710"), D("2897.10") * D("0.007"))
    assert engine_matcher.working_since("a", "BTC-BRL", order.order_id) == later
    done = engine_matcher.get("a", "BTC-BRL", order_id=order.order_id)
    assert done.status is OrderStatus.FILLED


def test_stop_loss_buy_triggered_above_its_limit_rests_then_fills_as_maker(
    engine_matcher: MatchingEngine,
) -> None:
    engine_matcher.deposit("a", "BRL", D(10_000))
    engine_matcher.set_price("BTC-BRL", D("300000"), T0)
    stop = typed("s1", OrderType.STOP_LOSS_LIMIT, Side.BUY, "0.01", "305000", "310000")
    order = engine_matcher.place("a", stop, T0)
    assert engine_matcher.set_price("BTC-BRL", D("311000"), T0) == []
    assert engine_matcher.working_since("a", "BTC-BRL", order.order_id) == T0
    assert engine_matcher.get("a", "BTC-BRL", order_id=order.order_id).status is OrderStatus.NEW
    [fill] = engine_matcher.set_price("BTC-BRL", D("304000"), T0)
    assert (fill.price, fill.fee) == (D("305000"), D("0.00003"))  # at its limit, maker fee


def test_a_stop_already_reached_is_refused_and_a_waiting_stop_cancels(
    engine_matcher: MatchingEngine,
) -> None:
    engine_matcher.deposit("a", "BTC", D("0.01"))
    engine_matcher.set_price("BTC-BRL", D("300000"), T0)
    for side, stop in ((Side.SELL, "300000"), (Side.BUY, "299000")):
        request = typed("s", OrderType.STOP_LOSS_LIMIT, side, "0.01", "300000", stop)
        with pytest.raises(WouldTrigger):
            engine_matcher.place("a", request, T0)
    waiting = engine_matcher.place(
        "a", typed("s2", OrderType.STOP_LOSS_LIMIT, Side.SELL, "0.01", "280000", "290000"), T0
    )
    engine_matcher.cancel("a", "BTC-BRL", order_id=waiting.order_id, at=T0)
    assert engine_matcher.set_price("BTC-BRL", D("280000"), T0) == []  # never triggers again
    assert balance(engine_matcher, "a", "BTC") == Balance(asset="BTC", free=D("0.01"), locked=D(0))


@pytest.fixture
def bnb_engine(engine_rules: MarketRules) -> MatchingEngine:
    bnb = MarketRules(
        symbol="BNB-BRL", price_tick=D("0.1"), lot_step=D("0.001"), min_quantity=D("0.001")
    )
    engine = MatchingEngine(
        [engine_rules, bnb],
        Fees(maker=D("0.003"), taker=D("0.007")),
        slippage=D("0.001"),
        partial_fill_ratio=D("0.5"),
    )
    engine.set_price("BNB-BRL", D(3000), T0)
    engine.set_price("BTC-BRL", D(300000), T0)
    engine.pay_fees_in("a", FeeAsset("BNB", D("0.25")))
    return engine


def test_fees_are_paid_in_bnb_discounted_while_the_account_holds_enough(
    bnb_engine: MatchingEngine,
) -> None:
    bnb_engine.deposit("a", "BRL", D(10_000))
    bnb_engine.deposit("a", "BNB", D("0.01"))
    order = bnb_engine.place("a", market("m1", Side.BUY, quantity="0.01"), T0)
    # 0.00007 BTC of fee is worth 21.021 BRL at the 300300 fill: 0.007007 BNB, less 25%.
    assert order.fees == {"BNB": D("0.00525525")}
    assert balance(bnb_engine, "a", "BTC").free == D("0.01")  # the whole quantity received
    assert balance(bnb_engine, "a", "BNB").free == D("0.01") - D("0.00525525")
    [fill] = bnb_engine.fills("a", "BTC-BRL")
    assert (fill.fee, fill.fee_asset) == (D("0.00525525"), "BNB")
    bnb_engine.pay_fees_in("a", None)
    plain = bnb_engine.place("a", market("m2", Side.BUY, quantity="0.01"), T0)
    assert plain.fees == {"BTC": D("0.00007")}


def test_an_order_pays_in_bnb_until_it_runs_out_then_in_the_received_asset(
    bnb_engine: MatchingEngine,
) -> None:
    bnb_engine.deposit("a", "BTC", D("0.02"))
    bnb_engine.deposit("a", "BNB", D("0.003"))
    order = bnb_engine.place("a", limit("l1", Side.SELL, "0.02", "310000"), T0)
    bnb_engine.set_price("BTC-BRL", D(310000), T0)  # half: 3100 BRL, 9.3 BRL of maker fee
    bnb_engine.set_price("BTC-BRL", D(310000), T0)  # half the rest: BNB left is too little
    half = bnb_engine.get("a", "BTC-BRL", order_id=order.order_id)
    assert half.filled_quantity == D("0.015")
    assert half.fees == {"BNB": D("0.002325"), "BRL": D("4.65")}  # 9.3 / 3000 * 0.75 BNB
    assert balance(bnb_engine, "a", "BNB").free == D("0.000675")
    assert balance(bnb_engine, "a", "BRL").free == D(4650) - D("4.65")
