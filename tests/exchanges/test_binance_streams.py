"""Binance's WebSocket market streams and user data stream, simulator and adapter together over
real WebSockets: book tickers following the price, klines, fills pushed as `OrderUpdate`s, a
fill made while the client was cut off delivered after its reconnect (the REST resync) or by
polling while it stays cut off, and stock clients (python-binance's socket manager,
binance-sdk-spot's stream client and its WebSocket API user data stream, ccxt.pro) against the
simulator."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import ccxt.pro  # type: ignore[import-untyped]
import pytest
import websockets
from binance import AsyncClient, BinanceSocketManager  # type: ignore[import-untyped]
from binance_common.configuration import ConfigurationWebSocketAPI, ConfigurationWebSocketStreams
from binance_sdk_spot.spot import Spot

from adapters.exchanges.binance.streams import (
    BinanceMarketStream,
    BinanceUserStream,
    sign_params,
)
from adapters.exchanges.streams import Backoff, BookTickerEvent, KlineEvent, OrderUpdate
from domain.market import OrderRequest, OrderStatus, OrderType, Side
from tests.exchanges.conftest_binance import BTC_BRL, XLM_BTC, BinanceSim, SimFactory

FAST = Backoff(base=0.05, cap=0.3)
EXECUTION_REPORT_FIELDS = set("eEscSofqpPFgCxXrilzLnNTtIwmMOZYQWV")


@pytest.fixture(scope="module")
def sim(binance_sim_factory: SimFactory) -> BinanceSim:
    """A simulator of its own: these tests pin BTCBRL and cut every WebSocket."""
    return binance_sim_factory(symbols=[BTC_BRL, XLM_BTC])


def ws_url(sim: BinanceSim) -> str:
    return sim.base_url.replace("http://", "ws://")


async def until(
    events: AsyncIterator[Any], wanted: Callable[[Any], bool], timeout: float = 10
) -> Any:
    async def first() -> Any:
        async for event in events:
            if wanted(event):
                return event
        raise AssertionError("the stream ended")

    return await asyncio.wait_for(first(), timeout)


async def test_book_ticker_follows_a_price_change(sim: BinanceSim) -> None:
    await sim.set_price("BTCBRL", Decimal(350000))
    stream = BinanceMarketStream(ws_url(sim), book_tickers=["BTC-BRL"], backoff=FAST)
    events = aiter(stream)
    try:
        first: BookTickerEvent = await until(events, lambda e: e.bid < 350000 < e.ask)
        assert first.symbol == "BTC-BRL" and first.bid_qty > 0 and first.ask_qty > 0
        await sim.set_price("BTCBRL", Decimal(361000))
        moved: BookTickerEvent = await until(events, lambda e: e.bid > 360000, timeout=3)
        spread = sim.config.spread_ticks * BTC_BRL.tick_size
        assert (moved.bid, moved.ask) == (361000 - spread, 361000 + spread)
        assert moved.update_id > first.update_id
    finally:
        await stream.aclose()


async def test_kline_stream_pushes_the_current_candle_then_closes_it(sim: BinanceSim) -> None:
    await sim.set_price("BTCBRL", Decimal(352000))
    stream = BinanceMarketStream(ws_url(sim), klines=[("BTC-BRL", "1s")], backoff=FAST)
    events = aiter(stream)
    try:
        live: KlineEvent = await until(events, lambda e: not e.closed)
        assert (live.symbol, live.interval) == ("BTC-BRL", "1s")
        assert live.candle.close == 352000
        closed: KlineEvent = await until(events, lambda e: e.closed, timeout=4)
        assert closed.candle.open_time >= live.candle.open_time
        after: KlineEvent = await until(events, lambda e: not e.closed, timeout=4)
        assert after.candle.open_time > closed.candle.open_time
    finally:
        await stream.aclose()


async def test_the_market_stream_comes_back_after_binance_closes_it(sim: BinanceSim) -> None:
    """Binance closes every connection at 24 hours; here at 0.5 s."""
    await sim.http.post("/_sim/ws/max_age", json={"seconds": 0.5})
    stream = BinanceMarketStream(ws_url(sim), book_tickers=["XLM-BTC"], backoff=FAST)
    events = aiter(stream)
    try:
        await until(events, lambda e: stream.connects >= 3, timeout=10)
        await until(events, lambda e: e.symbol == "XLM-BTC")  # and it still delivers
    finally:
        await sim.http.post("/_sim/ws/max_age", json={})
        await stream.aclose()


async def test_wire_raw_combined_and_live_subscriptions(sim: BinanceSim) -> None:
    async with websockets.connect(f"{ws_url(sim)}/ws/btcbrl@kline_1m") as raw:
        kline = json.loads(await asyncio.wait_for(raw.recv(), 5))
        assert set(kline) == {"e", "E", "s", "k"} and kline["e"] == "kline"
        assert set(kline["k"]) == set("tTsifLochlvnxqVQB")
        assert kline["k"]["T"] - kline["k"]["t"] == 60_000 - 1 and kline["k"]["i"] == "1m"
    async with websockets.connect(f"{ws_url(sim)}/stream") as combined:
        await combined.send(
            json.dumps({"method": "SUBSCRIBE", "params": ["xlmbtc@bookTicker"], "id": 7})
        )
        seen = [json.loads(await asyncio.wait_for(combined.recv(), 5)) for _ in range(2)]
        assert {"result": None, "id": 7} in seen
        (pushed,) = [m for m in seen if "stream" in m]
        assert pushed["stream"] == "xlmbtc@bookTicker"
        assert set(pushed["data"]) == {"u", "s", "b", "B", "a", "A"}
        assert pushed["data"]["s"] == "XLMBTC"
        await combined.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 8}))
        await combined.send(
            json.dumps({"method": "UNSUBSCRIBE", "params": ["xlmbtc@bookTicker"], "id": 9})
        )
        await combined.send(json.dumps({"method": "NOPE", "id": 10}))
        answers: list[dict[str, Any]] = []
        while len(answers) < 3:
            message = json.loads(await asyncio.wait_for(combined.recv(), 5))
            if "stream" not in message:
                answers.append(message)
        assert answers[0] == {"result": ["xlmbtc@bookTicker"], "id": 8}
        assert answers[1] == {"result": None, "id": 9}
        assert answers[2]["code"] == 2 and "unknown variant NOPE" in answers[2]["msg"]


async def test_the_combined_property_switches_the_payload_wrapping(sim: BinanceSim) -> None:
    async with websockets.connect(f"{ws_url(sim)}/stream?streams=btcbrl@bookTicker") as ws:

        async def ask(request: dict[str, Any]) -> dict[str, Any]:
            await ws.send(json.dumps(request))
            while True:  # past the pushed book tickers
                message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if "stream" not in message and "s" not in message:
                    return message

        assert await ask({"method": "GET_PROPERTY", "params": ["combined"], "id": 1}) == {
            "result": True,
            "id": 1,
        }
        assert await ask({"method": "GET_PROPERTY", "params": ["colour"], "id": 2}) == {
            "code": 0,
            "msg": "Unknown property",
            "id": 2,
        }
        assert await ask({"method": "SET_PROPERTY", "params": ["combined", "no"], "id": 3}) == {
            "code": 1,
            "msg": "Invalid value type: expected Boolean",
        }
        await ask({"method": "SET_PROPERTY", "params": ["combined", False], "id": 4})
        await sim.set_price("BTCBRL", Decimal(351000))
        raw = json.loads(await asyncio.wait_for(ws.recv(), 5))
        while "u" not in raw:
            raw = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert set(raw) == {"u", "s", "b", "B", "a", "A"}  # no {"stream", "data"} around it


async def test_over_five_messages_a_second_close_the_connection(sim: BinanceSim) -> None:
    async with websockets.connect(f"{ws_url(sim)}/stream") as ws:
        for request_id in range(6):
            await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": request_id}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_many_live_subscriptions_keep_to_the_message_limit(sim: BinanceSim) -> None:
    stream = BinanceMarketStream(ws_url(sim), book_tickers=["BTC-BRL"], backoff=FAST)
    events = aiter(stream)
    wanted = {("BTC-BRL", None)} | {
        (s, i) for s in ("BTC-BRL", "XLM-BTC") for i in ("1s", "1m", "3m", "5m")
    }
    seen: set[tuple[str, str | None]] = set()
    try:
        await until(events, lambda e: True)
        for symbol in ("BTC-BRL", "XLM-BTC"):
            for interval in ("1s", "1m", "3m", "5m"):
                await stream.subscribe(klines=[(symbol, interval)])

        def note(event: BookTickerEvent | KlineEvent) -> bool:
            seen.add((event.symbol, event.interval if isinstance(event, KlineEvent) else None))
            return seen == wanted

        await until(events, note, timeout=10)
        assert stream.connects == 1  # never cut off for sending too fast
    finally:
        await stream.aclose()


async def ws_api_request(
    ws: Any, request_id: int, method: str, params: dict[str, Any]
) -> dict[str, Any]:
    await ws.send(json.dumps({"id": request_id, "method": method, "params": params}))
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if message.get("id") == request_id:
            return message  # type: ignore[no-any-return]


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


class Collector:
    """A user stream iterated in the background, its updates kept in order."""

    def __init__(self, stream: BinanceUserStream) -> None:
        self.stream = stream
        self.updates: asyncio.Queue[OrderUpdate] = asyncio.Queue()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for update in self.stream:
            await self.updates.put(update)

    async def connected(self, times: int = 1) -> None:
        deadline = time.monotonic() + 10
        while self.stream.connects < times:
            assert time.monotonic() < deadline, "the user stream never subscribed"
            await asyncio.sleep(0.02)

    async def next(self, wanted: Callable[[OrderUpdate], bool], timeout: float = 10) -> OrderUpdate:
        async def first() -> OrderUpdate:
            while not wanted(update := await self.updates.get()):
                pass
            return update

        return await asyncio.wait_for(first(), timeout)

    async def close(self) -> None:
        await self.stream.aclose()
        self.task.cancel()


async def test_user_stream_delivers_a_fill_as_an_order_update(sim: BinanceSim) -> None:
    key, secret = await sim.account(BRL="1000")
    await sim.set_price("BTCBRL", Decimal(350000))
    async with sim.exchange(key, secret) as exchange:
        stream = BinanceUserStream(
            exchange, key, secret, ["BTC-BRL"], url=f"{ws_url(sim)}/ws-api/v3", backoff=FAST
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
            exchange, key, secret, ["BTC-BRL"], url=f"{ws_url(sim)}/ws-api/v3", backoff=FAST
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


async def test_python_binance_socket_manager_reads_book_tickers(sim: BinanceSim) -> None:
    await sim.set_price("BTCBRL", Decimal(350000))
    client = AsyncClient("", "")
    manager = BinanceSocketManager(client)
    manager.STREAM_URL = f"{ws_url(sim)}/"
    try:
        async with manager.symbol_book_ticker_socket("BTCBRL") as socket:
            message = await asyncio.wait_for(socket.recv(), 10)
        assert message["s"] == "BTCBRL" and Decimal(message["b"]) < 350000 < Decimal(message["a"])
    finally:
        await client.close_connection()


async def test_binance_sdk_spot_websocket_streams_read_book_tickers(sim: BinanceSim) -> None:
    await sim.set_price("BTCBRL", Decimal(350000))
    client = Spot(config_ws_streams=ConfigurationWebSocketStreams(stream_url=ws_url(sim)))
    connection = await client.websocket_streams.create_connection()  # type: ignore[no-untyped-call]
    received: asyncio.Queue[Any] = asyncio.Queue()
    try:
        handle = await connection.book_ticker(symbol="btcbrl")
        handle.on("message", received.put_nowait)
        message = await asyncio.wait_for(received.get(), 10)
        assert message.s == "BTCBRL" and Decimal(message.b) < 350000 < Decimal(message.a)
    finally:
        await connection.close_connection(close_session=True)


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
                backoff=FAST,
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
            backoff=FAST,
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


async def test_binance_sdk_spot_user_data_stream_over_the_ws_api(sim: BinanceSim) -> None:
    key, secret = await sim.account(BRL="1000")
    await sim.set_price("BTCBRL", Decimal(350000))
    config = ConfigurationWebSocketAPI(
        api_key=key, api_secret=secret, stream_url=f"{ws_url(sim)}/ws-api/v3"
    )
    connection = await Spot(config_ws_api=config).websocket_api.create_connection()  # type: ignore[no-untyped-call]
    received: asyncio.Queue[Any] = asyncio.Queue()
    try:
        subscribed = await connection.user_data_stream_subscribe_signature()
        assert subscribed.response.data().result.subscription_id == 0
        subscribed.stream.on("message", received.put_nowait)
        async with sim.exchange(key, secret) as exchange:
            await exchange.create_order(
                OrderRequest(
                    client_order_id="sdk-1",
                    symbol="BTC-BRL",
                    side=Side.BUY,
                    type=OrderType.MARKET,
                    quantity=Decimal("0.001"),
                )
            )
        events = [(await asyncio.wait_for(received.get(), 5)).actual_instance for _ in range(3)]
        new, trade, position = events
        assert (new.x, new.c, trade.x, trade.X, trade.L) == (
            "NEW",
            "sdk-1",
            "TRADE",
            "FILLED",
            "350000.00000000",
        )
        assert {b.a for b in position.B} == {"BRL", "BTC"}
    finally:
        await connection.close_connection(close_session=True)


async def test_ccxt_pro_watches_book_tickers_klines_orders_and_trades(sim: BinanceSim) -> None:
    """ccxt's async client with its WebSocket layer: bidsAsks (bookTicker), OHLCV (klines), and
    orders and trades over the WebSocket API's signature subscription. Only URLs redirected."""
    key, secret = await sim.account(BRL="1000")
    await sim.set_price("BTCBRL", Decimal(350000))
    exchange = ccxt.pro.binance(
        {
            "apiKey": key,
            "secret": secret,
            "enableRateLimit": False,
            "options": {
                "defaultType": "spot",
                "fetchMarkets": {"types": ["spot"]},
                "fetchCurrencies": False,
                "fetchMargins": False,
            },
        }
    )
    exchange.urls["api"] |= {
        "public": f"{sim.base_url}/api/v3",
        "private": f"{sim.base_url}/api/v3",
    }
    exchange.urls["api"]["ws"] = exchange.urls["api"]["ws"] | {
        "spot": f"{ws_url(sim)}/ws",
        "ws-api": {"spot": f"{ws_url(sim)}/ws-api/v3"},
    }
    try:
        book = (await asyncio.wait_for(exchange.watch_bids_asks(["BTC/BRL"]), 10))["BTC/BRL"]
        assert book["bid"] < 350000 < book["ask"] and book["bidVolume"] > 0
        (candle,) = await asyncio.wait_for(exchange.watch_ohlcv("BTC/BRL", "1m"), 10)
        assert candle[4] == 350000
        orders = asyncio.create_task(exchange.watch_orders("BTC/BRL"))
        trades = asyncio.create_task(exchange.watch_my_trades("BTC/BRL"))
        await asyncio.sleep(0.5)  # both watching before the order exists
        placed = await exchange.create_order("BTC/BRL", "market", "buy", 0.001)
        (order, *_) = await asyncio.wait_for(orders, 10)
        (trade,) = await asyncio.wait_for(trades, 10)
        assert order["id"] == placed["id"] and order["symbol"] == "BTC/BRL"
        assert trade["order"] == placed["id"] and trade["price"] == 350000
        assert trade["fee"] == {"cost": 0.000001, "currency": "BTC"}
    finally:
        await exchange.close()


async def test_partial_fills_arrive_one_by_one_with_fees_summed(
    binance_sim_factory: SimFactory,
) -> None:
    sim = binance_sim_factory(symbols=[BTC_BRL], partial_fill_ratio=Decimal("0.5"))
    key, secret = await sim.account(BTC="1")
    await sim.set_price("BTCBRL", Decimal(350000))
    async with sim.exchange(key, secret) as exchange:
        stream = BinanceUserStream(
            exchange, key, secret, ["BTC-BRL"], url=f"{ws_url(sim)}/ws-api/v3", backoff=FAST
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
