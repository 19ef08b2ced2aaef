"""Conformance checks every `Exchange` must pass, whatever the venue behind it.

Run them for a venue with one parametrised test::

    import pytest
    from tests.exchanges import conformance

    @pytest.mark.parametrize("check", conformance.CHECKS, ids=conformance.check_id)
    async def test_conformance(check: conformance.Check, exchange, control) -> None:
        await check(exchange, control)

Each check is ``async def check_...(exchange: Exchange, venue: VenueControl) -> None`` and
expects:

- `exchange`: logged into a **fresh account** (no balances, no orders) of the venue;
- `venue`: a `VenueControl` (below) for that same account, whose market `venue.symbol` the
  check may move freely. The checks fund what they need and start by pinning the price.

Checks assert exact amounts: fees are ``received x rate`` with the rates in `venue.fees`, and
market orders fill within ``price x (1 ± venue.slippage)`` (one tick of rounding allowed).
Venues that fill resting orders partially are fine: checks move the price again until filled.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import ROUND_UP, Decimal
from typing import Protocol

import pytest

from adapters.exchanges.base import Exchange
from adapters.exchanges.errors import (
    InsufficientBalance,
    InvalidOrder,
    OrderNotCancelable,
    OrderNotFound,
    UnknownSymbol,
)
from domain.market import (
    Balance,
    MarketRules,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    Symbol,
)
from domain.matching import Fees


class VenueControl(Protocol):
    """What a check needs besides the `Exchange`: the hands of the venue's operator."""

    symbol: str  # the market the checks trade, "BASE-QUOTE"
    fees: Fees  # the rates this account pays
    slippage: Decimal  # how far market orders may fill from the price (fraction)

    async def fund(self, asset: str, amount: Decimal) -> None:
        """Credit the account's free balance."""

    async def set_price(self, symbol: str, price: Decimal) -> None:
        """Move the market to `price` and keep it there; resting limit orders the move crosses
        fill (all or part: calling again at the same price may fill more)."""


Check = Callable[[Exchange, VenueControl], Awaitable[None]]
_CROSSINGS = 20  # partial fills: at most this many price moves to fill a resting order


def check_id(check: Check) -> str:
    return check.__name__.removeprefix("check_")


# -- helpers -----------------------------------------------------------------------------------


async def _pin(exchange: Exchange, venue: VenueControl) -> tuple[MarketRules, Decimal]:
    """Pin the market at its current level, on the tick; returns (rules, price)."""
    rules = await exchange.market_rules(venue.symbol)
    last = (await exchange.ticker(venue.symbol)).last
    price = max(rules.quantise_price(last, Side.BUY), rules.price_tick)
    await venue.set_price(venue.symbol, price)
    return rules, price


def _quantity(rules: MarketRules, price: Decimal) -> Decimal:
    """A comfortable order size: above the minimum quantity and twice the minimum notional."""
    wanted = max(rules.min_quantity, rules.min_notional * 2 / price, rules.lot_step * 10)
    return (wanted / rules.lot_step).to_integral_value(rounding=ROUND_UP) * rules.lot_step


def _assets(symbol: str) -> tuple[str, str]:
    parsed = Symbol.parse(symbol)
    return parsed.base, parsed.quote


async def _balance(exchange: Exchange, asset: str) -> Balance:
    found = [b for b in await exchange.balances() if b.asset == asset]
    return found[0] if found else Balance(asset=asset, free=Decimal(0), locked=Decimal(0))


def _request(
    client_order_id: str,
    symbol: str,
    side: Side,
    quantity: Decimal | None = None,
    price: Decimal | None = None,
    quote_quantity: Decimal | None = None,
) -> OrderRequest:
    return OrderRequest(
        client_order_id=client_order_id,
        symbol=symbol,
        side=side,
        type=OrderType.LIMIT if price is not None else OrderType.MARKET,
        quantity=quantity,
        price=price,
        quote_quantity=quote_quantity,
    )


async def _fill_by_crossing(
    exchange: Exchange, venue: VenueControl, order: Order, price: Decimal
) -> Order:
    for _ in range(_CROSSINGS):
        await venue.set_price(order.symbol, price)
        order = await exchange.get_order(order.symbol, order_id=order.order_id)
        if order.status is OrderStatus.FILLED:
            return order
    raise AssertionError(f"order still {order.status} after {_CROSSINGS} crossings at {price}")


# -- checks ------------------------------------------------------------------------------------


async def check_markets_carry_rules(exchange: Exchange, venue: VenueControl) -> None:
    markets = {m.symbol: m for m in await exchange.markets()}
    assert venue.symbol in markets
    rules = await exchange.market_rules(venue.symbol)
    assert rules == markets[venue.symbol]
    assert rules.price_tick > 0 and rules.lot_step > 0
    with pytest.raises(UnknownSymbol):
        await exchange.market_rules("NOPE-NOWHERE")


async def check_ticker_and_book_follow_the_price(exchange: Exchange, venue: VenueControl) -> None:
    _, price = await _pin(exchange, venue)
    ticker = await exchange.ticker(venue.symbol)
    assert ticker.symbol == venue.symbol
    assert ticker.last == price
    assert ticker.bid <= price <= ticker.ask and ticker.bid < ticker.ask
    book = await exchange.order_book(venue.symbol, limit=5)
    assert 0 < len(book.bids) <= 5 and 0 < len(book.asks) <= 5
    bids, asks = [b.price for b in book.bids], [a.price for a in book.asks]
    assert bids == sorted(bids, reverse=True) and len(set(bids)) == len(bids)
    assert asks == sorted(asks) and len(set(asks)) == len(asks)
    assert bids[0] < asks[0]
    assert all(level.quantity > 0 for level in book.bids + book.asks)


async def check_candles_are_oldest_first_and_consistent(
    exchange: Exchange, venue: VenueControl
) -> None:
    for interval in exchange.intervals:
        candles = await exchange.candles(venue.symbol, interval, limit=3)
        assert 1 <= len(candles) <= 3, interval
        times = [c.open_time for c in candles]
        assert times == sorted(times) and len(set(times)) == len(times), interval
        for c in candles:
            assert c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high, interval
            assert c.low > 0 and c.volume >= 0, interval
    with pytest.raises(InvalidOrder):
        await exchange.candles(venue.symbol, "7x")


async def check_market_buy_then_sell_settles_balances_and_fees(
    exchange: Exchange, venue: VenueControl
) -> None:
    rules, price = await _pin(exchange, venue)
    base, quote = _assets(venue.symbol)
    quantity = _quantity(rules, price)
    funded = quantity * price * 3
    await venue.fund(quote, funded)

    bought = await exchange.create_order(_request("conf-buy", venue.symbol, Side.BUY, quantity))
    assert bought.status is OrderStatus.FILLED and bought.filled_quantity == quantity
    assert bought.average_price is not None
    assert price <= bought.average_price <= price * (1 + venue.slippage) + rules.price_tick
    assert bought.fees == {base: quantity * venue.fees.taker}
    bought_fee = bought.fees[base]
    fills = [f for f in await exchange.fills(venue.symbol) if f.order_id == bought.order_id]
    assert sum(f.quantity for f in fills) == quantity
    assert sum(f.fee for f in fills) == bought_fee and {f.fee_asset for f in fills} == {base}
    assert (await _balance(exchange, base)).free == quantity - bought_fee
    assert (await _balance(exchange, quote)).free == funded - bought.quote_quantity

    held = rules.quantise_quantity(quantity - bought_fee)
    sold = await exchange.create_order(_request("conf-sell", venue.symbol, Side.SELL, held))
    assert sold.status is OrderStatus.FILLED and sold.filled_quantity == held
    assert sold.average_price is not None
    assert price * (1 - venue.slippage) - rules.price_tick <= sold.average_price <= price
    assert sold.fees == {quote: sold.quote_quantity * venue.fees.taker}
    expected = funded - bought.quote_quantity + sold.quote_quantity - sold.fees[quote]
    assert (await _balance(exchange, quote)).free == expected
    assert (await _balance(exchange, base)).free == quantity - bought_fee - held


async def check_market_buy_by_quote_quantity_spends_at_most_that(
    exchange: Exchange, venue: VenueControl
) -> None:
    rules, price = await _pin(exchange, venue)
    _, quote = _assets(venue.symbol)
    spend = rules.quantise_price(_quantity(rules, price) * price, Side.BUY)
    await venue.fund(quote, spend * 2)
    order = await exchange.create_order(
        _request("conf-cost", venue.symbol, Side.BUY, quote_quantity=spend)
    )
    assert order.status is OrderStatus.FILLED
    assert order.filled_quantity > 0 and order.filled_quantity % rules.lot_step == 0
    assert 0 < order.quote_quantity <= spend
    assert (await _balance(exchange, quote)).free == spend * 2 - order.quote_quantity


async def check_limit_order_rests_locks_and_fills_as_maker_when_crossed(
    exchange: Exchange, venue: VenueControl
) -> None:
    rules, price = await _pin(exchange, venue)
    base, quote = _assets(venue.symbol)
    limit = rules.quantise_price(price * Decimal("0.95"), Side.BUY)
    quantity = _quantity(rules, limit)
    funded = quantity * limit * 2
    await venue.fund(quote, funded)

    order = await exchange.create_order(
        _request("conf-rest", venue.symbol, Side.BUY, quantity, limit)
    )
    assert order.status is OrderStatus.NEW and order.filled_quantity == 0
    assert [o.order_id for o in await exchange.open_orders(venue.symbol)] == [order.order_id]
    assert await _balance(exchange, quote) == Balance(
        asset=quote, free=funded - quantity * limit, locked=quantity * limit
    )

    below = rules.quantise_price(limit * Decimal("0.99"), Side.BUY)
    filled = await _fill_by_crossing(exchange, venue, order, below)
    assert filled.filled_quantity == quantity and filled.average_price == limit
    assert filled.fees == {base: quantity * venue.fees.maker}
    assert await exchange.open_orders(venue.symbol) == []
    assert await _balance(exchange, quote) == Balance(
        asset=quote, free=funded - quantity * limit, locked=Decimal(0)
    )
    assert (await _balance(exchange, base)).free == quantity - filled.fees[base]


async def check_marketable_limit_fills_at_once_as_taker(
    exchange: Exchange, venue: VenueControl
) -> None:
    rules, price = await _pin(exchange, venue)
    base, quote = _assets(venue.symbol)
    limit = rules.quantise_price(price * Decimal("1.05"), Side.BUY)
    quantity = _quantity(rules, limit)
    await venue.fund(quote, quantity * limit)
    order = await exchange.create_order(
        _request("conf-taker", venue.symbol, Side.BUY, quantity, limit)
    )
    assert order.status is OrderStatus.FILLED
    assert order.average_price is not None and order.average_price <= limit
    assert order.fees == {base: quantity * venue.fees.taker}
    # Filled below the limit: the change of the lock comes back.
    assert (await _balance(exchange, quote)) == Balance(
        asset=quote, free=quantity * limit - order.quote_quantity, locked=Decimal(0)
    )


async def check_cancel_is_idempotent_and_filled_orders_refuse_it(
    exchange: Exchange, venue: VenueControl
) -> None:
    rules, price = await _pin(exchange, venue)
    _, quote = _assets(venue.symbol)
    limit = rules.quantise_price(price * Decimal("0.9"), Side.BUY)
    quantity = _quantity(rules, limit)
    await venue.fund(quote, quantity * limit)
    order = await exchange.create_order(
        _request("conf-cancel", venue.symbol, Side.BUY, quantity, limit)
    )
    canceled = await exchange.cancel_order(venue.symbol, client_order_id="conf-cancel")
    assert canceled.order_id == order.order_id and canceled.status is OrderStatus.CANCELED
    assert await _balance(exchange, quote) == Balance(
        asset=quote, free=quantity * limit, locked=Decimal(0)
    )
    assert await exchange.open_orders(venue.symbol) == []
    # Canceling again reports the cancel (the retry of a cancel whose answer was lost).
    again = await exchange.cancel_order(venue.symbol, order_id=order.order_id)
    assert (again.order_id, again.status) == (order.order_id, OrderStatus.CANCELED)
    with pytest.raises(OrderNotFound):
        await exchange.cancel_order(venue.symbol, client_order_id="conf-never-placed")
    taker = rules.quantise_price(price * Decimal("1.05"), Side.BUY)
    await venue.fund(quote, quantity * taker)
    filled = await exchange.create_order(
        _request("conf-filled", venue.symbol, Side.BUY, quantity, taker)
    )
    assert filled.status is OrderStatus.FILLED
    with pytest.raises(OrderNotCancelable):
        await exchange.cancel_order(venue.symbol, order_id=filled.order_id)


async def check_create_order_is_idempotent_on_client_order_id(
    exchange: Exchange, venue: VenueControl
) -> None:
    rules, price = await _pin(exchange, venue)
    _, quote = _assets(venue.symbol)
    limit = rules.quantise_price(price * Decimal("0.9"), Side.BUY)
    quantity = _quantity(rules, limit)
    await venue.fund(quote, quantity * limit * 3)
    request = _request("conf-twice", venue.symbol, Side.BUY, quantity, limit)
    first = await exchange.create_order(request)
    second = await exchange.create_order(request)
    assert second.order_id == first.order_id
    assert [o.client_order_id for o in await exchange.recent_orders(venue.symbol)] == ["conf-twice"]
    assert (await _balance(exchange, quote)).locked == quantity * limit


async def check_get_order_by_either_id(exchange: Exchange, venue: VenueControl) -> None:
    rules, price = await _pin(exchange, venue)
    _, quote = _assets(venue.symbol)
    limit = rules.quantise_price(price * Decimal("0.9"), Side.BUY)
    quantity = _quantity(rules, limit)
    await venue.fund(quote, quantity * limit)
    order = await exchange.create_order(
        _request("conf-get", venue.symbol, Side.BUY, quantity, limit)
    )
    by_id = await exchange.get_order(venue.symbol, order_id=order.order_id)
    by_client_id = await exchange.get_order(venue.symbol, client_order_id="conf-get")
    assert by_id == by_client_id
    assert (by_id.quantity, by_id.price, by_id.side) == (quantity, limit, Side.BUY)
    with pytest.raises(OrderNotFound):
        await exchange.get_order(venue.symbol, client_order_id="conf-never-placed")


async def check_insufficient_balance_is_refused(exchange: Exchange, venue: VenueControl) -> None:
    rules, price = await _pin(exchange, venue)
    _, quote = _assets(venue.symbol)
    quantity = _quantity(rules, price)
    await venue.fund(quote, quantity * price / 2)
    with pytest.raises(InsufficientBalance):
        await exchange.create_order(_request("conf-poor", venue.symbol, Side.BUY, quantity, price))
    assert await exchange.open_orders(venue.symbol) == []
    assert (await _balance(exchange, quote)).locked == 0


async def check_order_below_the_minimum_is_refused(exchange: Exchange, venue: VenueControl) -> None:
    rules, price = await _pin(exchange, venue)
    _, quote = _assets(venue.symbol)
    await venue.fund(quote, _quantity(rules, price) * price)
    tiny = rules.lot_step
    if tiny >= rules.min_quantity and tiny * price >= rules.min_notional:
        tiny = Decimal(0)  # this market accepts one lot: refuse nothing instead
    with pytest.raises(InvalidOrder):
        await exchange.create_order(_request("conf-tiny", venue.symbol, Side.BUY, tiny, price))
    assert await exchange.open_orders(venue.symbol) == []


async def check_orders_and_fills_list_oldest_first(exchange: Exchange, venue: VenueControl) -> None:
    rules, price = await _pin(exchange, venue)
    _, quote = _assets(venue.symbol)
    quantity = _quantity(rules, price)
    await venue.fund(quote, quantity * price * 3)
    first = await exchange.create_order(_request("conf-one", venue.symbol, Side.BUY, quantity))
    second = await exchange.create_order(_request("conf-two", venue.symbol, Side.BUY, quantity))
    orders = await exchange.recent_orders(venue.symbol)
    assert [o.order_id for o in orders] == [first.order_id, second.order_id]
    assert [o.order_id for o in await exchange.recent_orders(venue.symbol, limit=1)] == [
        second.order_id
    ]
    fills = await exchange.fills(venue.symbol)
    assert [f.order_id for f in fills] == [first.order_id, second.order_id]
    assert [f.order_id for f in await exchange.fills(venue.symbol, limit=1)] == [second.order_id]


async def check_tickers_of_every_market_at_once(exchange: Exchange, venue: VenueControl) -> None:
    _, price = await _pin(exchange, venue)
    markets = {m.symbol for m in await exchange.markets()}
    every = await exchange.tickers()
    assert {t.symbol for t in every} == markets and len(every) == len(markets)
    mine = next(t for t in every if t.symbol == venue.symbol)
    assert mine.last == price and mine.bid <= price <= mine.ask and mine.bid < mine.ask
    other = next(iter(markets - {venue.symbol}), venue.symbol)
    asked = await exchange.tickers([other, venue.symbol.lower()])
    assert [t.symbol for t in asked] == [other, venue.symbol] and asked[1].last == price
    assert await exchange.tickers([]) == []
    with pytest.raises(UnknownSymbol):
        await exchange.tickers([venue.symbol, "NOPE-NOWHERE"])


async def check_fills_since_an_id_are_inclusive_and_oldest_first(
    exchange: Exchange, venue: VenueControl
) -> None:
    rules, price = await _pin(exchange, venue)
    _, quote = _assets(venue.symbol)
    quantity = _quantity(rules, price)
    await venue.fund(quote, quantity * price * 4)
    for n in range(3):
        await exchange.create_order(_request(f"conf-since-{n}", venue.symbol, Side.BUY, quantity))
    every = await exchange.fills_since(venue.symbol)
    assert every == await exchange.fills(venue.symbol) and len(every) >= 3
    assert [f.at for f in every] == sorted(f.at for f in every)
    second = every[1]
    assert await exchange.fills_since(venue.symbol, second.trade_id) == every[1:]
    assert await exchange.fills_since(venue.symbol, second.trade_id, limit=1) == [second]
    assert await exchange.fills_since(venue.symbol, every[-1].trade_id) == [every[-1]]


async def check_open_orders_of_every_market_in_one_list(
    exchange: Exchange, venue: VenueControl
) -> None:
    rules, price = await _pin(exchange, venue)
    _, quote = _assets(venue.symbol)
    limit = rules.quantise_price(price * Decimal("0.9"), Side.BUY)
    quantity = _quantity(rules, limit)
    await venue.fund(quote, quantity * limit * 2)
    first = await exchange.create_order(
        _request("conf-open-1", venue.symbol, Side.BUY, quantity, limit)
    )
    second = await exchange.create_order(
        _request("conf-open-2", venue.symbol, Side.BUY, quantity, limit)
    )
    every = await exchange.open_orders()
    assert sorted(o.order_id for o in every) == sorted([first.order_id, second.order_id])
    assert {o.order_id: o for o in every} == {
        o.order_id: o for o in await exchange.open_orders(venue.symbol)
    }
    await exchange.cancel_order(venue.symbol, order_id=first.order_id)
    assert [o.order_id for o in await exchange.open_orders()] == [second.order_id]


async def check_limit_maker_rests_or_is_refused_when_it_would_take(
    exchange: Exchange, venue: VenueControl
) -> None:
    rules, price = await _pin(exchange, venue)
    base, quote = _assets(venue.symbol)
    below = rules.quantise_price(price * Decimal("0.95"), Side.BUY)
    above = rules.quantise_price(price * Decimal("1.05"), Side.BUY)
    quantity = _quantity(rules, above)
    await venue.fund(quote, quantity * above)

    def maker(client_order_id: str, limit: Decimal) -> OrderRequest:
        return OrderRequest(
            client_order_id=client_order_id,
            symbol=venue.symbol,
            side=Side.BUY,
            type=OrderType.LIMIT_MAKER,
            quantity=quantity,
            price=limit,
        )

    with pytest.raises(InvalidOrder):
        await exchange.create_order(maker("conf-maker-takes", above))
    assert await exchange.open_orders(venue.symbol) == []
    assert (await _balance(exchange, quote)).locked == 0
    resting = await exchange.create_order(maker("conf-maker", below))
    assert (resting.type, resting.status, resting.price) == (
        OrderType.LIMIT_MAKER,
        OrderStatus.NEW,
        below,
    )
    assert await exchange.open_orders(venue.symbol) == [resting]
    filled = await _fill_by_crossing(
        exchange, venue, resting, rules.quantise_price(below * Decimal("0.99"), Side.BUY)
    )
    assert filled.average_price == below
    assert filled.fees == {base: quantity * venue.fees.maker}


async def check_stop_loss_limit_waits_for_its_stop_then_sells(
    exchange: Exchange, venue: VenueControl
) -> None:
    rules, price = await _pin(exchange, venue)
    base, quote = _assets(venue.symbol)
    stop = rules.quantise_price(price * Decimal("0.95"), Side.SELL)
    limit = rules.quantise_price(price * Decimal("0.94"), Side.SELL)
    quantity = _quantity(rules, limit)
    await venue.fund(base, quantity)

    def stop_loss(client_order_id: str, stop_price: Decimal) -> OrderRequest:
        return OrderRequest(
            client_order_id=client_order_id,
            symbol=venue.symbol,
            side=Side.SELL,
            type=OrderType.STOP_LOSS_LIMIT,
            quantity=quantity,
            price=limit,
            stop_price=stop_price,
        )

    above = rules.quantise_price(price * Decimal("1.01"), Side.SELL)
    with pytest.raises(InvalidOrder):  # the price is already below it: it would trigger now
        await exchange.create_order(stop_loss("conf-stop-now", above))
    order = await exchange.create_order(stop_loss("conf-stop", stop))
    assert (order.type, order.status, order.filled_quantity) == (
        OrderType.STOP_LOSS_LIMIT,
        OrderStatus.NEW,
        Decimal(0),
    )
    assert (order.price, order.stop_price) == (limit, stop)
    assert await exchange.open_orders(venue.symbol) == [order]
    assert await exchange.get_order(venue.symbol, client_order_id="conf-stop") == order
    assert await _balance(exchange, base) == Balance(asset=base, free=Decimal(0), locked=quantity)
    # Between the stop and the limit: the stop triggers, the limit sell is marketable.
    between = rules.quantise_price((stop + limit) / 2, Side.SELL)
    filled = await _fill_by_crossing(exchange, venue, order, between)
    assert filled.average_price is not None and filled.average_price >= limit
    # A quote amount at an arbitrary fill price: the venue may round the commission onto the
    # asset's precision (Binance: 8 decimals).
    [(asset, fee)] = filled.fees.items()
    expected = filled.quote_quantity * venue.fees.taker
    assert asset == quote and fee == pytest.approx(expected, abs=Decimal("0.00000001"))
    assert (await _balance(exchange, quote)).free == filled.quote_quantity - filled.fees[quote]


CHECKS: tuple[Check, ...] = (
    check_markets_carry_rules,
    check_ticker_and_book_follow_the_price,
    check_candles_are_oldest_first_and_consistent,
    check_market_buy_then_sell_settles_balances_and_fees,
    check_market_buy_by_quote_quantity_spends_at_most_that,
    check_limit_order_rests_locks_and_fills_as_maker_when_crossed,
    check_marketable_limit_fills_at_once_as_taker,
    check_cancel_is_idempotent_and_filled_orders_refuse_it,
    check_create_order_is_idempotent_on_client_order_id,
    check_get_order_by_either_id,
    check_insufficient_balance_is_refused,
    check_order_below_the_minimum_is_refused,
    check_orders_and_fills_list_oldest_first,
    check_tickers_of_every_market_at_once,
    check_fills_since_an_id_are_inclusive_and_oldest_first,
    check_open_orders_of_every_market_in_one_list,
)

# LIMIT_MAKER and STOP_LOSS_LIMIT, for the venues that offer them.
ORDER_TYPE_CHECKS: tuple[Check, ...] = (
    check_limit_maker_rests_or_is_refused_when_it_would_take,
    check_stop_loss_limit_waits_for_its_stop_then_sells,
)
