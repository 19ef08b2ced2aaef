"""Binance's WebSocket market streams, simulator and adapter together over real WebSockets:
book tickers following the price, klines, Binance's 24-hour cut, the wire of raw and combined
streams with live subscriptions, and the 5-messages-a-second limit."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import pytest
import websockets

from adapters.exchanges.binance.streams import BinanceMarketStream
from adapters.exchanges.streams import BookTickerEvent, KlineEvent
from tests.exchanges.conftest_binance import BTC_BRL, XLM_BTC, BinanceSim, SimFactory
from tests.exchanges.streams_support import fast, until, ws_url


@pytest.fixture(scope="module")
def sim(binance_sim_factory: SimFactory) -> BinanceSim:
    """A simulator of its own: these tests pin BTCBRL and cut every WebSocket."""
    return binance_sim_factory(symbols=[BTC_BRL, XLM_BTC])


async def test_book_ticker_follows_a_price_change(sim: BinanceSim) -> None:
    await sim.set_price("BTCBRL", Decimal(350000))
    stream = BinanceMarketStream(ws_url(sim), book_tickers=["BTC-BRL"], backoff=fast())
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
    stream = BinanceMarketStream(ws_url(sim), klines=[("BTC-BRL", "1s")], backoff=fast())
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
    stream = BinanceMarketStream(ws_url(sim), book_tickers=["XLM-BTC"], backoff=fast())
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
        with pytest.raises(TimeoutError):  # unsubscribed: the book ticker pushes stop
            await asyncio.wait_for(combined.recv(), 1.5)


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
    stream = BinanceMarketStream(ws_url(sim), book_tickers=["BTC-BRL"], backoff=fast())
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
        await stream.unsubscribe(book_tickers=["BTC-BRL"])
        with pytest.raises(TimeoutError):  # klines go on, book tickers do not
            await until(events, lambda e: isinstance(e, BookTickerEvent), timeout=2.5)
    finally:
        await stream.aclose()
