"""Attacks on the never-duplicate rule with long-lived, shared adapters (issue 10 review).

An adapter is now lent to every caller of one key in a process, so two calls with one client
order id (an activity retried while its first attempt still runs, a caller that gave up and
asks again) meet on the same instance: its memory of orders in doubt must hold for both."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from adapters.exchanges.binance import BinanceExchange
from adapters.exchanges.binance.user_stream import BinanceUserStream
from adapters.exchanges.budget import Budget, Limit, MemoryBudgetStore, WindowKey
from adapters.exchanges.errors import RateLimited
from adapters.exchanges.factory import ExchangeFactory
from adapters.settings import Environment, Settings
from domain.market import Fill, Order, OrderRequest, OrderStatus, OrderType, Side, Venue
from simulators.mercadobitcoin.server import RunningSim
from tests.exchanges.conftest_binance import BinanceSim, SimFactory
from tests.exchanges.conftest_mercadobitcoin import MbControl, mb_adapter
from tests.exchanges.streams_support import Collector, fast, ws_url
from tests.exchanges.test_binance_lost_answers import (
    CLIENT_TIMEOUT,
    _held_placement,
    _market,
    _quiet,
    _until,
)


async def test_a_call_cancelled_while_its_placement_is_in_flight_leaves_it_in_doubt(
    binance_sim_factory: SimFactory,
) -> None:
    """The first call is cancelled after its POST left (held inside the venue); a second call
    with the same client order id on the same instance must look it up, not place again."""
    sim, key, secret = await _held_placement(binance_sim_factory)
    async with sim.exchange(key, secret, retry=False, lookup_delay=0.5) as exchange:
        attempt = asyncio.create_task(exchange.create_order(_market("cancelled-1")))
        await _until(sim, "POST /api/v3/order")
        attempt.cancel()
        order = await exchange.create_order(_market("cancelled-1"))
    assert order.status is OrderStatus.FILLED
    stats = await _quiet(sim)
    assert stats["orders_placed"] == 1 and stats["requests"]["POST /api/v3/order"] == 1


async def test_two_calls_settling_one_order_in_doubt_both_get_it(
    binance_sim_factory: SimFactory,
) -> None:
    """Two callers of one adapter settle the same client order id at once: both are answered
    with the order (the second to finish must not trip over the first's bookkeeping)."""
    sim, key, secret = await _held_placement(binance_sim_factory)
    async with sim.exchange(
        key, secret, retry=False, timeout=CLIENT_TIMEOUT, lookup_delay=0.5
    ) as exchange:
        first = asyncio.create_task(exchange.create_order(_market("twice-1")))
        await _until(sim, "GET /api/v3/order")  # timed out, now looking it up
        second = await exchange.create_order(_market("twice-1"), maybe_sent=True)
        order = await first
    assert order.order_id == second.order_id and order.status is OrderStatus.FILLED
    stats = await _quiet(sim)
    assert stats["orders_placed"] == 1 and stats["requests"]["POST /api/v3/order"] == 1


async def test_two_calls_settling_one_mercado_bitcoin_order_both_get_it(
    mb_sim: RunningSim, mb_control: MbControl
) -> None:
    """The same on Mercado Bitcoin: MB holds the placement 3 s, the client gives up after 1 s,
    and a second caller of the adapter settles the same externalId meanwhile."""
    await mb_control.post("/faults/order_hold", {"seconds": 3})
    request = OrderRequest(
        client_order_id="twice-mb",
        symbol="BTC-BRL",
        side=Side.BUY,
        type=OrderType.MARKET,
        quantity=Decimal("0.001"),
    )
    async with mb_adapter(
        mb_sim, retry=False, timeout=1.0, settle_window=6.0, lookup_delay=0.5
    ) as exchange:
        first = asyncio.create_task(exchange.create_order(request))
        await asyncio.sleep(0.5)  # its placement is on the way or in doubt: both settle it
        second = await exchange.create_order(request, maybe_sent=True)
        order = await first
    assert order.order_id == second.order_id and order.status is OrderStatus.FILLED
    assert [o["externalId"] for o in await mb_control.orders()] == ["twice-mb"]


async def test_a_block_that_arrives_while_a_request_waits_for_the_next_window_stops_it() -> None:
    """At the limit, requests wait for the next window; a Retry-After (a 429 another request
    met) or a ban another process recorded meanwhile must stop them when they wake, not let
    them all go out at the window's start (calling on while limited earns the 418 ban)."""
    now = [103.0]
    store = MemoryBudgetStore()
    blocks: list[Callable[[], Awaitable[None]]] = []

    async def sleep(seconds: float) -> None:
        now[0] += seconds
        while blocks:  # what arrives while this request waits
            await blocks.pop()()

    limits = [Limit("WEIGHT", "ip", 100, 10), Limit("ORDERS", "account", 10, 10)]
    budget = Budget("binance", limits, store=store, clock=lambda: now[0], sleep=sleep, host="h")
    for _ in range(9):  # the limit less its headroom
        await budget.spend({"ORDERS": 1}, account="account:a")
    blocks.append(lambda: budget.block(3600, account="account:a"))
    with pytest.raises(RateLimited):
        await budget.spend({"ORDERS": 1}, account="account:a")

    for _ in range(9):
        await budget.spend({"WEIGHT": 10})
    until = datetime.fromtimestamp(now[0] + 3600, UTC)
    blocks.append(lambda: store.block("binance", "ip:h", until))  # another process's 418
    with pytest.raises(RateLimited):
        await budget.spend({"WEIGHT": 10})


class FillDuringResync:
    """The real adapter as the user stream's REST fallback; once armed, the market moves
    through the resting order right after the resync has read the open orders (a fill that
    lands between the resync's reads)."""

    def __init__(self, exchange: BinanceExchange, sim: BinanceSim) -> None:
        self._exchange, self._sim = exchange, sim
        self.armed = False

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        orders = await self._exchange.open_orders(symbol)
        if self.armed:
            self.armed = False
            assert await self._sim.set_price("BTCBRL", Decimal(344000)) == 1
        return orders

    async def fills_since(
        self, symbol: str, from_id: str | None = None, limit: int = 500
    ) -> list[Fill]:
        return await self._exchange.fills_since(symbol, from_id, limit)

    async def fills(self, symbol: str, limit: int = 100) -> list[Fill]:
        return await self._exchange.fills(symbol, limit)

    async def get_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        return await self._exchange.get_order(
            symbol, order_id=order_id, client_order_id=client_order_id
        )


async def test_a_fill_between_the_resyncs_reads_still_reports_the_order_filled(
    binance_sim_factory: SimFactory,
) -> None:
    """The order fills after the resync read it open: its fill must come with (or be followed
    by) the order FILLED, once; not the fill with the order still NEW and nothing after it
    until the next reconnect (a grid bot would wait on it for up to a day)."""
    sim = binance_sim_factory()
    key, secret = await sim.account(BRL="1000")
    await sim.set_price("BTCBRL", Decimal(350000))
    async with sim.exchange(key, secret) as exchange:
        rest = FillDuringResync(exchange, sim)
        stream = BinanceUserStream(
            rest, key, secret, ["BTC-BRL"], url=f"{ws_url(sim)}/ws-api/v3", backoff=fast()
        )
        collector = Collector(stream)
        try:
            await collector.connected()
            placed = await exchange.create_order(
                OrderRequest(
                    client_order_id="between-1",
                    symbol="BTC-BRL",
                    side=Side.BUY,
                    type=OrderType.LIMIT,
                    quantity=Decimal("0.001"),
                    price=Decimal(345000),
                )
            )
            await collector.next(lambda u: u.order.order_id == placed.order_id)
            rest.armed = True
            await sim.http.post("/_sim/ws/drop", json={"refuse_seconds": 0.2})
            seen = [await collector.next(lambda u: u.fill is not None)]
            await collector.connected(times=2)
            await asyncio.sleep(0.5)
            while not collector.updates.empty():  # whatever followed the fill
                seen.append(collector.updates.get_nowait())
            mine = [u for u in seen if u.order.order_id == placed.order_id]
            assert len([u for u in mine if u.fill is not None]) == 1
            assert mine[-1].order.status is OrderStatus.FILLED, [u.order.status for u in mine]
        finally:
            await collector.close()


async def test_a_key_whose_adapter_left_the_cache_while_lent_gets_that_adapter_again() -> None:
    """Over capacity a lent adapter leaves the cache but lives on; lending its key again must
    not build a second one beside it (two adapters of one key split what must be one: the
    orders in doubt and their per-client-order-id turns, Mercado Bitcoin's per-key windows)."""
    settings = Settings(
        _env_file=None, environment=Environment.TEST, binance_base_url="http://127.0.0.1:9"
    )
    factory = ExchangeFactory(settings, max_adapters=1)
    try:
        held = factory.connect(Venue.BINANCE, "a" * 64, "s" * 64)
        other = factory.connect(Venue.BINANCE, "b" * 64, "s" * 64)  # evicts the lent one
        again = factory.connect(Venue.BINANCE, "a" * 64, "s" * 64)
        assert again.adapter is held.adapter  # type: ignore[attr-defined]
        await held.aclose()
        await other.aclose()
        await again.aclose()
    finally:
        await factory.aclose()


async def test_one_accounts_order_limit_does_not_open_the_venue_for_every_user(
    binance_sim_factory: SimFactory,
) -> None:
    """One circuit breaker per venue serves every user: an account over its order limit
    (-1015, then refused locally until its Retry-After) is no sign the venue is down, and
    must not stop every other user's calls (their cancels included) for the cool-down."""
    sim = binance_sim_factory()
    (key, secret), (other, other_secret) = await sim.account(BRL="1000"), await sim.account()
    await sim.set_price("BTCBRL", Decimal(350000))
    settings = Settings(_env_file=None, environment=Environment.TEST, binance_base_url=sim.base_url)
    factory = ExchangeFactory(settings)
    try:
        busy = factory.connect(Venue.BINANCE, key, secret, retry=False)
        await busy.markets()  # the limits Binance announced: 100 orders per 10 s
        await sim.limits(orders_per_10s=1)  # ... and now it counts fewer
        await busy.create_order(_market("limit-1"))
        with pytest.raises(RateLimited):
            await busy.create_order(_market("limit-2"))  # 429 -1015
        for _ in range(4):  # its bots call on meanwhile
            with pytest.raises(RateLimited) as refused:  # refused here, never sent
                await busy.balances()
            assert refused.type is RateLimited
        bystander = factory.connect(Venue.BINANCE, other, other_secret, retry=False)
        assert await bystander.balances() is not None
    finally:
        await factory.aclose()


class TradeDuringResync(FillDuringResync):
    """Once armed, an order is placed and filled at once as the resync starts reading: its
    events (NEW, then TRADE) wait on the new subscription while REST already shows it FILLED."""

    placed: Order | None = None
    resyncs = 0

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        self.resyncs += 1  # a resync's last read
        return await self._exchange.open_orders(symbol)

    async def fills_since(
        self, symbol: str, from_id: str | None = None, limit: int = 500
    ) -> list[Fill]:
        if self.armed:
            self.armed = False
            self.placed = await self._exchange.create_order(
                OrderRequest(
                    client_order_id="stale-1",
                    symbol="BTC-BRL",
                    side=Side.BUY,
                    type=OrderType.LIMIT,
                    quantity=Decimal("0.001"),
                    price=Decimal(351000),  # through the ask: filled as it arrives
                )
            )
        return await self._exchange.fills_since(symbol, from_id, limit)


async def test_events_older_than_the_resync_never_take_an_order_back(
    binance_sim_factory: SimFactory,
) -> None:
    """The resync reports the order FILLED with its fill; the stream's own NEW for it, queued
    on the new subscription meanwhile, must not follow and make it open again."""
    sim = binance_sim_factory()
    key, secret = await sim.account(BRL="1000")
    await sim.set_price("BTCBRL", Decimal(350000))
    async with sim.exchange(key, secret) as exchange:
        rest = TradeDuringResync(exchange, sim)
        stream = BinanceUserStream(
            rest, key, secret, ["BTC-BRL"], url=f"{ws_url(sim)}/ws-api/v3", backoff=fast()
        )
        collector = Collector(stream)
        try:
            await collector.connected()
            async with asyncio.timeout(5):
                while not rest.resyncs:  # the first connect's resync is over
                    await asyncio.sleep(0.01)
            rest.armed = True
            await sim.http.post("/_sim/ws/drop", json={"refuse_seconds": 0.2})
            seen = [await collector.next(lambda u: u.fill is not None)]
            await asyncio.sleep(0.5)
            while not collector.updates.empty():
                seen.append(collector.updates.get_nowait())
            assert rest.placed is not None
            mine = [u for u in seen if u.order.order_id == rest.placed.order_id]
            assert len([u for u in mine if u.fill is not None]) == 1
            assert mine[-1].order.status is OrderStatus.FILLED, [u.order.status for u in mine]
        finally:
            await collector.close()


async def test_a_late_answer_from_the_last_window_does_not_fill_the_new_one() -> None:
    """A busy minute's last request answers after the boundary with that minute's count
    (X-MBX-USED-WEIGHT-1M): taken as the new minute's, it would hold every process back for
    a whole minute (it is also the floor written to the shared row)."""
    now = [100.0]
    store = MemoryBudgetStore()

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    limits = [Limit("WEIGHT", "ip", 100, 10)]
    budget = Budget("binance", limits, store=store, clock=lambda: now[0], sleep=sleep, host="h")
    await budget.spend({"WEIGHT": 10})
    sent = now[0] = 109.4  # the last request of the window leaves ...
    await budget.spend({"WEIGHT": 10})
    now[0] = 111.0  # ... and its answer arrives in the next window
    budget.observe("WEIGHT", 88, sent_at=sent)
    await budget.spend({"WEIGHT": 10})
    assert now[0] == 111.0  # room at once: the new window has 10 used, not 98
    key = WindowKey("binance", "ip:h", "WEIGHT", datetime.fromtimestamp(110, UTC), 10)
    assert store._windows[(key.venue, key.scope, key.name)] == (key.start, 10)
