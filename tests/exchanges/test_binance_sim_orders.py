"""The Binance simulator's order types, filters, cancelReplace and BNB commissions, over raw
HTTP as rest-api.md, filters.md and errors.md describe them."""

from __future__ import annotations

import hashlib
import hmac
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from simulators.binance.config import FixedPath, SymbolConfig
from tests.exchanges.conftest_binance import BinanceSim, SimFactory

D = Decimal
BTC_BRL = SymbolConfig(base="BTC", quote="BRL", path=FixedPath(price=D(350000)))
BNB_BRL = SymbolConfig(  # prices the BNB commissions; average-priced PERCENT_PRICE_BY_SIDE
    base="BNB",
    quote="BRL",
    path=FixedPath(price=D(3000)),
    tick_size=D("0.1"),
    step_size=D("0.001"),
    min_qty=D("0.001"),
    min_notional=D(1),
    bid_multiplier_up=D("1.1"),
    bid_multiplier_down=D("0.9"),
    ask_multiplier_up=D("1.2"),
    ask_multiplier_down=D("0.8"),
)
ETH_BRL = SymbolConfig(  # PERCENT_PRICE_BY_SIDE on the last price (avgPriceMins 0)
    base="ETH",
    quote="BRL",
    path=FixedPath(price=D(18000)),
    bid_multiplier_up=D("1.1"),
    bid_multiplier_down=D("0.9"),
    avg_price_mins=0,
)
SOL_BRL = SymbolConfig(base="SOL", quote="BRL", path=FixedPath(price=D(500)))  # stops pin it


@pytest.fixture(scope="module")
def sim(binance_sim_factory: SimFactory) -> BinanceSim:
    return binance_sim_factory(symbols=[BTC_BRL, BNB_BRL, ETH_BRL, SOL_BRL])


Account = tuple[str, str]


async def call(
    sim: BinanceSim, method: str, path: str, account: Account, params: dict[str, str]
) -> httpx.Response:
    key, secret = account
    query = urlencode({**params, "timestamp": str(int(time.time() * 1000))})
    signature = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    return await sim.http.request(
        method, f"{path}?{query}&signature={signature}", headers={"X-MBX-APIKEY": key}
    )


async def ok(
    sim: BinanceSim, method: str, path: str, account: Account, params: dict[str, str]
) -> Any:
    response = await call(sim, method, path, account, params)
    assert response.status_code == 200, response.text
    return response.json()


def error(response: httpx.Response) -> tuple[int, int, str]:
    body: dict[str, Any] = response.json()
    return response.status_code, body["code"], body["msg"]


async def order(sim: BinanceSim, account: Account, **params: str) -> httpx.Response:
    return await call(sim, "POST", "/api/v3/order", account, params)


async def query(sim: BinanceSim, account: Account, symbol: str, order_id: int) -> Any:
    params = {"symbol": symbol, "orderId": str(order_id)}
    return await ok(sim, "GET", "/api/v3/order", account, params)


async def test_exchange_info_announces_the_filters_and_order_types(sim: BinanceSim) -> None:
    info = (await sim.http.get("/api/v3/exchangeInfo", params={"symbol": "BNBBRL"})).json()
    [bnb] = info["symbols"]
    assert bnb["orderTypes"] == ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT"]
    assert bnb["icebergAllowed"] is True and bnb["cancelReplaceAllowed"] is True
    filters = {f["filterType"]: f for f in bnb["filters"]}
    assert filters["PERCENT_PRICE_BY_SIDE"] == {
        "filterType": "PERCENT_PRICE_BY_SIDE",
        "bidMultiplierUp": "1.1",
        "bidMultiplierDown": "0.9",
        "askMultiplierUp": "1.2",
        "askMultiplierDown": "0.8",
        "avgPriceMins": 5,
    }
    assert filters["ICEBERG_PARTS"] == {"filterType": "ICEBERG_PARTS", "limit": 10}


async def test_percent_price_by_side_bounds_each_side_by_the_average_price(
    sim: BinanceSim,
) -> None:
    account = await sim.account(BRL="100000", BNB="100")
    limit = {"symbol": "BNBBRL", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01"}
    # The average is 3000: bids within [2700, 3300], asks within [2400, 3600].
    for side, price, passes in (
        ("BUY", "3300", True),
        ("BUY", "3300.1", False),
        ("BUY", "2700", True),
        ("BUY", "2699.9", False),
        ("SELL", "3600", True),
        ("SELL", "3600.1", False),
        ("SELL", "2400", True),
        ("SELL", "2399.9", False),
    ):
        response = await order(sim, account, **limit, side=side, price=price)
        if passes:
            assert response.status_code == 200, response.text
        else:
            assert error(response) == (400, -1013, "Filter failure: PERCENT_PRICE_BY_SIDE")
    maker = {**limit, "type": "LIMIT_MAKER", "side": "BUY", "price": "3300.1"}
    del maker["timeInForce"]
    assert error(await order(sim, account, **maker))[2] == "Filter failure: PERCENT_PRICE_BY_SIDE"
    market = await order(sim, account, symbol="BNBBRL", side="BUY", type="MARKET", quantity="1")
    assert market.status_code == 200, market.text  # no price, nothing to bound


async def test_percent_price_by_side_with_no_minutes_uses_the_last_price(
    sim: BinanceSim,
) -> None:
    account = await sim.account(BRL="100000")
    await sim.set_price("ETHBRL", D(20000))
    buy = {"symbol": "ETHBRL", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    refused = await order(sim, account, **buy, quantity="0.001", price="17999")  # < 0.9 x 20000
    assert error(refused) == (400, -1013, "Filter failure: PERCENT_PRICE_BY_SIDE")
    accepted = await order(sim, account, **buy, quantity="0.001", price="21999")
    assert accepted.status_code == 200, accepted.text


async def test_iceberg_parts_and_iceberg_quantity_rules(sim: BinanceSim) -> None:
    account = await sim.account(BRL="100000")
    limit = {"symbol": "BTCBRL", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    iceberg = await order(
        sim, account, **limit, quantity="0.01", price="300000", icebergQty="0.001"
    )
    assert iceberg.status_code == 200, iceberg.text  # CEIL(0.01 / 0.001) = 10 parts: the limit
    assert iceberg.json()["icebergQty"] == "0.00100000"
    shown = await query(sim, account, "BTCBRL", iceberg.json()["orderId"])
    assert shown["icebergQty"] == "0.00100000"
    for params, expected in (
        ({"icebergQty": "0.00099"}, (400, -1013, "Filter failure: ICEBERG_PARTS")),  # 11 parts
        ({"icebergQty": "0.000015"}, (400, -1013, "Filter failure: LOT_SIZE")),
        ({"icebergQty": "0.01"}, (400, -2010, "IcebergQty exceeds QTY.")),
        (
            {"icebergQty": "0.005", "timeInForce": "IOC"},
            (400, -2010, "Unsupported order combination"),
        ),
    ):
        response = await order(
            sim, account, **{**limit, "quantity": "0.01", "price": "300000", **params}
        )
        assert error(response) == expected, params
    market = await order(
        sim,
        account,
        symbol="BTCBRL",
        side="BUY",
        type="MARKET",
        quantity="0.01",
        icebergQty="0.005",
    )
    assert error(market) == (400, -1106, "Parameter 'icebergQty' sent when not required.")


async def test_limit_maker_rests_as_a_maker_or_is_refused_when_it_would_take(
    sim: BinanceSim,
) -> None:
    account = await sim.account(BRL="100000")
    maker = {"symbol": "BTCBRL", "side": "BUY", "type": "LIMIT_MAKER", "quantity": "0.001"}
    taking = await order(sim, account, **maker, price="350000")
    assert error(taking) == (400, -2010, "Order would immediately match and take.")
    with_tif = await order(sim, account, **maker, price="340000", timeInForce="GTC")
    assert error(with_tif) == (400, -1106, "Parameter 'timeInForce' sent when not required.")
    no_price = await order(sim, account, **maker)
    assert error(no_price)[1] == -1102
    placed = await order(sim, account, **maker, price="340000")
    assert placed.status_code == 200, placed.text
    assert set(placed.json()) == {
        "symbol",
        "orderId",
        "orderListId",
        "clientOrderId",
        "transactTime",
    }
    shown = await query(sim, account, "BTCBRL", placed.json()["orderId"])
    assert (shown["type"], shown["status"], shown["isWorking"]) == ("LIMIT_MAKER", "NEW", True)
    assert await sim.balances(account[0]) == {"BRL": (D(100000) - D(340), D(340))}


async def test_stop_loss_limit_parameters(sim: BinanceSim) -> None:
    account = await sim.account(SOL="10")
    stop = {"symbol": "SOLBRL", "side": "SELL", "type": "STOP_LOSS_LIMIT", "quantity": "1"}
    for params, expected in (
        (
            {"price": "480", "timeInForce": "GTC"},
            (-1102, "Param 'stopPrice' or 'trailingDelta' must be sent, but both were empty/null!"),
        ),
        (
            {"price": "480", "stopPrice": "490"},
            (
                -1102,
                "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.",
            ),
        ),
        (
            {"price": "480", "stopPrice": "490", "timeInForce": "GTC", "quoteOrderQty": "10"},
            (-1106, "Parameter 'quoteOrderQty' sent when not required."),
        ),
        (
            {"price": "480", "stopPrice": "500", "timeInForce": "GTC"},  # the price is there
            (-2010, "Order would trigger immediately."),
        ),
        (
            {"price": "480", "stopPrice": "490.001", "timeInForce": "GTC"},
            (-1013, "Filter failure: PRICE_FILTER"),
        ),
    ):
        response = await order(sim, account, **stop, **params)
        assert error(response)[1:] == expected, params
    limit_with_stop = await order(
        sim, account, symbol="SOLBRL", side="SELL", type="LIMIT", timeInForce="GTC",
        quantity="1", price="510", stopPrice="490",
    )  # fmt: skip
    assert error(limit_with_stop)[1:] == (-1106, "Parameter 'stopPrice' sent when not required.")
    take_profit = await order(sim, account, **{**stop, "type": "TAKE_PROFIT_LIMIT"})
    assert error(take_profit)[2] == "Take profit limit orders are not supported for this symbol."
    assert await sim.balances(account[0]) == {"SOL": (D(10), D(0))}


async def test_stop_loss_limit_waits_then_works_once_the_price_reaches_its_stop(
    sim: BinanceSim,
) -> None:
    account = await sim.account(SOL="10")
    stop = {"symbol": "SOLBRL", "side": "SELL", "type": "STOP_LOSS_LIMIT", "quantity": "1"}
    placed = await order(  # a limit above the stop: it rests once triggered
        sim, account, **stop, price="495", stopPrice="490", timeInForce="GTC",
        newOrderRespType="RESULT",
    )  # fmt: skip
    assert placed.status_code == 200, placed.text
    body = placed.json()
    assert (body["status"], body["stopPrice"], body["workingTime"]) == ("NEW", "490.00000000", -1)
    waiting = await query(sim, account, "SOLBRL", body["orderId"])
    assert (waiting["isWorking"], waiting["workingTime"]) == (False, -1)
    assert await sim.balances(account[0]) == {"SOL": (D(9), D(1))}
    try:
        assert await sim.set_price("SOLBRL", D("495")) == 0
        # Reached: a limit sell at 495 with the price at 489 rests, working from now on.
        assert await sim.set_price("SOLBRL", D("489")) == 0
        working = await query(sim, account, "SOLBRL", body["orderId"])
        assert (working["status"], working["isWorking"]) == ("NEW", True)
        assert working["workingTime"] >= working["time"] > 0
        assert await sim.set_price("SOLBRL", D("494")) == 0
        assert await sim.set_price("SOLBRL", D("495")) == 1
        filled = await query(sim, account, "SOLBRL", body["orderId"])
        assert (filled["status"], filled["executedQty"]) == ("FILLED", "1.00000000")
        [trade] = await ok(sim, "GET", "/api/v3/myTrades", account, {"symbol": "SOLBRL"})
        assert (trade["price"], trade["isMaker"]) == ("495.00000000", True)
    finally:
        await sim.set_price("SOLBRL", D(500))


async def test_a_triggered_ioc_stop_takes_what_it_can_and_expires_the_rest(
    sim: BinanceSim,
) -> None:
    account = await sim.account(BRL="10000")
    stop = {"symbol": "SOLBRL", "side": "BUY", "type": "STOP_LOSS_LIMIT", "quantity": "1"}
    took = await order(sim, account, **stop, price="520", stopPrice="510", timeInForce="IOC")
    missed = await order(sim, account, **stop, price="505", stopPrice="508", timeInForce="IOC")
    assert took.status_code == missed.status_code == 200
    try:
        assert await sim.set_price("SOLBRL", D("511")) == 1  # both trigger; one is marketable
        done = await query(sim, account, "SOLBRL", took.json()["orderId"])
        assert (done["status"], done["executedQty"]) == ("FILLED", "1.00000000")
        [trade] = await ok(sim, "GET", "/api/v3/myTrades", account, {"symbol": "SOLBRL"})
        assert (trade["price"], trade["isMaker"]) == ("511.00000000", False)  # a taker
        expired = await query(sim, account, "SOLBRL", missed.json()["orderId"])
        assert (expired["status"], expired["isWorking"]) == ("EXPIRED", True)
        assert await sim.balances(account[0]) == {
            "BRL": (D(10000) - D(511), D(0)),
            "SOL": (D("0.999"), D(0)),
        }
    finally:
        await sim.set_price("SOLBRL", D(500))
