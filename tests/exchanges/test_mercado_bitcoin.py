"""MercadoBitcoinExchange against the simulator over real HTTP: every call, auth and token
renewal, local and venue refusals, limits, partial fills, idempotent retries, tiny prices."""

from __future__ import annotations

import time
from decimal import Decimal

import httpx
import pytest

from adapters.exchanges.errors import (
    AuthError,
    InsufficientBalance,
    InvalidOrder,
    OrderNotCancelable,
    OrderNotFound,
    RateLimited,
    UnknownSymbol,
)
from adapters.exchanges.mercado_bitcoin import ClientLimits, MercadoBitcoinExchange, Window
from adapters.exchanges.resilience import Resilience, RetryPolicy
from domain.market import Balance, OrderRequest, OrderStatus, OrderType, Side
from simulators.mercadobitcoin import RateLimits, running
from simulators.mercadobitcoin.config import Limit
from simulators.mercadobitcoin.server import RunningSim
from tests.exchanges.conftest_mercadobitcoin import MbControl, mb_adapter, mb_sim_config
from tests.exchanges.lost_answers import CountRequests, LoseAnswers


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


# -- market data -----------------------------------------------------------------------------


async def test_markets_carry_mb_published_rules(mb_exchange: MercadoBitcoinExchange) -> None:
    rules = await mb_exchange.market_rules("btc-brl")
    assert (rules.price_tick, rules.lot_step) == (Decimal("0.01"), Decimal("0.00000001"))
    assert (rules.min_quantity, rules.max_quantity) == (Decimal("0.0000015"), Decimal(8))
    assert (rules.min_notional, rules.max_notional) == (Decimal(1), Decimal(1000000))
    assert (await mb_exchange.market_rules("PEPE-BRL")).price_tick == Decimal("0.00000001")
    assert {m.symbol for m in await mb_exchange.markets()} >= {"BTC-BRL", "ETH-BTC"}
    with pytest.raises(UnknownSymbol):
        await mb_exchange.market_rules("NOPE-BRL")


async def test_ticker_book_and_candles(
    mb_exchange: MercadoBitcoinExchange, mb_control: MbControl
) -> None:
    await mb_control.set_price("BTC-BRL", Decimal("351234.56"))
    ticker = await mb_exchange.ticker("BTC-BRL")
    assert ticker.last == Decimal("351234.56") and ticker.bid < ticker.last < ticker.ask
    book = await mb_exchange.order_book("BTC-BRL", limit=4)
    assert len(book.bids) == len(book.asks) == 4
    assert (book.bids[0].price, book.asks[0].price) == (ticker.bid, ticker.ask)
    for interval in mb_exchange.intervals:
        candles = await mb_exchange.candles("BTC-BRL", interval, limit=2)
        assert 1 <= len(candles) <= 2 and candles[-1].close == Decimal("351234.56"), interval
    with pytest.raises(UnknownSymbol):
        await mb_exchange.ticker("NOPE-BRL")


async def test_replayed_candles_are_real_and_oldest_first(
    mb_exchange: MercadoBitcoinExchange, mb_control: MbControl
) -> None:
    await mb_control.post("/clock", {"advance_seconds": 3600})
    candles = await mb_exchange.candles("ETH-BTC", "1m", limit=30)
    assert len(candles) == 30
    assert [c.open_time for c in candles] == sorted(c.open_time for c in candles)
    assert all(Decimal("0.001") < c.low <= c.high < Decimal("0.01") for c in candles)


# -- auth ------------------------------------------------------------------------------------


async def test_bad_credentials_raise_auth_error(mb_sim: RunningSim) -> None:
    async with mb_adapter(mb_sim, password="wrong") as exchange:
        with pytest.raises(AuthError):
            await exchange.balances()


async def test_a_revoked_token_is_renewed_once_and_the_call_repeated(
    mb_exchange: MercadoBitcoinExchange, mb_control: MbControl
) -> None:
    await mb_exchange.balances()
    await mb_control.post("/tokens/expire")
    balances = await mb_exchange.balances()
    assert Balance(asset="BTC", free=Decimal(1), locked=Decimal(0)) in balances
    assert await mb_control.tokens_issued() == 2


async def test_the_token_is_cached_then_renewed_shortly_before_it_expires(
    mb_sim: RunningSim, mb_control: MbControl
) -> None:
    wall = [time.time()]  # the adapter's wall clock; the simulator issues one-hour tokens
    async with mb_adapter(mb_sim, wall_clock=lambda: wall[0], token_margin=60) as exchange:
        await exchange.balances()
        wall[0] += 3500  # still more than the margin left: cached
        await exchange.balances()
        assert await mb_control.tokens_issued() == 1
        wall[0] += 50  # inside the last minute: renewed before the call
        await exchange.balances()
        assert await mb_control.tokens_issued() == 2


# -- orders ----------------------------------------------------------------------------------


async def test_limit_order_lifecycle(
    mb_exchange: MercadoBitcoinExchange, mb_control: MbControl
) -> None:
    placed = await mb_exchange.create_order(_limit("life-1", "0.01", "340000.009"))
    # Quantised before it left: a buy price rounds down onto the tick.
    assert (placed.price, placed.quantity, placed.status) == (
        Decimal("340000.00"),
        Decimal("0.01"),
        OrderStatus.NEW,
    )
    assert placed.client_order_id == "life-1"
    brl = next(b for b in await mb_exchange.balances() if b.asset == "BRL")
    assert (brl.free, brl.locked) == (Decimal(100000) - Decimal(3400), Decimal(3400))
    assert await mb_exchange.get_order("BTC-BRL", client_order_id="life-1") == placed
    assert [o.order_id for o in await mb_exchange.open_orders("BTC-BRL")] == [placed.order_id]
    assert [o.client_order_id for o in await mb_exchange.open_orders()] == ["life-1"]
    canceled = await mb_exchange.cancel_order("BTC-BRL", order_id=placed.order_id)
    assert canceled.status is OrderStatus.CANCELED
    assert await mb_exchange.open_orders() == []
    assert (await mb_exchange.recent_orders("BTC-BRL"))[-1].status is OrderStatus.CANCELED


async def test_market_orders_fill_with_taker_fees_and_list_fills(
    mb_exchange: MercadoBitcoinExchange,
) -> None:
    bought = await mb_exchange.create_order(_market("mkt-buy", "0.01"))
    assert bought.status is OrderStatus.FILLED and bought.average_price == Decimal(350000)
    assert bought.fees == {"BTC": Decimal("0.01") * Decimal("0.007")}
    assert bought.quote_quantity == Decimal(3500)
    by_cost = await mb_exchange.create_order(
        OrderRequest(
            client_order_id="mkt-cost",
            symbol="BTC-BRL",
            side=Side.BUY,
            type=OrderType.MARKET,
            quote_quantity=Decimal(700),
        )
    )
    assert by_cost.filled_quantity == Decimal("0.002") and by_cost.quote_quantity == Decimal(700)
    fills = await mb_exchange.fills("BTC-BRL")
    assert [(f.order_id, {f.fee_asset: f.fee}) for f in fills] == [
        (bought.order_id, bought.fees),
        (by_cost.order_id, by_cost.fees),
    ]
    assert [o.order_id for o in await mb_exchange.recent_orders("BTC-BRL", limit=1)] == [
        by_cost.order_id
    ]


async def test_partial_fills_are_reported_until_filled() -> None:
    async with running(mb_sim_config(partial_fill_ratio=Decimal("0.5"))) as sim:
        control = MbControl(sim)
        async with mb_adapter(sim) as exchange:
            order = await exchange.create_order(_limit("part-1", "0.04", "340000"))
            await control.set_price("BTC-BRL", Decimal("339000"))
            half = await exchange.get_order("BTC-BRL", order_id=order.order_id)
            assert half.status is OrderStatus.PARTIALLY_FILLED
            assert half.filled_quantity == Decimal("0.02")
            assert half.fees == {"BTC": Decimal("0.02") * Decimal("0.003")}  # maker
            await control.set_price("BTC-BRL", Decimal("339000"))
            await control.set_price("BTC-BRL", Decimal("339000"))
            rest = await exchange.get_order("BTC-BRL", order_id=order.order_id)
            assert rest.filled_quantity == Decimal("0.035")
            fills = await exchange.fills("BTC-BRL")
            assert [f.quantity for f in fills] == [
                Decimal("0.02"),
                Decimal("0.01"),
                Decimal("0.005"),
            ]
        await control.http.aclose()


async def test_cancel_of_a_filled_order_is_refused(mb_exchange: MercadoBitcoinExchange) -> None:
    filled = await mb_exchange.create_order(_market("fill-1", "0.001"))
    with pytest.raises(OrderNotCancelable):
        await mb_exchange.cancel_order("BTC-BRL", order_id=filled.order_id)


async def test_unknown_orders_raise_order_not_found(mb_exchange: MercadoBitcoinExchange) -> None:
    with pytest.raises(OrderNotFound):
        await mb_exchange.get_order("BTC-BRL", order_id="999")
    with pytest.raises(OrderNotFound):
        await mb_exchange.get_order("BTC-BRL", client_order_id="never")
    with pytest.raises(OrderNotFound):
        await mb_exchange.cancel_order("BTC-BRL", order_id="999")


async def test_insufficient_balance_is_refused_by_the_venue(
    mb_exchange: MercadoBitcoinExchange, mb_control: MbControl
) -> None:
    with pytest.raises(InsufficientBalance):
        await mb_exchange.create_order(_limit("poor-1", "1", "340000"))
    with pytest.raises(InsufficientBalance):
        await mb_exchange.create_order(_market("poor-2", "2", Side.SELL))
    assert await mb_control.orders() == []


@pytest.mark.parametrize(
    ("request_", "rule"),
    [
        (_limit("tiny-qty", "0.000001", "340000"), "quantity_range"),  # under min-volume
        (_limit("tiny-cost", "0.000002", "340000"), "notional"),  # under min-cost
        (_limit("low-price", "0.01", "10"), "price_range"),  # under min-price
        (_market("too-big", "9"), "quantity_range"),  # over max-volume
        (
            OrderRequest(
                client_order_id="maker-low",
                symbol="BTC-BRL",
                side=Side.BUY,
                type=OrderType.LIMIT_MAKER,
                quantity=Decimal("0.01"),
                price=Decimal(10),
            ),
            "price_range",
        ),
        (
            OrderRequest(
                client_order_id="sell-cost",
                symbol="BTC-BRL",
                side=Side.SELL,
                type=OrderType.MARKET,
                quote_quantity=Decimal(100),
            ),
            "request",  # MB spends a quote amount on market buys only
        ),
    ],
    ids=lambda r: r.client_order_id if isinstance(r, OrderRequest) else "",
)
async def test_orders_the_venue_would_refuse_are_refused_locally(
    mb_exchange: MercadoBitcoinExchange, mb_control: MbControl, request_: OrderRequest, rule: str
) -> None:
    with pytest.raises(InvalidOrder) as refused:
        await mb_exchange.create_order(request_)
    assert refused.value.code == rule
    assert await mb_control.orders() == []  # nothing reached the venue


async def test_tiny_prices_round_trip_exactly(
    mb_exchange: MercadoBitcoinExchange, mb_control: MbControl
) -> None:
    await mb_control.fund("BRL", Decimal(5))
    rest = await mb_exchange.create_order(
        _limit("pepe-1", "1000000", "0.00000122", symbol="PEPE-BRL")
    )
    assert rest.price == Decimal("0.00000122") and rest.status is OrderStatus.NEW
    await mb_control.set_price("PEPE-BRL", Decimal("0.00000121"))
    filled = await mb_exchange.get_order("PEPE-BRL", order_id=rest.order_id)
    assert filled.status is OrderStatus.FILLED and filled.average_price == Decimal("0.00000122")
    assert filled.quote_quantity == Decimal("1.22")
    ticker = await mb_exchange.ticker("PEPE-BRL")
    assert ticker.last == Decimal("0.00000121")
    pepe = next(b for b in await mb_exchange.balances() if b.asset == "PEPE")
    assert pepe.free == Decimal(1000000) - Decimal(1000000) * Decimal("0.003")


# -- limits ----------------------------------------------------------------------------------


class VenueTime:
    """The adapter's clock in the limit tests: time passes only when the adapter waits, and each
    wait moves the simulator's clock (and its rate-limit windows) on by as much. The windows are
    a minute long, so how slowly the machine runs between two calls does not matter."""

    def __init__(self, sim: RunningSim) -> None:
        self._sim = sim
        self._now = 0.0
        self.waits: list[float] = []

    def monotonic(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self._now += seconds
        async with httpx.AsyncClient(base_url=self._sim.url) as http:
            advanced = await http.post("/_sim/clock", json={"advance_seconds": seconds})
            advanced.raise_for_status()


async def test_a_venue_429_raises_rate_limited_without_retry_and_is_waited_out_with_it() -> None:
    limits = RateLimits(public=Limit(requests=1, per_seconds=60))
    async with running(mb_sim_config(rate_limits=limits)) as sim:
        async with mb_adapter(sim, retry=False, markets_ttl=0) as exchange:
            await exchange.markets()
            with pytest.raises(RateLimited) as caught:
                await exchange.markets()
        refused_for = caught.value.retry_after
        assert refused_for is not None and 1 <= refused_for <= 60
        clock = VenueTime(sim)
        policy = RetryPolicy(base_delay=0.01, max_delay=0.05, max_retry_after=60)
        resilience = Resilience("mercadobitcoin", policy=policy, clock=clock)
        async with mb_adapter(sim, resilience=resilience, clock=clock) as exchange:
            # The window is still closed: one 429, waited out for its Retry-After, then served.
            assert await exchange.markets()
        assert len(clock.waits) == 1 and 1 <= clock.waits[0] <= refused_for


async def test_client_throttling_keeps_under_the_venue_limit() -> None:
    limits = RateLimits(public=Limit(requests=2, per_seconds=60))
    async with running(mb_sim_config(rate_limits=limits)) as sim:
        clock = VenueTime(sim)
        ours = ClientLimits(public=Window(2, 60.0))
        async with mb_adapter(sim, retry=False, limits=ours, clock=clock) as exchange:
            for _ in range(5):  # without our throttle the third call is the venue's 429
                await exchange.ticker("BTC-BRL")
        # Two calls per window: the third and the fifth waited for a window to pass.
        assert clock.waits == [60.0, 60.0]


# -- idempotency -----------------------------------------------------------------------------


@pytest.mark.parametrize("retry", [True, False])
async def test_a_timed_out_order_is_found_not_placed_twice(
    mb_sim: RunningSim, mb_control: MbControl, retry: bool
) -> None:
    network = LoseAnswers("POST", "/BTC-BRL/orders")  # placed, then the answer times out
    async with mb_adapter(mb_sim, transport=network, retry=retry) as exchange:
        order = await exchange.create_order(_limit("slow-1", "0.01", "340000"))
    assert order.client_order_id == "slow-1" and order.status is OrderStatus.NEW
    assert len(network.lost) == 1
    assert [o["externalId"] for o in await mb_control.orders()] == ["slow-1"]


async def test_an_order_held_inside_the_venue_is_looked_up_not_placed_again(
    mb_sim: RunningSim, mb_control: MbControl
) -> None:
    """MB holds the placement 3 s, the client gives up after 1 s: the order is in doubt and
    looked up by externalId within the window; no second placement is even sent."""
    await mb_control.post("/faults/order_hold", {"seconds": 3})
    network = CountRequests()
    async with mb_adapter(
        mb_sim, transport=network, timeout=1.0, settle_window=6.0, lookup_delay=0.5
    ) as exchange:
        order = await exchange.create_order(_market("held-mb", "0.001"))
    assert order.client_order_id == "held-mb" and order.status is OrderStatus.FILLED
    placements = [n for k, n in network.sent.items() if k.startswith("POST /api/v4/accounts/")]
    assert placements == [1]
    assert [o["externalId"] for o in await mb_control.orders()] == ["held-mb"]


async def test_a_5xx_after_placing_is_followed_by_a_lookup_not_a_second_order(
    mb_exchange: MercadoBitcoinExchange, mb_control: MbControl
) -> None:
    await mb_control.post("/faults/errors", {"count": 1, "status": 503, "after_processing": True})
    order = await mb_exchange.create_order(_limit("flaky-1", "0.01", "340000"))
    assert order.client_order_id == "flaky-1"
    again = await mb_exchange.create_order(_limit("flaky-1", "0.01", "340000"))
    assert again.order_id == order.order_id
    assert [o["externalId"] for o in await mb_control.orders()] == ["flaky-1"]


async def test_a_5xx_before_placing_is_retried_once_its_window_is_over(
    mb_sim: RunningSim, mb_control: MbControl
) -> None:
    async with mb_adapter(mb_sim, settle_window=1.0, lookup_delay=0.25) as exchange:
        await exchange.markets()
        await mb_control.post("/faults/errors", {"count": 2, "status": 500})
        order = await exchange.create_order(_limit("retry-1", "0.01", "340000"))
    assert [o["id"] for o in await mb_control.orders()] == [order.order_id]
