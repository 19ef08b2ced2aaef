"""Quantisation end to end through each venue's published rules (hypothesis).

An order our rules let through must be accepted by the venue's own checks, and an order our
rules refuse must be one the venue refuses too. The rules are never built by hand: each market
is published by the simulator's own code (Binance `exchangeInfo`, Mercado Bitcoin `/symbols`),
read back by the adapter's own parser, and the orders the adapter would send are checked by the
simulator's own rule checks (Binance `check_filters` plus its precision check, MB `check_rules`).
Binance's PERCENT_PRICE_BY_SIDE is no rule of a market but a band around the live average price,
which only the venue knows when the order arrives; here the average is the order's own price, so
the band always holds and the static filters are compared (the band has tests of its own).
The matching engine's properties live in test_matching_properties.py.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from adapters.exchanges.binance.wire import SymbolInfo, order_params, parse_symbol
from adapters.exchanges.errors import InvalidOrder
from adapters.exchanges.mercado_bitcoin import _body, _order_fields, _rules_from_columns
from domain.market import MarketRules, OrderRequest, OrderType, Side
from simulators.binance import placing as binance_placing
from simulators.binance.config import FixedPath, SymbolConfig
from simulators.binance.config import SimConfig as BinanceSimConfig
from simulators.binance.filters import check_filters
from simulators.binance.public import exchange_info
from simulators.binance.venue import BinanceVenue
from simulators.binance.wire import BinanceError, Params
from simulators.mercadobitcoin import orders as mb_orders
from simulators.mercadobitcoin.config import MarketSpec, RateLimits
from simulators.mercadobitcoin.config import SimConfig as MbSimConfig
from simulators.mercadobitcoin.public import symbols as mb_symbols
from simulators.mercadobitcoin.state import Venue as MbVenue
from simulators.mercadobitcoin.wire import MbError

D = Decimal
EIGHT = D("0.00000001")
PLENTY = D(10) ** 30  # free balance: only the market rules decide
SETTINGS = settings(max_examples=200, deadline=None)
MORE = settings(max_examples=400, deadline=None)  # the limit-order agreements: the main ones

# Powers of ten and the odd steps some markets use.
ODD_STEPS = ("0.00000005", "0.0005", "0.002", "0.05", "0.25", "0.5", "2.5", "5", "10", "25")
steps = st.one_of(
    st.integers(0, 8).map(lambda k: D(1).scaleb(-k)),
    st.sampled_from([D(s) for s in ODD_STEPS]),
)

# The values below are drawn from these fixed strategies and combined arithmetically: building
# strategies per example (with bounds that depend on earlier draws) is what makes hypothesis slow.
UNIT = st.decimals(D(0), D(1), places=8)  # 0 and 1 (tight bounds) come up often
JITTER = st.decimals(D(0), D("0.9999"), places=4)
SPREADS = {n: st.integers(-n, n) for n in (3, 100, 10**4)}
RISES = {n: st.integers(0, n) for n in (3, 100, 10**4)}
FACTORS = {
    (low, high): st.decimals(D(low), D(high), places=6)
    for low, high in (("0.5", "2"), ("0.5", "1.5"), ("1", "100"))
}
BRANCHES = {n: st.integers(0, n - 1) for n in (2, 3, 4, 6)}


def dec8(low: Decimal | str, high: Decimal | str) -> st.SearchStrategy[Decimal]:
    return st.decimals(D(low), D(high), places=8, allow_nan=False, allow_infinity=False)


TINY, MIDDLE = dec8(EIGHT, "0.001"), dec8("0.001", "100")
LARGE = {high: dec8("0.001", high) for high in ("1000000", "1000000000", "10000000000000")}


def on_grid(value: Decimal, step: Decimal) -> Decimal:
    """The first multiple of `step` at or above `value`."""
    return ((value / step).to_integral_value(rounding=ROUND_CEILING) * step).quantize(step)


def between(draw: st.DrawFn, low: Decimal, high: Decimal) -> Decimal:
    """A value in [low, high] with at most 8 decimals (often one of the ends)."""
    return max(low, min(high, (low + (high - low) * draw(UNIT)).quantize(EIGHT, ROUND_CEILING)))


def minimum(draw: st.DrawFn, step: Decimal, allow_zero: bool) -> Decimal:
    """A minimum on the step's grid or off it (0.01 with a 0.05 step), or 0 where allowed."""
    branch = draw(BRANCHES[3 if allow_zero else 2])
    if branch == 0:
        return step * draw(st.integers(1, 50))
    return draw(st.one_of(TINY, MIDDLE)) if branch == 1 else D(0)


def off_grid(
    draw: st.DrawFn, base: Decimal, step: Decimal, moves: st.SearchStrategy[int]
) -> Decimal:
    """`base` moved by a whole number of steps and a fraction of one: a raw value off the grid."""
    return base + step * draw(moves) + step * draw(JITTER)


def raw_price(draw: st.DrawFn, last: Decimal, tick: Decimal) -> Decimal:
    """Most often near the market, off the grid; also tiny ones (0.00000123) and large ones."""
    branch = draw(BRANCHES[6])
    if branch < 3:
        return max(EIGHT, off_grid(draw, last, tick, SPREADS[(3, 100, 10**4)[branch]]))
    if branch == 3:
        return last * draw(FACTORS["0.5", "2"])
    return draw(TINY) if branch == 4 else draw(LARGE["1000000000"])


def raw_quantity(draw: st.DrawFn, floor: Decimal, step: Decimal) -> Decimal:
    """Most often from the smallest acceptable order upwards, off the grid; also around it,
    tiny ones and large ones."""
    branch = draw(BRANCHES[6])
    if branch < 3:
        return off_grid(draw, on_grid(floor, step), step, RISES[(3, 100, 10**4)[branch]])
    if branch == 3:
        return floor * draw(FACTORS["0.5", "1.5"])
    return draw(TINY) if branch == 4 else draw(LARGE["1000000"])


def last_price(draw: st.DrawFn, tick: Decimal, min_price: Decimal) -> Decimal:
    """Where the market trades: on the grid, at or above the minimum price."""
    ticks = draw(st.one_of(st.integers(20, 10**6), st.integers(0, 20)))
    return on_grid(max(min_price, tick), tick) + tick * ticks


def min_notional_for(draw: st.DrawFn, last: Decimal, min_qty: Decimal) -> Decimal:
    """A minimum notional in proportion to the market, none, or anything."""
    branch = draw(BRANCHES[3])
    if branch == 0:
        return (last * min_qty * draw(st.integers(1, 50))).quantize(EIGHT)
    return D(0) if branch == 1 else draw(st.one_of(TINY, MIDDLE))


def above(draw: st.DrawFn, value: Decimal, step: Decimal, high: str) -> Decimal:
    """A maximum at or above `value`: well above it on the step's grid, or anywhere (often
    tight) up to `high`."""
    branch = draw(BRANCHES[3])
    if branch < 2:
        n = (2, 1000)[branch]
        return on_grid(max(value, step) * draw(st.integers(n, 100 * n)), step)
    return between(draw, value, max(D(high), value))


def raw_quote(draw: st.DrawFn, min_notional: Decimal) -> Decimal:
    """Quote amounts to spend: above the minimum notional, around it, tiny and large."""
    base = max(min_notional, EIGHT)
    branch = draw(BRANCHES[4])
    if branch < 2:
        return base * draw(FACTORS[(("1", "100"), ("0.5", "1.5"))[branch]])
    return draw(TINY) if branch == 2 else draw(LARGE["10000000000000"])


counts = st.one_of(st.integers(0, 100), st.integers(0, 10**6))  # of ticks or steps

# -- Binance ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BinanceCase:
    config: SymbolConfig
    info: SymbolInfo  # as the adapter parsed the simulator's exchangeInfo
    last: Decimal
    price: Decimal  # raw, before quantisation
    quantity: Decimal  # raw, for a limit order at `price`
    market_quantity: Decimal  # raw, for a market order at `last`
    quote: Decimal  # raw quoteOrderQty


@st.composite
def binance_cases(draw: st.DrawFn) -> BinanceCase:
    tick, step = draw(steps), draw(steps)
    min_price = minimum(draw, tick, allow_zero=True)
    last = last_price(draw, tick, min_price)
    max_price = above(draw, last, tick, "1000000000") if draw(st.booleans()) else D(0)  # 0: none
    min_qty = minimum(draw, step, allow_zero=False)
    max_qty = above(draw, min_qty, step, "100000000")
    min_notional = min_notional_for(draw, last, min_qty)
    max_notional = above(draw, max(min_notional, EIGHT), EIGHT, "1000000000000")
    config = SymbolConfig(
        base="AAA",
        quote="BBB",
        path=FixedPath(price=last),
        tick_size=tick,
        min_price=min_price,
        max_price=max_price,
        step_size=step,
        min_qty=min_qty,
        max_qty=max_qty,
        market_max_qty=max_qty * 2 if draw(st.booleans()) else draw(LARGE["1000000"]),
        min_notional=min_notional,
        max_notional=max_notional,
    )
    price = raw_price(draw, last, tick)
    floor = max(min_qty, min_notional / max(price - tick, EIGHT), step)
    return BinanceCase(
        config=config,
        info=published_binance_symbol(config),
        last=last,
        price=price,
        quantity=raw_quantity(draw, floor, step),
        market_quantity=raw_quantity(draw, max(min_qty, min_notional / last, step), step),
        quote=raw_quote(draw, min_notional),
    )


def published_binance_symbol(config: SymbolConfig) -> SymbolInfo:
    """exchangeInfo as the simulator answers it, through JSON, read by the adapter."""
    venue = BinanceVenue(BinanceSimConfig(symbols=[config]))
    document = exchange_info(venue, Params(f"symbol={config.name}", ""))
    (raw,) = json.loads(json.dumps(document))["symbols"]
    return parse_symbol(raw)


def binance_refusal(case: BinanceCase, kind: str, params: dict[str, str]) -> str | None:
    """What the simulator answers to these order parameters: None, the failed filter's name,
    or "PRECISION" (-1111)."""
    c = case.config
    sent = Params(urlencode(params), "")
    values = {name: sent.decimal(name) for name in ("quantity", "quoteOrderQty", "price")}
    for name, places in (
        ("quantity", c.base_precision),
        ("price", c.quote_precision),
        ("quoteOrderQty", c.quote_precision),
    ):
        value = values[name]
        if value is not None and binance_placing._decimals(value) > places:
            return "PRECISION"
    try:
        check_filters(
            c,
            kind=kind,
            side="BUY",
            quantity=values["quantity"],
            quote_qty=values["quoteOrderQty"],
            price=values["price"],
            stop_price=None,
            iceberg_qty=None,
            last=case.last,
            average=values["price"] or case.last,
        )
    except BinanceError as exc:
        assert exc.code == -1013, exc.msg
        return exc.msg.removeprefix("Filter failure: ")
    return None


def sent_by_adapter(info: SymbolInfo, request: OrderRequest) -> dict[str, str] | None:
    """The parameters the adapter would send, or None when it refuses locally."""
    try:
        return order_params(info, request)
    except InvalidOrder:
        return None


def plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


@MORE
@given(case=binance_cases(), side=st.sampled_from(Side))
def test_binance_limit_orders_quantised_by_our_rules_agree_with_the_simulators_filters(
    case: BinanceCase, side: Side
) -> None:
    rules = case.info.rules
    price = rules.quantise_price(case.price, side)
    quantity = rules.quantise_quantity(case.quantity)
    ours = rules.violation(quantity, price)
    request = OrderRequest(
        client_order_id="q1",
        symbol=rules.symbol,
        side=side,
        type=OrderType.LIMIT,
        quantity=case.quantity,
        price=case.price,
    )
    params = sent_by_adapter(case.info, request)
    assert (params is None) == (ours is not None), ours
    if params is None:
        if price <= 0 or quantity <= 0:
            event("LIMIT: zero price or quantity, refused here")
            return  # a zero price or quantity is no filter question
        params = {"quantity": plain(quantity), "price": plain(price)}
    else:
        assert D(params["price"]) == price
        assert D(params["quantity"]) == quantity
    theirs = binance_refusal(case, "LIMIT", params)
    event(f"LIMIT: {theirs or 'accepted'}")
    # Both ways: what passes our rules passes the venue's, and the first rule broken is the same.
    assert theirs == (binance_placing._RULE_FILTER[ours] if ours else None), (price, quantity)


@SETTINGS
@given(case=binance_cases(), side=st.sampled_from(Side))
def test_binance_market_orders_by_quantity_agree_with_the_simulators_filters(
    case: BinanceCase, side: Side
) -> None:
    info, rules = case.info, case.info.rules
    request = OrderRequest(
        client_order_id="q2",
        symbol=rules.symbol,
        side=side,
        type=OrderType.MARKET,
        quantity=case.market_quantity,
    )
    params = sent_by_adapter(info, request)
    step = info.market_step if info.market_step > 0 else rules.lot_step
    quantity = rules.model_copy(update={"lot_step": step}).quantise_quantity(case.market_quantity)
    if params is not None:
        assert D(params["quantity"]) == quantity
    theirs = binance_refusal(case, "MARKET", params or {"quantity": plain(quantity)})
    event(f"MARKET: {theirs or 'accepted'}")
    if params is not None and theirs is not None:
        # The one check the adapter cannot make without a price: the notional at the last price.
        assert theirs == "NOTIONAL", (quantity, theirs)
    # With the last price, our rules and the venue's agree both ways.
    ours = "local" if params is None else rules.violation(quantity, case.last)
    if quantity > 0:
        assert (ours is None) == (theirs is None), (quantity, ours, theirs)


@SETTINGS
@given(case=binance_cases())
def test_binance_market_buys_by_quote_quantity_agree_with_the_simulators_filters(
    case: BinanceCase,
) -> None:
    info = case.info
    request = OrderRequest(
        client_order_id="q3",
        symbol=info.rules.symbol,
        side=Side.BUY,
        type=OrderType.MARKET,
        quote_quantity=case.quote,
    )
    params = sent_by_adapter(info, request)
    spend = case.quote.quantize(D(1).scaleb(-info.quote_precision), rounding="ROUND_DOWN")
    theirs = binance_refusal(case, "MARKET", params or {"quoteOrderQty": plain(spend)})
    event(f"quoteOrderQty: {theirs or 'accepted'}")
    if params is None:
        if spend > 0:  # (a zero quoteOrderQty is no filter question)
            assert theirs is not None, spend  # nothing the venue would take is refused here
    else:
        assert theirs is None, (spend, theirs)  # what we send, the venue takes


def test_binance_market_buy_above_the_max_notional_is_refused_before_sending() -> None:
    config = SymbolConfig(
        base="AAA", quote="BBB", path=FixedPath(price=D(100)), max_notional=D(1000)
    )
    request = OrderRequest(
        client_order_id="q7",
        symbol="AAA-BBB",
        side=Side.BUY,
        type=OrderType.MARKET,
        quote_quantity=D(5000),
    )
    with pytest.raises(InvalidOrder):
        order_params(published_binance_symbol(config), request)


@SETTINGS
@given(case=binance_cases(), data=st.data())
def test_binance_every_order_on_the_grid_inside_the_filters_passes_our_rules(
    case: BinanceCase, data: st.DataObject
) -> None:
    """No false refusals: an order the filters allow is left as it is and let through."""
    c, rules = case.config, case.info.rules
    price = on_grid(max(c.min_price, c.tick_size), c.tick_size)
    price += c.tick_size * data.draw(counts)
    quantity = on_grid(max(c.min_qty, c.min_notional / price), c.step_size)
    quantity += c.step_size * data.draw(counts)
    notional = quantity * price
    inside = (
        (not c.max_price or price <= c.max_price)
        and quantity <= c.max_qty
        and notional <= c.max_notional
    )
    event(f"inside the filters: {inside}")
    if not inside:
        return
    for side in Side:
        assert rules.quantise_price(price, side) == price
    assert rules.quantise_quantity(quantity) == quantity
    assert rules.violation(quantity, price) is None
    params = {"quantity": plain(quantity), "price": plain(price)}
    assert binance_refusal(case, "LIMIT", params) is None


# -- Mercado Bitcoin -----------------------------------------------------------------------


@dataclass(frozen=True)
class MbCase:
    venue_rules: MarketRules  # what the simulator checks against
    rules: MarketRules  # what the adapter read from the simulator's /symbols
    last: Decimal
    price: Decimal  # raw
    quantity: Decimal  # raw, for a limit order at `price`
    market_quantity: Decimal  # raw, for a market order at `last`
    cost: Decimal  # raw


MB_LOT = D("0.00000001")  # /symbols publishes no lot step: MB takes 8 decimals


@st.composite
def mb_cases(draw: st.DrawFn) -> MbCase:
    tick = draw(steps)
    min_price = minimum(draw, tick, allow_zero=True)
    last = last_price(draw, tick, min_price)
    min_quantity = draw(st.one_of(TINY, MIDDLE))
    min_notional = min_notional_for(draw, last, min_quantity)
    venue_rules = MarketRules(
        symbol="AAA-BBB",
        price_tick=tick,
        lot_step=MB_LOT,
        min_quantity=min_quantity,
        max_quantity=above(draw, min_quantity, MB_LOT, "1e6") if draw(st.booleans()) else None,
        min_notional=min_notional,
        max_notional=(
            above(draw, max(min_notional, EIGHT), EIGHT, "1e10") if draw(st.booleans()) else None
        ),
        min_price=min_price,
        max_price=above(draw, last, tick, "1e9") if draw(st.booleans()) else None,
    )
    price = raw_price(draw, last, tick)
    floor = max(min_quantity, min_notional / max(price - tick, EIGHT))
    return MbCase(
        venue_rules=venue_rules,
        rules=published_mb_market(venue_rules, last),
        last=last,
        price=price,
        quantity=raw_quantity(draw, floor, MB_LOT),
        market_quantity=raw_quantity(draw, max(min_quantity, min_notional / last), MB_LOT),
        cost=raw_quote(draw, min_notional),
    )


def published_mb_market(rules: MarketRules, last: Decimal) -> MarketRules:
    """/symbols as the simulator answers it, decoded as the adapter decodes it."""
    config = MbSimConfig(
        markets=[MarketSpec(rules=rules, start_price=last)],
        rate_limits=RateLimits(enabled=False),
    )
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/symbols",
        "query_string": b"",
        "headers": [],
        "client": ("127.0.0.1", 1),
    }
    response = asyncio.run(mb_symbols(MbVenue(config), Request(scope), None))
    columns = json.loads(bytes(response.body), parse_float=Decimal)
    (parsed,) = _rules_from_columns(columns)
    return parsed


def mb_refusal(case: MbCase, kind: OrderType, side: Side, body: bytes) -> str | None:
    """MB's error code for this order body, or None when it passes the market rules."""
    order = mb_orders.parse(json.loads(body, parse_float=Decimal))
    assert mb_orders.check_shape(order) == (side, kind)
    try:
        mb_orders.check_rules(order, side, kind, case.venue_rules, case.last, PLENTY)
    except MbError as exc:
        assert exc.status == 400
        return str(exc.body["code"])
    return None


def mb_sent(rules: MarketRules, request: OrderRequest) -> dict[str, str | Decimal | bool] | None:
    try:
        return _order_fields(request, rules)
    except InvalidOrder:
        return None


@MORE
@given(case=mb_cases(), side=st.sampled_from(Side))
def test_mb_limit_orders_quantised_by_our_rules_agree_with_the_simulators_checks(
    case: MbCase, side: Side
) -> None:
    rules = case.rules
    assert rules.model_dump() == case.venue_rules.model_dump()  # /symbols round trip
    price = rules.quantise_price(case.price, side)
    quantity = rules.quantise_quantity(case.quantity)
    ours = rules.violation(quantity, price)
    request = OrderRequest(
        client_order_id="q4",
        symbol=rules.symbol,
        side=side,
        type=OrderType.LIMIT,
        quantity=case.quantity,
        price=case.price,
    )
    fields = mb_sent(rules, request)
    assert (fields is None) == (ours is not None), ours
    if fields is None:
        fields = {"side": side.value, "type": "limit", "qty": plain(quantity), "limitPrice": price}
    theirs = mb_refusal(case, OrderType.LIMIT, side, _body(fields))
    event(f"limit: {theirs or 'accepted'}")
    assert (ours is None) == (theirs is None), (price, quantity, ours, theirs)


@SETTINGS
@given(case=mb_cases(), side=st.sampled_from(Side))
def test_mb_market_orders_by_quantity_agree_with_the_simulators_checks(
    case: MbCase, side: Side
) -> None:
    rules = case.rules
    request = OrderRequest(
        client_order_id="q5",
        symbol=rules.symbol,
        side=side,
        type=OrderType.MARKET,
        quantity=case.market_quantity,
    )
    fields = mb_sent(rules, request)
    quantity = rules.quantise_quantity(case.market_quantity)
    body = _body(fields or {"side": side.value, "type": "market", "qty": plain(quantity)})
    theirs = mb_refusal(case, OrderType.MARKET, side, body)
    event(f"market: {theirs or 'accepted'}")
    if fields is not None and theirs is not None:
        # The one check the adapter cannot make without a price: the cost at the last price.
        assert theirs == "TRADING|PLACE_ORDER|API_GENERIC_ERROR", (quantity, theirs)
    ours = "local" if fields is None else rules.violation(quantity, case.last)
    assert (ours is None) == (theirs is None), (quantity, ours, theirs)


@SETTINGS
@given(case=mb_cases())
def test_mb_market_buys_by_cost_agree_with_the_simulators_checks(case: MbCase) -> None:
    rules = case.rules
    request = OrderRequest(
        client_order_id="q6",
        symbol=rules.symbol,
        side=Side.BUY,
        type=OrderType.MARKET,
        quote_quantity=case.cost,
    )
    fields = mb_sent(rules, request)
    cost = case.cost.quantize(MB_LOT, rounding="ROUND_DOWN")
    theirs = mb_refusal(
        case,
        OrderType.MARKET,
        Side.BUY,
        _body(fields or {"side": "buy", "type": "market", "cost": cost}),
    )
    assert (fields is None) == (theirs is not None), (cost, theirs)


@SETTINGS
@given(case=mb_cases(), side=st.sampled_from(Side), data=st.data())
def test_mb_every_order_on_the_grid_inside_the_limits_passes_our_rules(
    case: MbCase, side: Side, data: st.DataObject
) -> None:
    """No false refusals: a limit order MB allows is left as it is and let through."""
    r, rules = case.venue_rules, case.rules
    price = on_grid(max(r.min_price, r.price_tick), r.price_tick)
    price += r.price_tick * data.draw(counts)
    quantity = on_grid(max(r.min_quantity, r.min_notional / price), MB_LOT)
    quantity += MB_LOT * data.draw(st.one_of(counts, st.integers(0, 10**8)))
    inside = (
        (r.max_price is None or price <= r.max_price)
        and (r.max_quantity is None or quantity <= r.max_quantity)
        and (r.max_notional is None or quantity * price <= r.max_notional)
    )
    event(f"inside the limits: {inside}")
    if not inside:
        return
    request = OrderRequest(
        client_order_id="q8",
        symbol=rules.symbol,
        side=side,
        type=OrderType.LIMIT,
        quantity=quantity,
        price=price,
    )
    fields = mb_sent(rules, request)
    assert fields is not None
    assert (D(str(fields["qty"])), fields["limitPrice"]) == (quantity, price)
    assert mb_refusal(case, OrderType.LIMIT, side, _body(fields)) is None


# -- the parsers on their own ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("movement", "scale", "tick"),
    [
        ("1", 100, "0.01"),  # TradingView: a whole count of 1/pricescale
        ("5", 100, "0.05"),
        ("0.01000000", 100, "0.01"),  # the tick itself
        ("2.50000000", 10, "2.5"),  # the tick itself, above 1 (read as 0.25 before)
        ("25.00000000", 1, "25"),
    ],
)
def test_mb_symbols_price_tick_in_both_styles(movement: str, scale: int, tick: str) -> None:
    columns: dict[str, list[Any]] = {
        "symbol": ["BTC-BRL"],
        "minmovement": [movement],
        "pricescale": [scale],
    }
    (rules,) = _rules_from_columns(columns)
    assert rules.price_tick == D(tick)


def test_binance_market_orders_obey_lot_size_and_market_lot_size_together() -> None:
    market_lot = {
        "filterType": "MARKET_LOT_SIZE",
        "minQty": "0",
        "maxQty": "20000",
        "stepSize": "0",
    }
    raw: dict[str, Any] = {
        "symbol": "BTCUSDT",
        "baseAsset": "BTC",
        "quoteAsset": "USDT",
        "status": "TRADING",
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "0", "tickSize": "0.01"},
            {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "9000", "stepSize": "0.001"},
            market_lot,
        ],
    }
    info = parse_symbol(raw)
    assert (info.market_min_qty, info.market_max_qty, info.market_step) == (
        D("0.001"),
        D(9000),
        D(0),
    )
    market_lot |= {"minQty": "0.01", "maxQty": "85", "stepSize": "0.0025"}
    info = parse_symbol(raw)
    assert (info.market_min_qty, info.market_max_qty, info.market_step) == (
        D("0.01"),
        D(85),
        D("0.005"),
    )
    assert info.rules.max_price is None  # 0: no maximum
