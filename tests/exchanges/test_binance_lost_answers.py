"""Lost answers on Binance never make a second order and never fail a cancel that succeeded.

The simulator holds a placement inside the venue (between arrival and the matching engine) for
3 s while the adapter's client gives up after 1 s: the order is in doubt until Binance can no
longer execute it (``timestamp + recvWindow``), and is looked up, never placed again, until
then. Every window here is at least a second wide; nothing races the wall clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from adapters.exchanges.errors import OrderNotCancelable, TemporaryError
from domain.market import OrderRequest, OrderStatus, OrderType, Side
from tests.exchanges.conftest_binance import BinanceSim, SimFactory
from tests.exchanges.lost_answers import LoseAnswers

HOLD = 3.0  # seconds a placement is held inside the venue
CLIENT_TIMEOUT = 1.0


def _market(cid: str) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid,
        symbol="BTC-BRL",
        side=Side.BUY,
        type=OrderType.MARKET,
        quantity=Decimal("0.0001"),
    )


async def _count(sim: BinanceSim, route: str) -> int:
    requests: dict[str, int] = (await sim.stats())["requests"]
    return requests.get(route, 0)


async def _until(sim: BinanceSim, route: str, at_least: int = 1) -> None:
    """Wait until the simulator has received `route` that often (the event, polled)."""
    async with asyncio.timeout(10):
        while await _count(sim, route) < at_least:
            await asyncio.sleep(0.02)


async def _quiet(sim: BinanceSim) -> dict[str, Any]:
    """The simulator's stats once every request it received has been answered (a placement
    held inside the venue has executed or been refused)."""
    async with asyncio.timeout(10):
        while True:
            stats = await sim.stats()
            if sum(stats["requests"].values()) == sum(stats["statuses"].values()):
                return stats
            await asyncio.sleep(0.02)


async def _held_placement(factory: SimFactory) -> tuple[BinanceSim, str, str]:
    sim = factory()
    key, secret = await sim.account(BRL="1000")
    await sim.fault(path="/api/v3/order", method="POST", delay_seconds=HOLD)
    return sim, key, secret


async def test_an_order_held_inside_binance_past_the_client_timeout_is_placed_once(
    binance_sim_factory: SimFactory,
) -> None:
    """The reproduction: timeout after 1 s, the venue executes at 3 s (inside recvWindow)."""
    sim, key, secret = await _held_placement(binance_sim_factory)
    async with sim.exchange(key, secret, timeout=CLIENT_TIMEOUT, lookup_delay=0.5) as exchange:
        order = await exchange.create_order(_market("held-1"))
        assert order.client_order_id == "held-1" and order.status is OrderStatus.FILLED
        assert [o.order_id for o in await exchange.recent_orders("BTC-BRL")] == [order.order_id]
    stats = await _quiet(sim)
    assert stats["orders_placed"] == 1 and stats["requests"]["POST /api/v3/order"] == 1


async def test_an_order_held_past_its_recv_window_is_refused_then_placed_once(
    binance_sim_factory: SimFactory,
) -> None:
    """recvWindow 2 s, held 3 s: the venue refuses it when the hold ends; the adapter places
    again only once Binance's clock is past timestamp + recvWindow + margin."""
    sim, key, secret = await _held_placement(binance_sim_factory)
    async with sim.exchange(
        key, secret, timeout=CLIENT_TIMEOUT, recv_window=2000, lookup_delay=0.5
    ) as exchange:
        order = await exchange.create_order(_market("held-2"))
        assert order.status is OrderStatus.FILLED
        assert [o.order_id for o in await exchange.recent_orders("BTC-BRL")] == [order.order_id]
    stats = await _quiet(sim)
    assert stats["orders_placed"] == 1 and stats["requests"]["POST /api/v3/order"] == 2
    # Every lookup missed (-2013), and the held placement was refused (-1021) when released.
    assert stats["statuses"]["400"] == stats["requests"]["GET /api/v3/order"] + 1


async def test_an_activity_retry_on_another_instance_waits_out_the_window(
    binance_sim_factory: SimFactory,
) -> None:
    """The first attempt dies while its placement is held (a worker killed, an activity timed
    out); the retry, on a fresh adapter, says so with maybe_sent and finds the order."""
    sim, key, secret = await _held_placement(binance_sim_factory)
    async with (
        sim.exchange(key, secret, retry=False) as first,
        sim.exchange(key, secret, retry=False, lookup_delay=0.5) as retry,
    ):
        attempt = asyncio.create_task(first.create_order(_market("activity-2")))
        await _until(sim, "POST /api/v3/order")
        attempt.cancel()
        order = await retry.create_order(_market("activity-2"), maybe_sent=True)
    assert order.status is OrderStatus.FILLED
    stats = await _quiet(sim)
    assert stats["orders_placed"] == 1 and stats["requests"]["POST /api/v3/order"] == 1


async def test_a_second_call_after_a_lost_answer_never_places_twice(
    binance_sim_factory: SimFactory,
) -> None:
    """The same instance remembers the order in doubt: a second call with the client order id,
    after the first gave up while looking it up, keeps looking instead of placing."""
    sim, key, secret = await _held_placement(binance_sim_factory)
    async with sim.exchange(
        key, secret, retry=False, timeout=CLIENT_TIMEOUT, lookup_delay=0.5
    ) as exchange:
        attempt = asyncio.create_task(exchange.create_order(_market("again-1")))
        await _until(sim, "GET /api/v3/order")  # timed out, now looking it up
        attempt.cancel()
        order = await exchange.create_order(_market("again-1"))
    assert order.status is OrderStatus.FILLED
    stats = await _quiet(sim)
    assert stats["orders_placed"] == 1 and stats["requests"]["POST /api/v3/order"] == 1


async def test_a_5xx_before_placing_is_placed_once_the_window_is_over(
    binance_sim_factory: SimFactory,
) -> None:
    sim = binance_sim_factory()
    key, secret = await sim.account(BRL="1000")
    await sim.fault(path="/api/v3/order", method="POST", status=503)
    async with sim.exchange(
        key, secret, recv_window=1000, settle_margin=0.5, lookup_delay=0.5
    ) as exchange:
        order = await exchange.create_order(_market("unknown-5xx"))
    assert order.status is OrderStatus.FILLED
    stats = await sim.stats()
    assert stats["orders_placed"] == 1 and stats["requests"]["POST /api/v3/order"] == 2
    assert stats["requests"]["GET /api/v3/order"] >= 2  # looked up until the window was over


# -- cancels whose answer is lost ----------------------------------------------------------------


async def _resting(sim: BinanceSim, key: str, secret: str, cid: str) -> str:
    async with sim.exchange(key, secret) as exchange:
        order = await exchange.create_order(
            OrderRequest(
                client_order_id=cid,
                symbol="BTC-BRL",
                side=Side.BUY,
                type=OrderType.LIMIT,
                quantity=Decimal("0.0001"),
                price=Decimal("300000"),
            )
        )
    return order.order_id


def _losing(sim: BinanceSim, network: LoseAnswers) -> Callable[..., Any]:
    def build(key: str, secret: str, **options: Any) -> Any:
        http = httpx.AsyncClient(base_url=sim.base_url, transport=network)
        return sim.exchange(key, secret, http_client=http, **options)

    return build


async def test_a_cancel_whose_answer_is_lost_succeeds_on_retry(
    binance_sim_factory: SimFactory,
) -> None:
    sim = binance_sim_factory()
    key, secret = await sim.account(BRL="1000")
    order_id = await _resting(sim, key, secret, "cancel-lost")
    network = LoseAnswers("DELETE", "/api/v3/order")
    async with _losing(sim, network)(key, secret) as exchange:
        canceled = await exchange.cancel_order("BTC-BRL", order_id=order_id)
    assert canceled.status is OrderStatus.CANCELED and canceled.order_id == order_id
    assert network.lost == ["/api/v3/order"]
    assert await _count(sim, "DELETE /api/v3/order") == 2  # the retry was told -2011


async def test_without_retries_the_repeated_cancel_reports_the_cancel(
    binance_sim_factory: SimFactory,
) -> None:
    """An activity's cancel: the attempt that lost its answer fails retryably, the next attempt
    finds the order canceled and reports success; a filled order stays not cancelable."""
    sim = binance_sim_factory()
    key, secret = await sim.account(BRL="1000")
    order_id = await _resting(sim, key, secret, "cancel-activity")
    network = LoseAnswers("DELETE", "/api/v3/order")
    async with _losing(sim, network)(key, secret, retry=False) as exchange:
        with pytest.raises(TemporaryError):
            await exchange.cancel_order("BTC-BRL", client_order_id="cancel-activity")
        canceled = await exchange.cancel_order("BTC-BRL", client_order_id="cancel-activity")
        assert canceled.status is OrderStatus.CANCELED and canceled.order_id == order_id
        filled = await exchange.create_order(_market("filled-then-cancel"))
        with pytest.raises(OrderNotCancelable):
            await exchange.cancel_order("BTC-BRL", order_id=filled.order_id)
