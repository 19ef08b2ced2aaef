"""Stock Binance clients against the simulator's WebSockets, only their URLs redirected:
python-binance's socket manager, binance-sdk-spot's stream client and its WebSocket API user
data stream, and ccxt.pro (book tickers, klines, orders and trades)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import ccxt.pro  # type: ignore[import-untyped]
import pytest
from binance import AsyncClient, BinanceSocketManager  # type: ignore[import-untyped]
from binance_common.configuration import ConfigurationWebSocketAPI, ConfigurationWebSocketStreams
from binance_sdk_spot.spot import Spot

from domain.market import OrderRequest, OrderType, Side
from tests.exchanges.conftest_binance import BTC_BRL, XLM_BTC, BinanceSim, SimFactory
from tests.exchanges.streams_support import ws_url


@pytest.fixture(scope="module")
def sim(binance_sim_factory: SimFactory) -> BinanceSim:
    """A simulator of its own: these tests pin BTCBRL and cut every WebSocket."""
    return binance_sim_factory(symbols=[BTC_BRL, XLM_BTC])


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
