"""The Binance simulator's less common wire behaviour, over raw HTTP: unknown routes, test orders,
cancel-all, order-count headers, query-over-body, microsecond times and the 24 h history window."""

from __future__ import annotations

import hashlib
import hmac
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx

from tests.exchanges.conftest_binance import BinanceSim, SimFactory

_FORM = {"Content-Type": "application/x-www-form-urlencoded"}
_BUY = {"symbol": "BTCBRL", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
_DAY_MS = 24 * 3600 * 1000


def _signed(secret: str, params: dict[str, str], timestamp: int | None = None) -> str:
    query = urlencode({**params, "timestamp": str(timestamp or int(time.time() * 1000))})
    signature = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={signature}"


async def _call(
    sim: BinanceSim,
    method: str,
    path: str,
    account: tuple[str, str],
    params: dict[str, str],
    timestamp: int | None = None,
) -> httpx.Response:
    key, secret = account
    return await sim.http.request(
        method, f"{path}?{_signed(secret, params, timestamp)}", headers={"X-MBX-APIKEY": key}
    )


def _error(response: httpx.Response) -> tuple[int, int, str]:
    body: dict[str, Any] = response.json()
    return response.status_code, body["code"], body["msg"]


async def _open_orders(sim: BinanceSim, account: tuple[str, str]) -> list[dict[str, Any]]:
    response = await _call(sim, "GET", "/api/v3/openOrders", account, {"symbol": "BTCBRL"})
    assert response.status_code == 200, response.text
    orders: list[dict[str, Any]] = response.json()
    return orders


async def test_unknown_routes_are_the_web_servers_404_page(binance_sim: BinanceSim) -> None:
    for method, path in (("GET", "/api/v3/nothingHere"), ("PUT", "/api/v3/order")):
        response = await binance_sim.http.request(method, path)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "404 Not Found" in response.text
        assert "detail" not in response.text  # not FastAPI's {"detail": "Not Found"}
    control = await binance_sim.http.get("/_sim/nothing-here")
    assert control.status_code == 404
    assert control.json() == {"detail": "Not Found"}  # the control API stays FastAPI's


async def test_order_test_checks_like_an_order_and_places_nothing(binance_sim: BinanceSim) -> None:
    account = await binance_sim.account(BRL="10")  # far too little for the order: not checked
    order = {**_BUY, "quantity": "0.0001", "price": "300000"}
    ok = await _call(binance_sim, "POST", "/api/v3/order/test", account, order)
    assert ok.status_code == 200, ok.text
    assert ok.json() == {}
    assert "X-MBX-ORDER-COUNT-10S" not in ok.headers
    used = int(ok.headers["X-MBX-USED-WEIGHT-1M"])
    rates = await _call(
        binance_sim,
        "POST",
        "/api/v3/order/test",
        account,
        {**order, "computeCommissionRates": "true"},
    )
    assert rates.status_code == 200, rates.text
    # Weight 20 with the rates (the minute may roll over in between: then 20 alone).
    assert int(rates.headers["X-MBX-USED-WEIGHT-1M"]) in (used + 20, 20)
    body = rates.json()
    assert body["standardCommissionForOrder"] == {"maker": "0.00100000", "taker": "0.00100000"}
    assert body["taxCommissionForOrder"] == {"maker": "0.00000000", "taker": "0.00000000"}
    assert body["discount"]["enabledForAccount"] is False
    bad = await _call(
        binance_sim, "POST", "/api/v3/order/test", account, {**order, "quantity": "0.000015"}
    )
    assert _error(bad) == (400, -1013, "Filter failure: LOT_SIZE")
    assert await _open_orders(binance_sim, account) == []
    assert await binance_sim.balances(account[0]) == {"BRL": (Decimal(10), Decimal(0))}


async def test_cancel_all_open_orders_on_a_symbol(binance_sim: BinanceSim) -> None:
    account = await binance_sim.account(BRL="1000")
    await binance_sim.set_price("BTCBRL", Decimal(350000))  # other tests move the shared market
    placed = []
    for price in ("300000", "310000"):
        response = await _call(
            binance_sim,
            "POST",
            "/api/v3/order",
            account,
            {**_BUY, "quantity": "0.0001", "price": price, "newClientOrderId": f"c-{price}"},
        )
        assert response.status_code == 200, response.text
        placed.append(response.json()["orderId"])
    canceled = await _call(
        binance_sim, "DELETE", "/api/v3/openOrders", account, {"symbol": "BTCBRL"}
    )
    assert canceled.status_code == 200, canceled.text
    answers = canceled.json()
    assert sorted(a["orderId"] for a in answers) == sorted(placed)
    assert {a["status"] for a in answers} == {"CANCELED"}
    assert {a["origClientOrderId"] for a in answers} == {"c-300000", "c-310000"}
    assert await _open_orders(binance_sim, account) == []
    assert await binance_sim.balances(account[0]) == {"BRL": (Decimal(1000), Decimal(0))}
    again = await _call(binance_sim, "DELETE", "/api/v3/openOrders", account, {"symbol": "BTCBRL"})
    assert _error(again) == (400, -2011, "Unknown order sent.")
    no_symbol = await _call(binance_sim, "DELETE", "/api/v3/openOrders", account, {})
    assert _error(no_symbol)[1] == -1102


async def test_placements_report_the_order_counts(binance_sim: BinanceSim) -> None:
    account = await binance_sim.account(BRL="1000")
    counts = []
    for _ in range(2):
        response = await _call(
            binance_sim,
            "POST",
            "/api/v3/order",
            account,
            {**_BUY, "quantity": "0.0001", "price": "300000"},
        )
        assert response.status_code == 200, response.text
        counts.append(
            (response.headers["X-MBX-ORDER-COUNT-10S"], response.headers["X-MBX-ORDER-COUNT-1D"])
        )
    # Ten seconds may roll over between the two; the day does not within a test.
    assert counts[0] == ("1", "1")
    assert counts[1][1] == "2" and counts[1][0] in ("1", "2")
    refused = await _call(
        binance_sim, "POST", "/api/v3/order", account, {**_BUY, "quantity": "1", "price": "300000"}
    )
    assert _error(refused)[1] == -2010
    assert "X-MBX-ORDER-COUNT-10S" not in refused.headers


async def test_a_parameter_in_query_and_body_is_taken_from_the_query(
    binance_sim: BinanceSim,
) -> None:
    key, secret = account = await binance_sim.account(BRL="1000")
    query = urlencode({**_BUY, "quantity": "0.0001"})
    rest = urlencode(
        {"quantity": "0.0002", "price": "300000", "timestamp": str(int(time.time() * 1000))}
    )
    signature = hmac.new(secret.encode(), (query + rest).encode(), hashlib.sha256).hexdigest()
    response = await binance_sim.http.post(
        f"/api/v3/order?{query}",
        content=f"{rest}&signature={signature}",
        headers={"X-MBX-APIKEY": key, **_FORM},
    )
    assert response.status_code == 200, response.text
    assert response.json()["origQty"] == "0.00010000"
    twice = await _call(binance_sim, "GET", "/api/v3/openOrders", account, {"symbol": "BTCBRL"})
    assert twice.status_code == 200
    duplicated = await binance_sim.http.get(
        f"/api/v3/openOrders?symbol=BTCBRL&symbol=BTCBRL&{_signed(secret, {})}",
        headers={"X-MBX-APIKEY": key},
    )
    assert _error(duplicated) == (400, -1101, "Duplicate values for a parameter detected.")


async def test_microsecond_timestamps_and_fractional_recv_window(binance_sim: BinanceSim) -> None:
    account = await binance_sim.account()
    now_us = int(time.time() * 1_000_000)
    in_us = await _call(binance_sim, "GET", "/api/v3/account", account, {}, timestamp=now_us)
    assert in_us.status_code == 200, in_us.text
    fractional = await _call(
        binance_sim, "GET", "/api/v3/account", account, {"recvWindow": "6000.346"}
    )
    assert fractional.status_code == 200, fractional.text
    # 6000.5 ms old: outside a 6000.346 ms window, inside a 10000.5 ms one.
    old_us = int(time.time() * 1_000_000) - 6_000_500
    narrow = await _call(
        binance_sim, "GET", "/api/v3/account", account, {"recvWindow": "6000.346"}, old_us
    )
    assert _error(narrow) == (
        400,
        -1021,
        "Timestamp for this request is outside of the recvWindow.",
    )
    wide = await _call(
        binance_sim, "GET", "/api/v3/account", account, {"recvWindow": "10000.5"}, old_us
    )
    assert wide.status_code == 200, wide.text
    too_precise = await _call(
        binance_sim, "GET", "/api/v3/account", account, {"recvWindow": "5000.1234"}
    )
    assert _error(too_precise) == (400, -1130, "Invalid data sent for parameter 'recvWindow'.")
    too_wide = await _call(
        binance_sim, "GET", "/api/v3/account", account, {"recvWindow": "60000.001"}
    )
    assert _error(too_wide) == (400, -1131, "recvWindow must be less than 60000")


async def test_history_lookups_span_at_most_24_hours(binance_sim: BinanceSim) -> None:
    account = await binance_sim.account(BRL="1000")
    placed = await _call(
        binance_sim,
        "POST",
        "/api/v3/order",
        account,
        {**_BUY, "quantity": "0.0001", "price": "300000"},
    )
    assert placed.status_code == 200, placed.text
    end = int(time.time() * 1000) + 60_000
    for path in ("/api/v3/allOrders", "/api/v3/myTrades"):
        too_long = await _call(
            binance_sim,
            "GET",
            path,
            account,
            {"symbol": "BTCBRL", "startTime": str(end - _DAY_MS - 1), "endTime": str(end)},
        )
        assert _error(too_long) == (
            400,
            -1127,
            "More than 24 hours between startTime and endTime.",
        ), path
        a_day = await _call(
            binance_sim,
            "GET",
            path,
            account,
            {"symbol": "BTCBRL", "startTime": str(end - _DAY_MS), "endTime": str(end)},
        )
        assert a_day.status_code == 200, a_day.text
    # Microsecond bounds select the same orders as millisecond ones.
    in_us = await _call(
        binance_sim,
        "GET",
        "/api/v3/allOrders",
        account,
        {"symbol": "BTCBRL", "startTime": str((end - _DAY_MS) * 1000), "endTime": str(end * 1000)},
    )
    assert in_us.status_code == 200, in_us.text
    assert [o["orderId"] for o in in_us.json()] == [placed.json()["orderId"]]


async def test_time_unit_header_answers_microseconds(binance_sim: BinanceSim) -> None:
    micro = {"X-MBX-TIME-UNIT": "MICROSECOND"}
    before_us = int(time.time() * 1_000_000)
    server = (await binance_sim.http.get("/api/v3/time", headers=micro)).json()["serverTime"]
    assert abs(server - before_us) < 60_000_000  # microseconds, not milliseconds
    plain = (await binance_sim.http.get("/api/v3/time")).json()["serverTime"]
    assert abs(plain - before_us // 1000) < 60_000
    # A candle well in the past: both requests read the same one.
    klines = (
        f"/api/v3/klines?symbol=BTCBRL&interval=1m&limit=1&startTime={before_us // 1000 - 600_000}"
    )
    kline_ms = (await binance_sim.http.get(klines)).json()
    lower = {"X-MBX-TIME-UNIT": "microsecond"}
    kline_us = (await binance_sim.http.get(klines, headers=lower)).json()
    assert kline_us[0][0] == kline_ms[0][0] * 1000
    assert kline_us[0][6] == kline_ms[0][6] * 1000
    key, secret = await binance_sim.account(BRL="1000")
    order = {**_BUY, "quantity": "0.0001", "price": "300000", "newOrderRespType": "RESULT"}
    placed = await binance_sim.http.post(
        f"/api/v3/order?{_signed(secret, order)}", headers={"X-MBX-APIKEY": key, **micro}
    )
    assert placed.status_code == 200, placed.text
    assert abs(placed.json()["transactTime"] - before_us) < 60_000_000
    assert placed.json()["workingTime"] >= before_us - 60_000_000


async def test_the_daily_order_limit_is_announced_and_enforced(
    binance_sim_factory: SimFactory,
) -> None:
    sim = binance_sim_factory(orders_per_day=2)
    limits = (await sim.http.get("/api/v3/exchangeInfo")).json()["rateLimits"]
    assert {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 2} in limits
    account = await sim.account(BRL="1000")
    order = {**_BUY, "quantity": "0.0001", "price": "300000"}
    for _ in range(2):
        placed = await _call(sim, "POST", "/api/v3/order", account, order)
        assert placed.status_code == 200, placed.text
    refused = await _call(sim, "POST", "/api/v3/order", account, order)
    assert _error(refused) == (
        429,
        -1015,
        "Too many new orders; current limit is 2 orders per DAY.",
    )
    assert 0 < int(refused.headers["Retry-After"]) <= 86400
    assert len(await _open_orders(sim, account)) == 2
