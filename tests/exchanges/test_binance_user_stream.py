"""Binance's user data stream over the WebSocket API, simulator and adapter together over real
WebSockets: executionReport on the wire, fills as `OrderUpdate`s, a fill made while the client
was cut off delivered after its reconnect (the REST resync) or by polling while it stays cut
off, the server clock learnt after a -1021, partial fills and cancels."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from typing import Any

import pytest
import websockets
from binance.client import Client

from adapters.exchanges.binance.user_stream import BinanceUserStream, sign_params
from domain.market import OrderRequest, OrderStatus, OrderType, Side
from tests.exchanges.conftest_binance import BTC_BRL, XLM_BTC, BinanceSim, SimFactory
from tests.exchanges.streams_support import Collector, fast, ws_api_request, ws_url

EXECUTION_REPORT_FIELDS = set("eEscSofqpPFgCxXrilzLnNTtIwmMOZYQWV")


@pytest.fixture(scope="module")
def sim(binance_sim_factory: SimFactory) -> BinanceSim:
    """A simulator of its own: these tests pin BTCBRL and cut every WebSocket."""
    return binance_sim_factory(symbols=[BTC_BRL, XLM_BTC])


async def test_ws_api_subscription_pushes_execution_reports(sim: BinanceSim) -> None:
    key, secret = await sim.account(BRL="1000")
    await sim.set_price("BTCBRL", Decimal(350000))
    async with websockets.connect(f"{ws_url(sim)}/ws-api/v3") as ws:
        params: dict[str, Any] = {"apiKey": key, "timestamp": int(time.time() * 1000)}
        refused = await ws_api_request(
            ws, 1, "userDataStream.subscribe.signature", {**params, "signature": "0" * 64}
        )
        assert refused["status"] == 400
        assert refused["error"] == {
            "code": -1022,
            "msg": "Signature for this request is not valid.",
        }
        params["signature"] = sign_params(secret, params)
        answer = await ws_api_request(ws, "a-1", "userDataStream.subscribe.signature", params)  # type: ignore[arg-type]
        assert answer["status"] == 200 and answer["result"] == {"subscriptionId": 0}
        assert answer["rateLimits"][0]["rateLimitType"] == "REQUEST_WEIGHT"
        async with sim.exchange(key, secret) as exchange:
            order = await exchange.create_order(
                OrderRequest(
                    client_order_id="ws-api-1",
                    symbol="BTC-BRL",
                    side=Side.BUY,
                    type=OrderType.MARKET,
                    quantity=Decimal("0.001"),
                )
            )
        events: list[dict[str, Any]] = []
        while len(events) < 3:
            message = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert message["subscriptionId"] == 0
            events.append(message["event"])
        new, trade, position = events
        # Every documented field; "W" (working time) only for orders that reach the book.
        assert set(new) == set(trade) == EXECUTION_REPORT_FIELDS - {"W"}
        assert (new["x"], new["X"], new["c"], new["i"]) == (
            "NEW",
            "NEW",
            "ws-api-1",
            int(order.order_id),
        )
        assert (trade["x"], trade["X"], trade["l"], trade["L"]) == (
            "TRADE",
            "FILLED",
            "0.00100000",
            "350000.00000000",
        )
        assert (trade["n"], trade["N"], trade["z"], trade["Z"]) == (
            "0.00000100",
            "BTC",
            "0.00100000",
            "350.00000000",
        )
        assert position["e"] == "outboundAccountPosition"
        assert {b["a"]: b["f"] for b in position["B"]} == {
            "BRL": "650.00000000",
            "BTC": "0.00099900",
        }
        gone = await ws_api_request(ws, 3, "userDataStream.unsubscribe", {})
        assert gone["status"] == 200 and gone["result"] == {}


async def test_ws_api_reports_a_resting_order_and_its_cancel(sim: BinanceSim) -> None:
    key, secret = await sim.account(BRL="1000")
    await sim.set_price("BTCBRL", Decimal(350000))
    async with websockets.connect(f"{ws_url(sim)}/ws-api/v3?returnRateLimits=false") as ws:
        params: dict[str, Any] = {"apiKey": key, "timestamp": int(time.time() * 1000)}
        params["signature"] = sign_params(secret, params)
        answer = await ws_api_request(ws, 1, "userDataStream.subscribe.signature", params)
        assert answer == {"id": 1, "status": 200, "result": {"subscriptionId": 0}}
        listed = await ws_api_request(ws, 2, "session.subscriptions", {})
        assert listed["result"] == [{"subscriptionId": 0}]
        async with sim.exchange(key, secret) as exchange:
            request = OrderRequest(
                client_order_id="rest-1",
                symbol="BTC-BRL",
                side=Side.BUY,
                type=OrderType.LIMIT,
                quantity=Decimal("0.001"),
                price=Decimal(300000),
            )
            placed = await exchange.create_order(request)
            await exchange.cancel_order("BTC-BRL", order_id=placed.order_id)
        reports: list[dict[str, Any]] = []
        while len(reports) < 2:
            event = json.loads(await asyncio.wait_for(ws.recv(), 5))["event"]
            if event["e"] == "executionReport":
                reports.append(event)
        new, canceled = reports
        assert (new["x"], new["w"], new["p"], new["c"], new["C"]) == (
            "NEW",
            True,
            "300000.00000000",
            "rest-1",
            "",
        )
        assert new["W"] == new["O"]  # on the book from the start
        assert (canceled["x"], canceled["X"], canceled["C"], canceled["w"]) == (
            "CANCELED",
            "CANCELED",
            "rest-1",
            False,
        )
        assert canceled["c"] != "rest-1"  # the cancel request's own id
        await sim.deposit(key, "BTC", Decimal("0.5"))
        deposit = json.loads(await asyncio.wait_for(ws.recv(), 5))["event"]
        while deposit["e"] != "balanceUpdate":  # past the cancel's outboundAccountPosition
            deposit = json.loads(await asyncio.wait_for(ws.recv(), 5))["event"]
        assert (deposit["a"], deposit["d"]) == ("BTC", "0.50000000")
        gone = await ws_api_request(ws, 3, "userDataStream.unsubscribe", {"subscriptionId": 0})
        assert gone == {"id": 3, "status": 200, "result": {}}
        unknown = await ws_api_request(ws, 4, "order.fly", {})
        assert unknown["error"]["code"] == -1020


async def test_ws_api_reports_an_ioc_order_that_expired_unfilled(sim: BinanceSim) -> None:
    """Placed and expired in one request, it moves no balance: still NEW then EXPIRED, and no
    outboundAccountPosition (nothing changed)."""
    key, secret = await sim.account(BRL="1000")
    await sim.set_price("BTCBRL", Decimal(350000))
    async with websockets.connect(f"{ws_url(sim)}/ws-api/v3?returnRateLimits=false") as ws:
        params: dict[str, Any] = {"apiKey": key, "timestamp": int(time.time() * 1000)}
        params["signature"] = sign_params(secret, params)
        answer = await ws_api_request(ws, 1, "userDataStream.subscribe.signature", params)
        assert answer["status"] == 200
        client = Client(key, secret, ping=False)
        client.API_URL = f"{sim.base_url}/api"
        placed = client.order_limit_buy(
            symbol="BTCBRL", quantity="0.001", price="300000", timeInForce="IOC"
        )
        assert placed["status"] == "EXPIRED"
        reports = [json.loads(await asyncio.wait_for(ws.recv(), 5))["event"] for _ in range(2)]
        assert [(r["e"], r["x"], r["X"], r["i"]) for r in reports] == [
            ("executionReport", "NEW", "NEW", placed["orderId"]),
            ("executionReport", "EXPIRED", "EXPIRED", placed["orderId"]),
        ]
        ping = await ws_api_request(ws, 2, "ping", {})  # nothing else was queued before it
        assert ping == {"id": 2, "status": 200, "result": {}}


async def test_user_stream_delivers_a_fill_as_an_order_update(sim: BinanceSim) -> None:
    key, secret = await sim.account(BRL="1000")
    await sim.set_price("BTCBRL", Decimal(350000))
    async with sim.exchange(key, secret) as exchange:
        stream = BinanceUserStream(
            exchange, key, secret, ["BTC-BRL"], url=f"{ws_url(sim)}/ws-api/v3", backoff=fast()
        )
        collector = Collector(stream)
        try:
            await collector.connected()
            placed = await exchange.create_order(
                OrderRequest(
                    client_order_id="stream-1",
                    symbol="BTC-BRL",
                    side=Side.BUY,
                    type=OrderType.LIMIT,
                    quantity=Decimal("0.002"),
                    price=Decimal(340000),
                )
            )
            new = await collector.next(lambda u: u.order.order_id == placed.order_id)
            assert new.fill is None and new.order.status is OrderStatus.NEW
            assert new.order.client_order_id == "stream-1" and new.order.price == 340000
            await sim.set_price("BTCBRL", Decimal(339000))
            filled = await collector.next(lambda u: u.fill is not None)
            assert filled.fill is not None and filled.order.status is OrderStatus.FILLED
            (trade,) = await exchange.fills_since("BTC-BRL", filled.fill.trade_id)
            assert filled.fill == trade  # the stream's fill is the one myTrades lists
            assert filled.order.filled_quantity == Decimal("0.002")
            assert filled.order.fees == {"BTC": Decimal("0.000002")}
        finally:
            await collector.close()


async def test_a_fill_while_disconnected_arrives_after_the_reconnect(sim: BinanceSim) -> None:
    key, secret = await sim.account(BRL="1000")
    await sim.set_price("BTCBRL", Decimal(350000))
    async with sim.exchange(key, secret) as exchange:
        stream = BinanceUserStream(
            exchange, key, secret, ["BTC-BRL"], url=f"{ws_url(sim)}/ws-api/v3", backoff=fast()
        )
        collector = Collector(stream)
        try:
            await collector.connected()
            placed = await exchange.create_order(
                OrderRequest(
                    client_order_id="away-1",
                    symbol="BTC-BRL",
                    side=Side.BUY,
                    type=OrderType.LIMIT,
                    quantity=Decimal("0.001"),
                    price=Decimal(345000),
                )
            )
            await collector.next(lambda u: u.order.order_id == placed.order_id)
            dropped = await sim.http.post("/_sim/ws/drop", json={"refuse_seconds": 1.0})
            assert dropped.json()["dropped"] >= 1
            assert await sim.set_price("BTCBRL", Decimal(344000)) == 1  # filled while away
            filled = await collector.next(lambda u: u.fill is not None)
            assert stream.connects == 2  # the fill came back with the resync
            assert (
                filled.order.order_id == placed.order_id
                and filled.order.status is OrderStatus.FILLED
            )
            assert filled.fill is not None and filled.fill.price == 345000
            # Delivered once: nothing else about that trade follows.
            await asyncio.sleep(0.5)
            while not collector.updates.empty():
                later = collector.updates.get_nowait()
                assert later.fill is None or later.fill.trade_id != filled.fill.trade_id
        finally:
            await collector.close()


async def test_while_the_stream_is_down_rest_is_polled(sim: BinanceSim) -> None:
    key, secret = await sim.account(BRL="1000")
    await sim.set_price("BTCBRL", Decimal(350000))
    async with sim.exchange(key, secret) as exchange:
        stream = BinanceUserStream(
            exchange,
            key,
            secret,
            ["BTC-BRL"],
            url=f"{ws_url(sim)}/ws-api/v3",
            backoff=fast(),
            poll_interval=0.2,
        )
        collector = Collector(stream)
        try:
            await collector.connected()
            placed = await exchange.create_order(
                OrderRequest(
                    client_order_id="poll-1",
                    symbol="BTC-BRL",
                    side=Side.BUY,
                    type=OrderType.LIMIT,
                    quantity=Decimal("0.001"),
                    price=Decimal(346000),
                )
            )
            await collector.next(lambda u: u.order.order_id == placed.order_id)
            await sim.http.post("/_sim/ws/drop", json={"refuse_seconds": 3.0})
            await sim.set_price("BTCBRL", Decimal(345000))
            filled = await collector.next(lambda u: u.fill is not None, timeout=2.5)
            assert stream.connects == 1  # no stream yet: the poll found it
            assert filled.order.order_id == placed.order_id
            assert filled.order.status is OrderStatus.FILLED
            # Back on the stream later, the same fill is not delivered again.
            await collector.connected(times=2)
            await asyncio.sleep(0.3)
            while not collector.updates.empty():
                later = collector.updates.get_nowait()
                assert later.fill is None
        finally:
            await collector.close()


async def test_user_stream_learns_the_server_clock_and_rotates_its_connection(
    sim: BinanceSim,
) -> None:
    """A clock 7 s behind Binance's is refused (-1021) until the stream asks the WebSocket API
    for the time; a connection older than `max_age` is left for a new one, losing nothing."""
    key, secret = await sim.account(BRL="1000")
    await sim.set_price("BTCBRL", Decimal(350000))
    await sim.clock(offset_ms=7000)
    try:
        async with sim.exchange(key, secret) as exchange:
            stream = BinanceUserStream(
                exchange,
                key,
                secret,
                ["BTC-BRL"],
                url=f"{ws_url(sim)}/ws-api/v3",
                backoff=fast(),
                max_age=0.4,
                recv_window=1000,
            )
            collector = Collector(stream)
            try:
                await collector.connected(times=3)
                await exchange.create_order(
                    OrderRequest(
                        client_order_id="rotate-1",
                        symbol="BTC-BRL",
                        side=Side.BUY,
                        type=OrderType.MARKET,
                        quantity=Decimal("0.001"),
                    )
                )
                filled = await collector.next(lambda u: u.fill is not None)
                assert filled.order.client_order_id == "rotate-1"
            finally:
                await collector.close()
    finally:
        await sim.clock(offset_ms=0)


async def test_partial_fills_arrive_one_by_one_with_fees_summed(
    binance_sim_factory: SimFactory,
) -> None:
    sim = binance_sim_factory(symbols=[BTC_BRL], partial_fill_ratio=Decimal("0.5"))
    key, secret = await sim.account(BTC="1")
    await sim.set_price("BTCBRL", Decimal(350000))
    async with sim.exchange(key, secret) as exchange:
        stream = BinanceUserStream(
            exchange, key, secret, ["BTC-BRL"], url=f"{ws_url(sim)}/ws-api/v3", backoff=fast()
        )
        collector = Collector(stream)
        try:
            await collector.connected()
            placed = await exchange.create_order(
                OrderRequest(
                    client_order_id="halves-1",
                    symbol="BTC-BRL",
                    side=Side.SELL,
                    type=OrderType.LIMIT,
                    quantity=Decimal("0.004"),
                    price=Decimal(355000),
                )
            )
            await collector.next(lambda u: u.order.order_id == placed.order_id)
            await sim.set_price("BTCBRL", Decimal(356000))
            first = await collector.next(lambda u: u.fill is not None)
            await sim.set_price("BTCBRL", Decimal(357000))  # half of what remains
            second = await collector.next(lambda u: u.fill is not None)
            await exchange.cancel_order("BTC-BRL", order_id=placed.order_id)
            canceled = await collector.next(lambda u: u.order.status is OrderStatus.CANCELED)
            assert first.fill and second.fill and canceled.fill is None
            assert (first.fill.quantity, second.fill.quantity) == (
                Decimal("0.002"),
                Decimal("0.001"),
            )
            assert first.order.status is second.order.status is OrderStatus.PARTIALLY_FILLED
            assert first.order.fees == {"BRL": Decimal("0.71")}  # 0.1 % of 710 BRL received
            assert second.order.fees == {"BRL": Decimal("1.065")}
            assert canceled.order.client_order_id == "halves-1"  # not the cancel's own id
            assert canceled.order.filled_quantity == Decimal("0.003")
            assert canceled.order.fees == {"BRL": Decimal("1.065")}
            assert canceled.order.average_price == 355000
        finally:
            await collector.close()
