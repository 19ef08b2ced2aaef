"""The Binance simulator over raw HTTP: it must accept what Binance accepts and refuse what it
refuses, with the same status codes and error bodies."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from simulators.binance import add_arguments, parse_account
from simulators.binance.config import RandomWalkPath
from simulators.binance.market import INTERVAL_SECONDS
from tests.exchanges.conftest_binance import BTC_BRL, BinanceSim, SimFactory


def _sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _signed_query(secret: str, params: dict[str, str], *, timestamp: int | None = None) -> str:
    query = urlencode({**params, "timestamp": str(timestamp or int(time.time() * 1000))})
    return f"{query}&signature={_sign(secret, query)}"


async def _call(
    sim: BinanceSim,
    method: str,
    path: str,
    key: str,
    secret: str,
    params: dict[str, str],
    **stamp: int,
) -> httpx.Response:
    return await sim.http.request(
        method,
        f"{path}?{_signed_query(secret, params, **stamp)}",
        headers={"X-MBX-APIKEY": key},
    )


def _error(response: httpx.Response) -> tuple[int, int, str]:
    body: dict[str, Any] = response.json()
    return response.status_code, body["code"], body["msg"]


# -- the --account syntax --------------------------------------------------------------------


def test_parse_account_reads_key_secret_and_balances() -> None:
    account = parse_account("alice:s3cret:BTC=1,brl=100000.50")
    assert (account.api_key, account.secret) == ("alice", "s3cret")
    assert account.balances == {"BTC": Decimal(1), "BRL": Decimal("100000.50")}


def test_parse_account_without_balances() -> None:
    assert parse_account("alice:s3cret").balances == {}


@pytest.mark.parametrize(
    "text",
    [
        "alice",
        ":s3cret",
        "alice:",
        "a:s:BTC",
        "a:s:BTC=x",
        "a:s:BTC=-1",
        "a:s:BTC=1,BTC=2",
        "a:s:B$=1",
    ],
)
def test_parse_account_refuses_malformed_text(text: str) -> None:
    with pytest.raises(ValueError):
        parse_account(text)


def test_cli_arguments_collect_accounts_and_refuse_bad_ones() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--port", "9200", "--account", "a:s:BTC=1", "--account", "b:t"])
    assert (args.port, args.accounts) == (9200, ["a:s:BTC=1", "b:t"])
    with pytest.raises(SystemExit):
        parser.parse_args(["--account", "nobalance:s:BTC"])


# -- public endpoints ------------------------------------------------------------------------


async def test_ping_time_and_weight_header(binance_sim: BinanceSim) -> None:
    ping = await binance_sim.http.get("/api/v3/ping")
    assert ping.json() == {}
    assert int(ping.headers["X-MBX-USED-WEIGHT-1M"]) >= 1
    before = int(time.time() * 1000)
    server_time = (await binance_sim.http.get("/api/v3/time")).json()["serverTime"]
    assert before - 1000 <= server_time <= int(time.time() * 1000) + 1000


async def test_exchange_info_full_document_and_symbol_selection(binance_sim: BinanceSim) -> None:
    info = (await binance_sim.http.get("/api/v3/exchangeInfo")).json()
    assert info["timezone"] == "UTC" and isinstance(info["serverTime"], int)
    assert {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
            "limit": 6000} in info["rateLimits"]  # fmt: skip
    xlm = next(s for s in info["symbols"] if s["symbol"] == "XLMBTC")
    fields = (
        *("status", "baseAsset", "baseAssetPrecision", "quoteAsset", "quotePrecision"),
        *("quoteAssetPrecision", "orderTypes", "isSpotTradingAllowed", "permissions"),
    )
    assert all(field in xlm for field in fields)
    filters = {f["filterType"]: f for f in xlm["filters"]}
    assert set(filters) == {
        *("PRICE_FILTER", "LOT_SIZE", "ICEBERG_PARTS", "MARKET_LOT_SIZE"),
        *("PERCENT_PRICE_BY_SIDE", "NOTIONAL"),
    }
    assert filters["PRICE_FILTER"]["tickSize"] == "0.00000001"
    assert filters["LOT_SIZE"]["stepSize"] == "1.00000000"

    one = (await binance_sim.http.get("/api/v3/exchangeInfo", params={"symbol": "BTCBRL"})).json()
    assert [s["symbol"] for s in one["symbols"]] == ["BTCBRL"]
    two = await binance_sim.http.get(
        "/api/v3/exchangeInfo", params={"symbols": '["BTCBRL","XLMBTC"]'}
    )
    assert [s["symbol"] for s in two.json()["symbols"]] == ["BTCBRL", "XLMBTC"]
    unknown = await binance_sim.http.get("/api/v3/exchangeInfo", params={"symbol": "NOPE"})
    assert _error(unknown) == (400, -1121, "Invalid symbol.")


async def test_tickers_book_trades_and_avg_price(binance_sim: BinanceSim) -> None:
    http = binance_sim.http
    assert (await http.get("/api/v3/ticker/price", params={"symbol": "XLMBTC"})).json() == {
        "symbol": "XLMBTC",
        "price": "0.00000123",
    }
    every = (await http.get("/api/v3/ticker/price")).json()
    assert {row["symbol"] for row in every} == {"BTCBRL", "ETHBRL", "XLMBTC", "ETHBTC"}
    day = (await http.get("/api/v3/ticker/24hr", params={"symbol": "ETHBTC"})).json()
    assert Decimal(day["lowPrice"]) <= Decimal(day["lastPrice"]) <= Decimal(day["highPrice"])
    book = (await http.get("/api/v3/ticker/bookTicker", params={"symbol": "XLMBTC"})).json()
    assert (book["bidPrice"], book["askPrice"]) == ("0.00000122", "0.00000124")
    depth = await http.get("/api/v3/depth", params={"symbol": "BTCBRL", "limit": 500})
    assert len(depth.json()["bids"]) == 500 and len(depth.json()["asks"]) == 500
    assert isinstance((await http.get("/api/v3/trades", params={"symbol": "BTCBRL"})).json(), list)
    avg = (await http.get("/api/v3/avgPrice", params={"symbol": "BTCBRL"})).json()
    assert avg["mins"] == 5 and Decimal(avg["price"]) == Decimal(350000)


@pytest.mark.parametrize("interval", list(INTERVAL_SECONDS))
async def test_klines_every_interval_are_arrays_oldest_first(
    binance_sim: BinanceSim, interval: str
) -> None:
    response = await binance_sim.http.get(
        "/api/v3/klines", params={"symbol": "ETHBTC", "interval": interval, "limit": 4}
    )
    rows = response.json()
    assert 1 <= len(rows) <= 4
    assert all(len(row) == 12 and isinstance(row[0], int) for row in rows)
    opens = [row[0] for row in rows]
    assert opens == sorted(opens) and all(row[6] > row[0] for row in rows)
    for row in rows:
        o, h, low, c = (Decimal(v) for v in row[1:5])
        assert low <= min(o, c) <= max(o, c) <= h


async def test_klines_window_and_limit(binance_sim: BinanceSim) -> None:
    now = int(time.time() * 1000)
    start = (now - 3_600_000) // 60_000 * 60_000
    params = {"symbol": "ETHBTC", "interval": "1m", "startTime": start, "endTime": start + 599_999}
    rows = (await binance_sim.http.get("/api/v3/klines", params=params)).json()
    assert [row[0] for row in rows] == [start + i * 60_000 for i in range(10)]
    many = await binance_sim.http.get(
        "/api/v3/klines", params={"symbol": "ETHBTC", "interval": "1s", "limit": 5000}
    )
    assert len(many.json()) == 1000
    bad = await binance_sim.http.get(
        "/api/v3/klines", params={"symbol": "ETHBTC", "interval": "7x"}
    )
    assert _error(bad) == (400, -1120, "Invalid interval.")


# -- signed requests --------------------------------------------------------------------------


async def test_signature_accepted_in_query_body_or_both(binance_sim: BinanceSim) -> None:
    key, secret = await binance_sim.account(BRL="1000")
    order = {"symbol": "BTCBRL", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    rest = urlencode(
        {"quantity": "0.0001", "price": "300000", "timestamp": str(int(time.time() * 1000))}
    )
    # Binance signs the query string concatenated with the body, without a separator.
    query = urlencode(order)
    body = f"{rest}&signature={_sign(secret, query + rest)}"
    mixed = await binance_sim.http.post(
        f"/api/v3/order?{query}",
        content=body,
        headers={"X-MBX-APIKEY": key, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert mixed.status_code == 200, mixed.text
    in_body = await binance_sim.http.post(
        "/api/v3/order",
        content=_signed_query(secret, {**order, "quantity": "0.0001", "price": "300000"}),
        headers={"X-MBX-APIKEY": key, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert in_body.status_code == 200, in_body.text
    account = await _call(binance_sim, "GET", "/api/v3/account", key, secret, {})
    assert account.status_code == 200


async def test_wrong_signature_and_keys_are_refused(binance_sim: BinanceSim) -> None:
    key, secret = await binance_sim.account()
    bad = await _call(binance_sim, "GET", "/api/v3/account", key, "not-the-secret", {})
    assert _error(bad) == (400, -1022, "Signature for this request is not valid.")
    tampered = _signed_query(secret, {"omitZeroBalances": "true"}).replace("true", "false")
    response = await binance_sim.http.get(
        f"/api/v3/account?{tampered}", headers={"X-MBX-APIKEY": key}
    )
    assert _error(response)[1] == -1022
    unknown = await _call(binance_sim, "GET", "/api/v3/account", "nobody", secret, {})
    assert _error(unknown) == (401, -2015, "Invalid API-key, IP, or permissions for action.")
    missing = await binance_sim.http.get(f"/api/v3/account?{_signed_query(secret, {})}")
    assert _error(missing) == (401, -2014, "API-key format invalid.")


async def test_timestamps_outside_the_window_are_refused(binance_sim: BinanceSim) -> None:
    key, secret = await binance_sim.account()
    now = int(time.time() * 1000)
    old = await _call(binance_sim, "GET", "/api/v3/account", key, secret, {}, timestamp=now - 6000)
    assert _error(old) == (400, -1021, "Timestamp for this request is outside of the recvWindow.")
    ahead = await _call(
        binance_sim, "GET", "/api/v3/account", key, secret, {}, timestamp=now + 5000
    )
    assert _error(ahead) == (
        400,
        -1021,
        "Timestamp for this request was 1000ms ahead of the server's time.",
    )
    wide = await _call(
        binance_sim, "GET", "/api/v3/account", key, secret, {"recvWindow": "10000"},
        timestamp=now - 6000,
    )  # fmt: skip
    assert wide.status_code == 200
    too_wide = await _call(
        binance_sim, "GET", "/api/v3/account", key, secret, {"recvWindow": "70000"}
    )
    assert _error(too_wide) == (400, -1131, "recvWindow must be less than 60000")


_TOO_PRECISE = "Parameter '{}' has too much precision."
_ILLEGAL_QUANTITY = (
    "Illegal characters found in parameter 'quantity'; "
    "legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'."
)
_NO_QUANTITY = "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed."
_UNREAD = "Not all sent parameters were read; read '8' parameter(s) but was sent '9'."


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"quantity": "0.000100001", "price": "300000"}, (-1111, _TOO_PRECISE.format("quantity"))),
        (
            {"quantity": "0.0001", "price": "300000.000000001"},
            (-1111, _TOO_PRECISE.format("price")),
        ),
        ({"quantity": "0.000015", "price": "300000"}, (-1013, "Filter failure: LOT_SIZE")),
        ({"quantity": "0.0001", "price": "300000.005"}, (-1013, "Filter failure: PRICE_FILTER")),
        ({"quantity": "0.00000", "price": "300000"}, (-1013, "Filter failure: LOT_SIZE")),
        ({"quantity": "10000", "price": "300000"}, (-1013, "Filter failure: LOT_SIZE")),
        ({"quantity": "0.0001", "price": "0.001"}, (-1013, "Filter failure: PRICE_FILTER")),
        ({"quantity": "0.00002", "price": "300000"}, (-1013, "Filter failure: NOTIONAL")),
        ({"quantity": "abc", "price": "300000"}, (-1100, _ILLEGAL_QUANTITY)),
        ({"price": "300000"}, (-1102, _NO_QUANTITY)),
        ({"quantity": "0.0001", "price": "300000", "foo": "1"}, (-1104, _UNREAD)),
    ],
)
async def test_server_refuses_bad_limit_orders(
    binance_sim: BinanceSim, params: dict[str, str], expected: tuple[int, str]
) -> None:
    key, secret = await binance_sim.account(BRL="1000000")
    order = {"symbol": "BTCBRL", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", **params}
    response = await _call(binance_sim, "POST", "/api/v3/order", key, secret, order)
    assert _error(response) == (400, *expected)
    assert await binance_sim.balances(key) == {"BRL": (Decimal(1000000), Decimal(0))}


async def test_server_refuses_bad_market_orders(binance_sim: BinanceSim) -> None:
    key, secret = await binance_sim.account(BTC="1000")
    market = {"symbol": "BTCBRL", "side": "SELL", "type": "MARKET"}
    too_big = await _call(
        binance_sim, "POST", "/api/v3/order", key, secret, {**market, "quantity": "101"}
    )
    assert _error(too_big) == (400, -1013, "Filter failure: MARKET_LOT_SIZE")
    priced = await _call(
        binance_sim, "POST", "/api/v3/order", key, secret,
        {**market, "quantity": "1", "price": "1"},
    )  # fmt: skip
    assert _error(priced) == (400, -1106, "Parameter 'price' sent when not required.")
    neither = await _call(binance_sim, "POST", "/api/v3/order", key, secret, market)
    assert _error(neither)[1] == -1102
    unknown = await _call(
        binance_sim, "POST", "/api/v3/order", key, secret,
        {**market, "symbol": "NOPENOPE", "quantity": "1"},
    )  # fmt: skip
    assert _error(unknown) == (400, -1121, "Invalid symbol.")


async def test_insufficient_balance_and_duplicate_client_id(binance_sim: BinanceSim) -> None:
    key, secret = await binance_sim.account(BRL="100")
    order = {
        "symbol": "BTCBRL", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
        "quantity": "0.0004", "price": "300000", "newClientOrderId": "dup-1",
    }  # fmt: skip
    poor = await _call(binance_sim, "POST", "/api/v3/order", key, secret, order)
    assert _error(poor) == (400, -2010, "Account has insufficient balance for requested action.")
    await binance_sim.deposit(key, "BRL", Decimal(1000))
    first = await _call(binance_sim, "POST", "/api/v3/order", key, secret, order)
    assert first.json()["status"] == "NEW"
    again = await _call(binance_sim, "POST", "/api/v3/order", key, secret, order)
    assert _error(again) == (400, -2010, "Duplicate order sent.")


async def test_unknown_orders_and_cancel_of_a_filled_order(binance_sim: BinanceSim) -> None:
    key, secret = await binance_sim.account(BRL="1000")
    ref = {"symbol": "BTCBRL", "origClientOrderId": "never"}
    missing = await _call(binance_sim, "GET", "/api/v3/order", key, secret, ref)
    assert _error(missing) == (400, -2013, "Order does not exist.")
    cancel = await _call(binance_sim, "DELETE", "/api/v3/order", key, secret, ref)
    assert _error(cancel) == (400, -2011, "Unknown order sent.")
    neither = await _call(binance_sim, "GET", "/api/v3/order", key, secret, {"symbol": "BTCBRL"})
    assert _error(neither) == (
        400,
        -1102,
        "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
    )
    filled = await _call(
        binance_sim, "POST", "/api/v3/order", key, secret,
        {"symbol": "BTCBRL", "side": "BUY", "type": "MARKET", "quantity": "0.0001"},
    )  # fmt: skip
    assert filled.json()["status"] == "FILLED"
    late = await _call(
        binance_sim, "DELETE", "/api/v3/order", key, secret,
        {"symbol": "BTCBRL", "orderId": str(filled.json()["orderId"])},
    )  # fmt: skip
    assert _error(late) == (400, -2011, "Unknown order sent.")


@pytest.mark.parametrize("resp_type", ["ACK", "RESULT", "FULL"])
async def test_new_order_response_types(binance_sim: BinanceSim, resp_type: str) -> None:
    key, secret = await binance_sim.account(BRL="1000")
    await binance_sim.set_price("BTCBRL", Decimal(350000))
    response = await _call(
        binance_sim, "POST", "/api/v3/order", key, secret,
        {"symbol": "BTCBRL", "side": "BUY", "type": "MARKET", "quoteOrderQty": "35",
         "newOrderRespType": resp_type, "newClientOrderId": "x.y:z/1"},
    )  # fmt: skip
    body = response.json()
    assert body["clientOrderId"] == "x.y:z/1" and body["orderListId"] == -1
    assert ("status" in body) == (resp_type != "ACK")
    assert ("fills" in body) == (resp_type == "FULL")
    if resp_type == "FULL":
        assert body["executedQty"] == "0.00010000"
        assert body["cummulativeQuoteQty"] == "35.00000000"
        assert body["fills"] == [
            {"price": "350000.00000000", "qty": "0.00010000", "commission": "0.00000010",
             "commissionAsset": "BTC", "tradeId": body["fills"][0]["tradeId"]}
        ]  # fmt: skip


async def test_ioc_limit_that_cannot_fill_expires(binance_sim: BinanceSim) -> None:
    key, secret = await binance_sim.account(BRL="1000")
    await binance_sim.set_price("BTCBRL", Decimal(350000))
    response = await _call(
        binance_sim, "POST", "/api/v3/order", key, secret,
        {"symbol": "BTCBRL", "side": "BUY", "type": "LIMIT", "timeInForce": "IOC",
         "quantity": "0.0001", "price": "300000"},
    )  # fmt: skip
    assert response.json()["status"] == "EXPIRED"
    assert await binance_sim.balances(key) == {"BRL": (Decimal(1000), Decimal(0))}


# -- limits, clocks and faults (own simulators) ------------------------------------------------


async def test_weight_limit_answers_429_then_bans_with_418(binance_sim_factory: SimFactory) -> None:
    sim = binance_sim_factory(weight_limit=3, weight_window_seconds=60, ban_after=2)
    for used in (1, 2, 3):
        response = await sim.http.get("/api/v3/ping")
        assert response.headers["X-MBX-USED-WEIGHT-1M"] == str(used)
    limited = await sim.http.get("/api/v3/ping")
    status, code, msg = _error(limited)
    assert (status, code) == (429, -1003) and "request weight per 1 MINUTE" in msg
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    await sim.http.get("/api/v3/ping")  # second violation: still 429
    banned = await sim.http.get("/api/v3/ping")
    assert _error(banned)[:2] == (418, -1003) and "IP banned until" in _error(banned)[2]
    assert int(banned.headers["Retry-After"]) >= 1
    assert (await sim.stats())["statuses"] == {"200": 3, "429": 2, "418": 1}


async def test_clock_offset_provokes_timestamp_errors(binance_sim_factory: SimFactory) -> None:
    sim = binance_sim_factory()
    key, secret = await sim.account()
    await sim.clock(offset_ms=-10_000)
    response = await _call(sim, "GET", "/api/v3/account", key, secret, {})
    assert _error(response)[1] == -1021
    server_time = (await sim.http.get("/api/v3/time")).json()["serverTime"]
    synced = await _call(sim, "GET", "/api/v3/account", key, secret, {}, timestamp=server_time)
    assert synced.status_code == 200


async def test_fault_after_processing_places_the_order_and_fails_the_answer(
    binance_sim_factory: SimFactory,
) -> None:
    sim = binance_sim_factory()
    key, secret = await sim.account(BRL="1000")
    await sim.fault(path="/api/v3/order", method="POST", status=503, after_processing=True)
    order = {"symbol": "BTCBRL", "side": "BUY", "type": "MARKET", "quantity": "0.0001"}
    lost = await _call(sim, "POST", "/api/v3/order", key, secret, order)
    assert lost.status_code == 503 and lost.json()["code"] == -1008
    assert (await sim.stats())["orders_placed"] == 1
    assert (await sim.balances(key))["BTC"][0] > 0


async def test_market_clock_advance_moves_path_prices(binance_sim_factory: SimFactory) -> None:
    sim = binance_sim_factory(symbols=[
        BTC_BRL.model_copy(update={"path": RandomWalkPath(start_price=Decimal(350000))})
    ])  # fmt: skip
    before = (await sim.http.get("/api/v3/ticker/price", params={"symbol": "BTCBRL"})).json()
    clock = await sim.clock(advance_seconds=86_400)
    assert clock["market_time"] - clock["server_time"] >= 86_400_000 - 1000
    after = (await sim.http.get("/api/v3/ticker/price", params={"symbol": "BTCBRL"})).json()
    assert before["price"] != after["price"]
