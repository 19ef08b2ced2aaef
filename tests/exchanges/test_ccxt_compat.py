"""ccxt, the most used multi-exchange client, pointed at the simulators works unchanged.

Only `urls['api']` is redirected. Binance: ccxt's spot keys `public` and `private` (both
`/api/v3`) and `v1` (`/api/v1`, user-data streams; unused here); the futures, options and SAPI
keys stay on the real hosts and are never called, since the options below are the ones a
spot-only user sets anyway: `fetchMarkets.types = ['spot']` (otherwise load_markets also reads
the futures venues fapi/dapi), `fetchCurrencies: False` (otherwise, with keys, it calls SAPI
`/sapi/v1/capital/config/getall`, a wallet endpoint outside the spot API) and
`fetchMargins: False` (otherwise, with keys, SAPI `/sapi/v1/margin/allPairs` and
`/margin/isolated/allPairs`). ccxt's rate limiter is off; its time-difference adjustment is off
by default (`adjustForTimeDifference: False`), so nothing else is called.

Mercado Bitcoin: ccxt's `mercado` class is still built on MB's older APIs, and only
`fetch_ohlcv` uses v4 (`urls['api']['v4PublicNet']` + `/candles`). load_markets
(`/api/coins`), fetch_ticker, fetch_order_book and fetch_trades (`/api/{coin}/...`) use the v3
public data API, and fetch_balance, create_order, cancel_order, fetch_order, fetch_orders,
fetch_open_orders and fetch_my_trades use the v3 trade API (`/tapi/v3/`, TAPI-ID/TAPI-MAC
HMAC-SHA512) — none of which is v4, so the simulator does not serve them. The markets ccxt would
load from `/api/coins` are built here from the simulator's v4 `/symbols` instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from itertools import pairwise
from typing import Any

import ccxt.async_support as ccxt
import httpx
import pytest

from simulators.mercadobitcoin import RunningSim
from tests.exchanges.conftest_binance import BinanceSim
from tests.exchanges.conftest_mercadobitcoin import MB_KEY, MB_SECRET, MbControl

BINANCE_SPOT_OPTIONS = {
    "defaultType": "spot",
    "fetchMarkets": {"types": ["spot"]},
    "fetchCurrencies": False,
    "fetchMargins": False,
}


@asynccontextmanager
async def ccxt_binance(sim: BinanceSim, key: str, secret: str) -> AsyncIterator[Any]:
    exchange = ccxt.binance(
        {
            "apiKey": key,
            "secret": secret,
            "enableRateLimit": False,
            "timeout": 10_000,
            "options": BINANCE_SPOT_OPTIONS,
        }
    )
    exchange.urls["api"] |= {
        "public": f"{sim.base_url}/api/v3",
        "private": f"{sim.base_url}/api/v3",
        "v1": f"{sim.base_url}/api/v1",
    }
    try:
        yield exchange
    finally:
        await exchange.close()


@asynccontextmanager
async def ccxt_mercado(sim: RunningSim) -> AsyncIterator[Any]:
    exchange = ccxt.mercado(
        {"apiKey": MB_KEY, "secret": MB_SECRET, "enableRateLimit": False, "timeout": 10_000}
    )
    exchange.urls["api"] |= {"v4PublicNet": sim.api_url, "v4Private": sim.api_url}
    try:
        yield exchange
    finally:
        await exchange.close()


def _d(value: Any) -> Decimal:
    return Decimal(str(value))


async def test_ccxt_binance_market_data(binance_sim: BinanceSim) -> None:
    key, secret = await binance_sim.account(BRL="1000")
    await binance_sim.set_price("BTCBRL", Decimal(350000))
    async with ccxt_binance(binance_sim, key, secret) as exchange:
        markets = await exchange.load_markets()
        assert {"BTC/BRL", "ETH/BRL", "XLM/BTC", "ETH/BTC"} <= set(markets)
        btc, xlm = markets["BTC/BRL"], markets["XLM/BTC"]
        assert (btc["id"], btc["spot"], btc["active"]) == ("BTCBRL", True, True)
        # ccxt's precision and limits come from the exchangeInfo filters
        assert _d(btc["precision"]["price"]) == Decimal("0.01")
        assert _d(btc["precision"]["amount"]) == Decimal("0.00001")
        assert _d(btc["limits"]["amount"]["min"]) == Decimal("0.00001")
        assert _d(btc["limits"]["cost"]["min"]) == Decimal("10")
        assert _d(xlm["precision"]["price"]) == Decimal("0.00000001")
        assert _d(xlm["precision"]["amount"]) == Decimal("1")
        assert exchange.price_to_precision("XLM/BTC", 0.000001234) == "0.00000123"

        ticker = await exchange.fetch_ticker("BTC/BRL")
        assert ticker["symbol"] == "BTC/BRL" and ticker["last"] == 350000
        assert ticker["bid"] < ticker["last"] < ticker["ask"] and ticker["timestamp"] > 0

        book = await exchange.fetch_order_book("BTC/BRL", 5)
        assert len(book["bids"]) == len(book["asks"]) == 5
        assert book["bids"][0][0] < book["asks"][0][0]
        assert book["bids"] == sorted(book["bids"], reverse=True)

        candles = await exchange.fetch_ohlcv("ETH/BTC", "5m", limit=3)
        assert len(candles) == 3 and all(len(c) == 6 for c in candles)
        assert [b[0] - a[0] for a, b in pairwise(candles)] == [300_000] * 2
        assert all(c[3] <= min(c[1], c[4]) <= max(c[1], c[4]) <= c[2] for c in candles)

        assert await exchange.fetch_time() > 0


async def test_ccxt_binance_trading(binance_sim: BinanceSim) -> None:
    key, secret = await binance_sim.account(BRL="1000", XLM="500")
    await binance_sim.set_price("BTCBRL", Decimal(350000))
    async with ccxt_binance(binance_sim, key, secret) as exchange:
        balance = await exchange.fetch_balance()
        assert (balance["BRL"]["free"], balance["XLM"]["total"]) == (1000, 500)

        bought = await exchange.create_order("BTC/BRL", "market", "buy", 0.0001)
        assert (bought["status"], bought["filled"], bought["cost"]) == ("closed", 0.0001, 35)
        assert bought["fee"] == {"currency": "BTC", "cost": pytest.approx(0.0000001)}

        resting = await exchange.create_order(
            "XLM/BTC", "limit", "sell", 100, 0.000002, {"clientOrderId": "ccxt-rest-1"}
        )
        assert (resting["status"], resting["clientOrderId"]) == ("open", "ccxt-rest-1")
        fetched = await exchange.fetch_order(resting["id"], "XLM/BTC")
        assert (fetched["status"], fetched["price"], fetched["remaining"]) == ("open", 2e-6, 100)
        by_client_id = await exchange.fetch_order(
            None, "XLM/BTC", {"origClientOrderId": "ccxt-rest-1"}
        )
        assert by_client_id["id"] == resting["id"]
        assert [o["id"] for o in await exchange.fetch_open_orders("XLM/BTC")] == [resting["id"]]
        assert (await exchange.fetch_balance())["XLM"]["used"] == 100
        cancelled = await exchange.cancel_order(resting["id"], "XLM/BTC")
        assert cancelled["status"] == "canceled"
        assert await exchange.fetch_open_orders("XLM/BTC") == []

        # a resting limit buy that fills when the price comes down to it
        limit_buy = await exchange.create_order("BTC/BRL", "limit", "buy", 0.0002, 349000)
        assert limit_buy["status"] == "open"
        await binance_sim.set_price("BTCBRL", Decimal(349000))
        filled = await exchange.fetch_order(limit_buy["id"], "BTC/BRL")
        assert (filled["status"], filled["filled"], filled["average"]) == ("closed", 0.0002, 349000)
        await binance_sim.set_price("BTCBRL", Decimal(350000))

        trades = await exchange.fetch_my_trades("BTC/BRL")
        assert [(t["order"], t["side"], t["price"], t["takerOrMaker"]) for t in trades] == [
            (bought["id"], "buy", 350000, "taker"),
            (limit_buy["id"], "buy", 349000, "maker"),
        ]
        assert all(t["fee"]["currency"] == "BTC" for t in trades)
        assert {o["id"] for o in await exchange.fetch_orders("BTC/BRL")} >= {
            bought["id"],
            limit_buy["id"],
        }
        # fetch_trades reads the public /api/v3/aggTrades
        public = await exchange.fetch_trades("BTC/BRL", limit=10)
        assert public and all(t["symbol"] == "BTC/BRL" for t in public)

        balance = await exchange.fetch_balance()
        assert _d(balance["BTC"]["total"]) == Decimal("0.0003") - Decimal("0.0000003")
        with pytest.raises(ccxt.InsufficientFunds):
            await exchange.create_order("BTC/BRL", "market", "buy", 1)
        with pytest.raises(ccxt.OrderNotFound):
            await exchange.fetch_order("987654321", "BTC/BRL")
        with pytest.raises(ccxt.BadRequest, match="Filter failure: NOTIONAL"):  # ccxt: -1013
            await exchange.create_order("BTC/BRL", "limit", "buy", 0.00001, 340000)
        with pytest.raises(ccxt.InvalidOrder, match="Filter failure: PERCENT_PRICE_BY_SIDE"):
            await exchange.create_order("BTC/BRL", "limit", "buy", 0.001, 1000)


async def test_ccxt_binance_bad_key_is_authentication_error(binance_sim: BinanceSim) -> None:
    async with ccxt_binance(binance_sim, "no-such-key", "secret") as exchange:
        with pytest.raises(ccxt.AuthenticationError):
            await exchange.fetch_balance()


async def _mercado_markets(sim: RunningSim) -> list[dict[str, Any]]:
    """What ccxt's `fetch_markets` builds from MB's v3 `/api/coins`, from v4 `/symbols`."""
    async with httpx.AsyncClient(base_url=sim.api_url, timeout=10) as http:
        columns = (await http.get("/symbols")).json()
    return [
        {
            "id": f"{quote}{base}",
            "symbol": f"{base}/{quote}",
            "base": base,
            "quote": quote,
            "baseId": base,
            "quoteId": quote,
            "type": "spot",
            "spot": True,
        }
        for base, quote in zip(columns["base-currency"], columns["currency"], strict=True)
    ]


async def test_ccxt_mercado_fetch_ohlcv_on_v4_candles(
    mb_sim: RunningSim, mb_control: MbControl
) -> None:
    await mb_control.set_price("BTC-BRL", Decimal(360000))
    async with ccxt_mercado(mb_sim) as exchange:
        exchange.set_markets(await _mercado_markets(mb_sim))
        assert "BTC/BRL" in exchange.markets

        for timeframe in exchange.timeframes:  # 15m 1h 3h 1d 1w 1M
            candles = await exchange.fetch_ohlcv("BTC/BRL", timeframe, limit=3)
            assert 1 <= len(candles) <= 3, timeframe
            assert all(len(c) == 6 and c[0] % 1000 == 0 for c in candles), timeframe
            assert candles[-1][4] == 360000, timeframe

        since = exchange.milliseconds() - 4 * 3_600_000
        hourly = await exchange.fetch_ohlcv("BTC/BRL", "1h", since=since, limit=3)
        assert len(hourly) == 3 and all(c[0] >= since for c in hourly)
        assert [b[0] - a[0] for a, b in pairwise(hourly)] == [3_600_000] * 2


async def test_ccxt_binance_bulk_reads(binance_sim: BinanceSim) -> None:
    """The reads one bot engine makes for many markets at once: every ticker, every best
    bid/ask, every open order, and trades from an id on."""
    key, secret = await binance_sim.account(BRL="1000", XLM="500")
    await binance_sim.set_price("BTCBRL", Decimal(350000))
    async with ccxt_binance(binance_sim, key, secret) as exchange:
        exchange.options["warnOnFetchOpenOrdersWithoutSymbol"] = False
        tickers = await exchange.fetch_tickers()  # GET /api/v3/ticker/24hr, no symbol
        assert {"BTC/BRL", "ETH/BRL", "XLM/BTC", "ETH/BTC"} <= set(tickers)
        assert tickers["BTC/BRL"]["last"] == 350000
        books = await exchange.fetch_bids_asks()  # GET /api/v3/ticker/bookTicker, no symbol
        assert all(b["bid"] < b["ask"] for b in books.values()) and "XLM/BTC" in books

        first = await exchange.create_order("BTC/BRL", "market", "buy", 0.0001)
        second = await exchange.create_order("BTC/BRL", "market", "buy", 0.0002)
        resting = await exchange.create_order("XLM/BTC", "limit", "sell", 100, 0.000002)
        assert [o["id"] for o in await exchange.fetch_open_orders()] == [resting["id"]]
        trades = await exchange.fetch_my_trades("BTC/BRL", params={"fromId": 0})
        assert [t["order"] for t in trades] == [first["id"], second["id"]]
        later = await exchange.fetch_my_trades("BTC/BRL", params={"fromId": trades[1]["id"]})
        assert [t["id"] for t in later] == [trades[1]["id"]]  # fromId is inclusive


async def test_ccxt_binance_order_types_and_edit(binance_sim: BinanceSim) -> None:
    """Post-only (LIMIT_MAKER), a venue-side stop (STOP_LOSS_LIMIT) and edit_order, which ccxt
    sends to Binance spot as POST /api/v3/order/cancelReplace."""
    key, secret = await binance_sim.account(BRL="1000", XLM="500")
    await binance_sim.set_price("BTCBRL", Decimal(350000))
    async with ccxt_binance(binance_sim, key, secret) as exchange:
        maker = await exchange.create_order(
            "BTC/BRL", "limit", "buy", 0.001, 340000, {"postOnly": True}
        )
        fetched = await exchange.fetch_order(maker["id"], "BTC/BRL")
        assert (fetched["info"]["type"], fetched["postOnly"], fetched["status"]) == (
            "LIMIT_MAKER", True, "open"
        )  # fmt: skip
        with pytest.raises(ccxt.OrderImmediatelyFillable):
            await exchange.create_order(
                "BTC/BRL", "limit", "buy", 0.001, 351000, {"postOnly": True}
            )

        edited = await exchange.edit_order(maker["id"], "BTC/BRL", "limit", "buy", 0.002, 339000)
        assert edited["id"] != maker["id"] and edited["status"] == "open"
        assert (await exchange.fetch_order(maker["id"], "BTC/BRL"))["status"] == "canceled"
        assert [(o["amount"], o["price"]) for o in await exchange.fetch_open_orders("BTC/BRL")] == [
            (0.002, 339000)
        ]

        stop = await exchange.create_order(
            "XLM/BTC", "STOP_LOSS_LIMIT", "sell", 100, 0.00000110, {"stopPrice": 0.00000115}
        )
        waiting = await exchange.fetch_order(stop["id"], "XLM/BTC")
        assert (waiting["status"], waiting["triggerPrice"]) == ("open", 0.00000115)
