"""`BinanceExchange` against the simulator over real HTTP: data, orders, local filters,
errors, rate limits, clock skew, partial fills and idempotent order creation."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from adapters.exchanges.binance import BinanceExchange
from adapters.exchanges.errors import (
    AuthError,
    InsufficientBalance,
    InvalidOrder,
    OrderNotCancelable,
    OrderNotFound,
    RateLimited,
    UnknownSymbol,
)
from domain.market import OrderRequest, OrderStatus, OrderType, Side
from tests.exchanges.conftest_binance import BinanceSim, SimFactory
from tests.exchanges.lost_answers import LoseAnswers


def _limit(
    cid: str, quantity: str, price: str, side: Side = Side.BUY, symbol: str = "BTC-BRL"
) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid,
        symbol=symbol,
        side=side,
        type=OrderType.LIMIT,
        quantity=Decimal(quantity),
        price=Decimal(price),
    )


def _market(cid: str, quantity: str, side: Side = Side.BUY) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid,
        symbol="BTC-BRL",
        side=side,
        type=OrderType.MARKET,
        quantity=Decimal(quantity),
    )


async def _posts(sim: BinanceSim) -> int:
    requests: dict[str, int] = (await sim.stats())["requests"]
    return requests.get("POST /api/v3/order", 0)


# -- market data -------------------------------------------------------------------------------


async def test_markets_convert_symbols_and_carry_filters(binance_exchange: BinanceExchange) -> None:
    markets = {m.symbol: m for m in await binance_exchange.markets()}
    assert set(markets) == {"BTC-BRL", "ETH-BRL", "XLM-BTC", "ETH-BTC"}
    xlm = await binance_exchange.market_rules("xlm-btc")
    assert (xlm.price_tick, xlm.lot_step, xlm.min_quantity, xlm.min_notional) == (
        Decimal("0.00000001"),
        Decimal(1),
        Decimal(1),
        Decimal("0.0001"),
    )
    with pytest.raises(UnknownSymbol):
        await binance_exchange.ticker("DOGE-BRL")


async def test_ticker_book_and_candles(binance_exchange: BinanceExchange) -> None:
    ticker = await binance_exchange.ticker("XLM-BTC")
    assert (ticker.symbol, ticker.last, ticker.bid, ticker.ask) == (
        "XLM-BTC",
        Decimal("0.00000123"),
        Decimal("0.00000122"),
        Decimal("0.00000124"),
    )
    book = await binance_exchange.order_book("ETH-BTC", limit=10)
    assert len(book.bids) == len(book.asks) == 10 and book.bids[0].price < book.asks[0].price
    month = await binance_exchange.candles("ETH-BTC", "1M", limit=2)
    assert 1 <= len(month) <= 2 and month[-1].open_time.day == 1


async def test_candles_page_past_1000_oldest_first(binance_exchange: BinanceExchange) -> None:
    candles = await binance_exchange.candles("ETH-BTC", "1m", limit=1200)
    assert len(candles) == 1200
    steps = {b.open_time - a.open_time for a, b in itertools.pairwise(candles)}
    assert steps == {timedelta(minutes=1)}
    start = candles[0].open_time
    window = await binance_exchange.candles(
        "ETH-BTC", "1m", start=start, end=start + timedelta(minutes=4)
    )
    assert [c.open_time for c in window] == [start + timedelta(minutes=i) for i in range(5)]
    assert window == candles[:5]


# -- orders --------------------------------------------------------------------------------------


async def test_tiny_prices_round_trip_as_exact_decimals(
    binance_sim: BinanceSim, binance_exchange: BinanceExchange, binance_account: tuple[str, str]
) -> None:
    await binance_sim.deposit(binance_account[0], "BTC", Decimal("0.01"))
    order = await binance_exchange.create_order(
        _limit("tiny-1", "100", "0.00000120", symbol="XLM-BTC")
    )
    assert order.price == Decimal("0.00000120") and format(order.price, "f") == "0.00000120"
    fetched = await binance_exchange.get_order("XLM-BTC", client_order_id="tiny-1")
    assert fetched.price == Decimal("0.0000012") and fetched.quantity == 100
    balances = {b.asset: b for b in await binance_exchange.balances()}
    assert balances["BTC"].locked == Decimal("0.00012")
    assert balances["BTC"].free == Decimal("0.01") - Decimal("0.00012")


async def test_orders_are_quantised_before_they_leave(
    binance_sim: BinanceSim, binance_exchange: BinanceExchange, binance_account: tuple[str, str]
) -> None:
    await binance_sim.deposit(binance_account[0], "BRL", Decimal(1000))
    order = await binance_exchange.create_order(_limit("quant-1", "0.000159", "300000.009"))
    assert (order.quantity, order.price) == (Decimal("0.00015"), Decimal("300000.00"))
    sell_side = await binance_exchange.market_rules("BTC-BRL")
    assert sell_side.quantise_price(Decimal("300000.001"), Side.SELL) == Decimal("300000.01")


async def test_filter_violations_are_refused_locally(
    binance_sim: BinanceSim, binance_exchange: BinanceExchange, binance_account: tuple[str, str]
) -> None:
    await binance_sim.deposit(binance_account[0], "BRL", Decimal(1000))
    await binance_exchange.markets()
    posts = await _posts(binance_sim)
    for request in (
        _limit("tiny-notional", "0.00002", "300000"),  # 6 BRL < NOTIONAL 10
        _limit("below-lot", "0.000009", "300000"),  # quantises to 0
        _market("too-big", "101"),  # MARKET_LOT_SIZE max 100
    ):
        with pytest.raises(InvalidOrder):
            await binance_exchange.create_order(request)
    assert await _posts(binance_sim) == posts  # nothing reached the venue


async def test_insufficient_balance_unknown_orders_and_bad_secret(
    binance_sim: BinanceSim, binance_exchange: BinanceExchange, binance_account: tuple[str, str]
) -> None:
    with pytest.raises(InsufficientBalance):
        await binance_exchange.create_order(_limit("poor", "0.001", "300000"))
    with pytest.raises(OrderNotFound):
        await binance_exchange.get_order("BTC-BRL", order_id="999999")
    with pytest.raises(OrderNotFound):
        await binance_exchange.cancel_order("BTC-BRL", client_order_id="never")
    async with binance_sim.exchange(binance_account[0], "wrong-secret") as wrong:
        with pytest.raises(AuthError):
            await wrong.balances()


async def test_cancel_of_a_filled_order_is_not_cancelable(
    binance_sim: BinanceSim, binance_exchange: BinanceExchange, binance_account: tuple[str, str]
) -> None:
    await binance_sim.set_price("BTCBRL", Decimal(350000))
    await binance_sim.deposit(binance_account[0], "BRL", Decimal(1000))
    filled = await binance_exchange.create_order(_market("fill-then-cancel", "0.0001"))
    assert filled.status is OrderStatus.FILLED
    assert filled.fees == {"BTC": Decimal("0.0000001")}
    with pytest.raises(OrderNotCancelable):
        await binance_exchange.cancel_order("BTC-BRL", order_id=filled.order_id)


async def test_partial_fills_then_cancel_releases_the_rest(binance_sim_factory: SimFactory) -> None:
    sim = binance_sim_factory(partial_fill_ratio=Decimal("0.5"))
    key, secret = await sim.account(BRL="1000")
    async with sim.exchange(key, secret) as exchange:
        order = await exchange.create_order(_limit("partial", "0.0004", "340000"))
        assert order.status is OrderStatus.NEW
        assert await sim.set_price("BTCBRL", Decimal(339000)) == 1
        half = await exchange.get_order("BTC-BRL", order_id=order.order_id)
        assert half.status is OrderStatus.PARTIALLY_FILLED
        assert (half.filled_quantity, half.quote_quantity) == (Decimal("0.0002"), Decimal(68))
        assert half.fees == {"BTC": Decimal("0.0000002")}
        [open_order] = await exchange.open_orders()
        assert open_order == half
        canceled = await exchange.cancel_order("BTC-BRL", client_order_id="partial")
        assert canceled.status is OrderStatus.CANCELED
        assert canceled.filled_quantity == Decimal("0.0002")
        balances = {b.asset: b for b in await exchange.balances()}
        assert balances["BRL"].free == Decimal(932) and balances["BRL"].locked == 0
        assert balances["BTC"].free == Decimal("0.0001998")
        [fill] = await exchange.fills("BTC-BRL")
        assert (fill.order_id, fill.price, fill.quantity) == (
            order.order_id,
            Decimal(340000),
            Decimal("0.0002"),
        )
        assert [o.status for o in await exchange.recent_orders("BTC-BRL")] == [OrderStatus.CANCELED]


# -- limits and clocks ---------------------------------------------------------------------------


async def test_rate_limited_then_recovers_after_retry_after(
    binance_sim_factory: SimFactory,
) -> None:
    sim = binance_sim_factory(weight_limit=40, weight_window_seconds=2)
    key, secret = await sim.account()
    async with (
        sim.exchange(key, secret) as patient,
        sim.exchange(key, secret, retry=False) as single,
    ):
        await patient.markets()
        await single.markets()
        # Early in a new window: an adapter that saw this one full would wait, not send.
        await asyncio.sleep(2 - time.time() % 2 + 2.1)
        while (await sim.http.get("/api/v3/exchangeInfo")).status_code != 429:
            pass  # another client of the same IP eats the rest of the window (weight 20)
        with pytest.raises(RateLimited) as limited:
            await single.ticker("BTC-BRL")
        assert limited.value.retry_after is not None and 0 < limited.value.retry_after <= 2
        ticker = await patient.ticker("BTC-BRL")  # waits out Retry-After, then succeeds
    assert ticker.last == Decimal(350000)
    assert "418" not in (await sim.stats())["statuses"]


async def test_throttles_itself_below_the_weight_limit(binance_sim_factory: SimFactory) -> None:
    sim = binance_sim_factory(weight_limit=30, weight_window_seconds=2)
    key, secret = await sim.account()
    async with sim.exchange(key, secret) as exchange:
        for _ in range(6):  # 20 (exchangeInfo) + 6 x 2: more than one window allows
            await exchange.ticker("BTC-BRL")
    statuses = (await sim.stats())["statuses"]
    assert statuses == {"200": 7}


@pytest.mark.parametrize("offset_ms", [-10_000, 10_000])
async def test_clock_skew_resyncs_and_retries_once(
    binance_sim_factory: SimFactory, offset_ms: int
) -> None:
    sim = binance_sim_factory()
    key, secret = await sim.account(BRL="5")
    await sim.clock(offset_ms=offset_ms)
    async with sim.exchange(key, secret, retry=False) as exchange:
        balances = await exchange.balances()
        assert [(b.asset, b.free) for b in balances] == [("BRL", Decimal(5))]
        await exchange.balances()  # the offset is learnt: no second resync
    stats = await sim.stats()
    assert stats["requests"]["GET /api/v3/time"] == 1
    assert stats["statuses"] == {"200": 3, "400": 1}


# -- idempotent order creation -------------------------------------------------------------------


async def test_timeout_after_placing_finds_the_order_instead_of_placing_twice(
    binance_sim_factory: SimFactory,
) -> None:
    sim = binance_sim_factory()
    key, secret = await sim.account(BRL="1000")
    network = LoseAnswers("POST", "/api/v3/order")  # placed, then the answer times out
    async with (
        httpx.AsyncClient(base_url=sim.base_url, transport=network) as http,
        sim.exchange(key, secret, http_client=http, lookup_delay=0.01) as exchange,
    ):
        order = await exchange.create_order(_market("lost-answer", "0.0001"))
        assert order.client_order_id == "lost-answer" and order.status is OrderStatus.FILLED
        assert order.fees == {"BTC": Decimal("0.0000001")}
        assert [o.order_id for o in await exchange.recent_orders("BTC-BRL")] == [order.order_id]
    assert network.lost == ["/api/v3/order"]
    stats = await sim.stats()
    assert stats["orders_placed"] == 1 and stats["requests"]["POST /api/v3/order"] == 1


async def test_5xx_after_placing_finds_the_order(binance_sim_factory: SimFactory) -> None:
    sim = binance_sim_factory()
    key, secret = await sim.account(BRL="1000")
    await sim.fault(path="/api/v3/order", method="POST", status=503, after_processing=True)
    async with sim.exchange(key, secret, lookup_delay=0.01) as exchange:
        order = await exchange.create_order(_market("lost-5xx", "0.0001"))
    assert order.status is OrderStatus.FILLED
    stats = await sim.stats()
    assert stats["orders_placed"] == 1 and stats["requests"]["POST /api/v3/order"] == 1


async def test_without_retries_a_lost_answer_is_looked_up_within_the_call(
    binance_sim_factory: SimFactory,
) -> None:
    """Inside a Temporal activity (retry=False) one attempt already settles its own doubt."""
    sim = binance_sim_factory()
    key, secret = await sim.account(BRL="1000")
    await sim.fault(path="/api/v3/order", method="POST", status=504, after_processing=True)
    async with sim.exchange(key, secret, retry=False, lookup_delay=0.01) as exchange:
        order = await exchange.create_order(_market("activity-1", "0.0001"))
    assert order.status is OrderStatus.FILLED
    stats = await sim.stats()
    assert stats["orders_placed"] == 1 and stats["requests"]["POST /api/v3/order"] == 1


async def test_permissions_report_the_keys_withdrawal_right(binance_sim: BinanceSim) -> None:
    safe = await binance_sim.account(BRL="10")
    response = await binance_sim.http.post(
        "/_sim/accounts",
        json={
            "api_key": "withdrawer-key",
            "secret": "withdrawer-secret",
            "enable_withdrawals": True,
        },
    )
    assert response.status_code == 201
    async with binance_sim.exchange(*safe) as exchange:
        assert (await exchange.permissions()).can_withdraw is False
    async with binance_sim.exchange("withdrawer-key", "withdrawer-secret") as exchange:
        permissions = await exchange.permissions()
    assert permissions.can_withdraw is True and permissions.can_trade is True
