"""The Binance simulator's POST /api/v3/order/cancelReplace (rest-api.md's response shapes) and
commissions paid in BNB (commission_faq.md), over raw HTTP."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from tests.exchanges.conftest_binance import BinanceSim, SimFactory
from tests.exchanges.test_binance_sim_orders import (
    BNB_BRL,
    BTC_BRL,
    Account,
    call,
    error,
    ok,
    order,
    query,
)

D = Decimal
_BUY = {"symbol": "BTCBRL", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}


@pytest.fixture(scope="module")
def sim(binance_sim_factory: SimFactory) -> BinanceSim:
    return binance_sim_factory(symbols=[BTC_BRL, BNB_BRL])


async def _resting(sim: BinanceSim, account: Account, cid: str) -> int:
    params = {**_BUY, "quantity": "0.001", "price": "300000", "newClientOrderId": cid}
    placed = await order(sim, account, **params)
    assert placed.status_code == 200, placed.text
    order_id: int = placed.json()["orderId"]
    return order_id


def _replace(**params: str) -> dict[str, str]:
    return {**_BUY, "quantity": "0.001", "price": "310000", **params}


async def _open(sim: BinanceSim, account: Account) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = await ok(
        sim, "GET", "/api/v3/openOrders", account, {"symbol": "BTCBRL"}
    )
    return orders


async def test_cancel_replace_success_cancels_then_places(sim: BinanceSim) -> None:
    account = await sim.account(BRL="10000")
    old = await _resting(sim, account, "old-1")
    response = await call(
        sim,
        "POST",
        "/api/v3/order/cancelReplace",
        account,
        _replace(
            cancelReplaceMode="STOP_ON_FAILURE",
            cancelOrigClientOrderId="old-1",
            cancelNewClientOrderId="cxl-1",
            newClientOrderId="new-1",
        ),
    )
    assert response.status_code == 200, response.text
    assert int(response.headers["X-MBX-ORDER-COUNT-10S"]) >= 2  # counted as an order
    body = response.json()
    assert (body["cancelResult"], body["newOrderResult"]) == ("SUCCESS", "SUCCESS")
    canceled, placed = body["cancelResponse"], body["newOrderResponse"]
    assert (canceled["orderId"], canceled["status"]) == (old, "CANCELED")
    assert (canceled["origClientOrderId"], canceled["clientOrderId"]) == ("old-1", "cxl-1")
    assert (placed["clientOrderId"], placed["status"], placed["price"]) == (
        "new-1",
        "NEW",
        "310000.00000000",
    )
    assert placed["fills"] == []  # a LIMIT answers FULL by default
    assert [o["clientOrderId"] for o in await _open(sim, account)] == ["new-1"]
    assert await sim.balances(account[0]) == {"BRL": (D(10000) - D(310), D(310))}


async def test_cancel_replace_weight_is_one(sim: BinanceSim) -> None:
    account = await sim.account(BRL="10000")
    old = await _resting(sim, account, "w-1")
    before = await sim.http.get("/api/v3/ping")
    response = await call(
        sim,
        "POST",
        "/api/v3/order/cancelReplace",
        account,
        _replace(cancelReplaceMode="ALLOW_FAILURE", cancelOrderId=str(old)),
    )
    assert response.status_code == 200, response.text
    used_before = int(before.headers["X-MBX-USED-WEIGHT-1M"])
    # The minute may roll over in between: then 1 alone.
    assert int(response.headers["X-MBX-USED-WEIGHT-1M"]) in (used_before + 1, 1)


async def test_stop_on_failure_stops_when_the_cancel_fails(sim: BinanceSim) -> None:
    account = await sim.account(BRL="10000")
    response = await call(
        sim,
        "POST",
        "/api/v3/order/cancelReplace",
        account,
        _replace(cancelReplaceMode="STOP_ON_FAILURE", cancelOrderId="999999"),
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": -2022,
        "msg": "Order cancel-replace failed.",
        "data": {
            "cancelResult": "FAILURE",
            "newOrderResult": "NOT_ATTEMPTED",
            "cancelResponse": {"code": -2011, "msg": "Unknown order sent."},
            "newOrderResponse": None,
        },
    }
    assert await _open(sim, account) == []


async def test_allow_failure_places_even_when_the_cancel_fails(sim: BinanceSim) -> None:
    account = await sim.account(BRL="10000")
    response = await call(
        sim,
        "POST",
        "/api/v3/order/cancelReplace",
        account,
        _replace(
            cancelReplaceMode="ALLOW_FAILURE",
            cancelOrigClientOrderId="nothing-here",
            newOrderRespType="ACK",
        ),
    )
    assert response.status_code == 409
    body = response.json()
    assert (body["code"], body["msg"]) == (-2021, "Order cancel-replace partially failed.")
    data = body["data"]
    assert (data["cancelResult"], data["newOrderResult"]) == ("FAILURE", "SUCCESS")
    assert data["cancelResponse"] == {"code": -2011, "msg": "Unknown order sent."}
    assert set(data["newOrderResponse"]) == {
        *("symbol", "orderId", "orderListId", "clientOrderId", "transactTime"),
    }
    [placed] = await _open(sim, account)
    assert placed["orderId"] == data["newOrderResponse"]["orderId"]


async def test_cancel_succeeds_and_the_new_order_fails(sim: BinanceSim) -> None:
    account = await sim.account(BRL="10000")
    old = await _resting(sim, account, "old-2")
    taking = {k: v for k, v in _replace(price="350000").items() if k != "timeInForce"}
    response = await call(
        sim,
        "POST",
        "/api/v3/order/cancelReplace",
        account,
        {**taking, "type": "LIMIT_MAKER", "cancelReplaceMode": "STOP_ON_FAILURE",
         "cancelOrderId": str(old)},
    )  # fmt: skip
    assert response.status_code == 409
    data = response.json()["data"]
    assert (data["cancelResult"], data["newOrderResult"]) == ("SUCCESS", "FAILURE")
    assert (data["cancelResponse"]["orderId"], data["cancelResponse"]["status"]) == (
        old,
        "CANCELED",
    )
    assert data["newOrderResponse"] == {
        "code": -2010,
        "msg": "Order would immediately match and take.",
    }
    assert await _open(sim, account) == []
    assert await sim.balances(account[0]) == {"BRL": (D(10000), D(0))}


async def test_both_halves_failing_and_checks_made_before_anything(sim: BinanceSim) -> None:
    account = await sim.account(BRL="10")
    both = await call(
        sim,
        "POST",
        "/api/v3/order/cancelReplace",
        account,
        _replace(cancelReplaceMode="ALLOW_FAILURE", cancelOrderId="999999"),
    )
    assert both.status_code == 400
    assert both.json()["code"] == -2022
    assert both.json()["data"]["newOrderResponse"] == {
        "code": -2010,
        "msg": "Account has insufficient balance for requested action.",
    }
    await sim.deposit(account[0], "BRL", D(1000))
    old = await _resting(sim, account, "kept")
    for params, expected in (
        (_replace(cancelReplaceMode="STOP_ON_FAILURE", cancelOrderId=str(old), price="1"),
         (400, -1013, "Filter failure: PERCENT_PRICE_BY_SIDE")),
        (_replace(cancelReplaceMode="STOP_ON_FAILURE"),
         (400, -1102, "Param 'cancelOrigClientOrderId' or 'cancelOrderId' must be sent, "
                      "but both were empty/null!")),
        (_replace(cancelReplaceMode="NEVER", cancelOrderId=str(old)),
         (400, -1100, "Illegal characters found in parameter 'cancelReplaceMode'; legal range "
                      "is 'STOP_ON_FAILURE, ALLOW_FAILURE'.")),
        (_replace(cancelOrderId=str(old)),
         (400, -1102, "Mandatory parameter 'cancelReplaceMode' was not sent, was empty/null, "
                      "or malformed.")),
    ):  # fmt: skip
        response = await call(sim, "POST", "/api/v3/order/cancelReplace", account, params)
        assert error(response) == expected
    assert [o["orderId"] for o in await _open(sim, account)] == [old]  # never canceled


async def test_cancel_restrictions(sim: BinanceSim) -> None:
    account = await sim.account(BRL="10000")
    old = await _resting(sim, account, "restricted")
    params = {"symbol": "BTCBRL", "orderId": str(old)}
    only_filled = await call(
        sim,
        "DELETE",
        "/api/v3/order",
        account,
        {**params, "cancelRestrictions": "ONLY_PARTIALLY_FILLED"},
    )
    assert error(only_filled) == (400, -2011, "Order was not canceled due to cancel restrictions.")
    bad = await call(sim, "DELETE", "/api/v3/order", account, {**params, "cancelRestrictions": "X"})
    assert error(bad) == (400, -1145, "Invalid cancelRestrictions")
    canceled = await ok(
        sim, "DELETE", "/api/v3/order", account, {**params, "cancelRestrictions": "ONLY_NEW"}
    )
    assert canceled["status"] == "CANCELED"


# -- commissions in BNB -----------------------------------------------------------------------


async def _bnb_account(sim: BinanceSim, **balances: str) -> Account:
    key, secret = f"bnb-{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    response = await sim.http.post(
        "/_sim/accounts",
        json={"api_key": key, "secret": secret, "balances": balances, "fees_in_bnb": True},
    )
    response.raise_for_status()
    return key, secret


async def test_commissions_are_paid_in_bnb_less_the_discount(sim: BinanceSim) -> None:
    account = await _bnb_account(sim, BRL="1000", BTC="0.01", BNB="1")
    market = {"symbol": "BTCBRL", "type": "MARKET", "quantity": "0.001"}
    bought = await order(sim, account, **market, side="BUY")
    assert bought.status_code == 200, bought.text
    # 0.1% of 0.001 BTC is 0.35 BRL at 350000, 0.00011666... BNB at 3000, less 25%.
    [fill] = bought.json()["fills"]
    assert (fill["commission"], fill["commissionAsset"]) == ("0.00008750", "BNB")
    sold = await order(sim, account, **market, side="SELL")
    [fill] = sold.json()["fills"]
    assert (fill["commission"], fill["commissionAsset"]) == ("0.00008750", "BNB")  # of 350 BRL
    trades = await ok(sim, "GET", "/api/v3/myTrades", account, {"symbol": "BTCBRL"})
    assert [(t["commission"], t["commissionAsset"]) for t in trades] == [
        ("0.00008750", "BNB"),
        ("0.00008750", "BNB"),
    ]
    assert await sim.balances(account[0]) == {
        "BNB": (D(1) - 2 * D("0.0000875"), D(0)),
        "BRL": (D(1000), D(0)),  # bought 350, sold 350, no commission in BRL
        "BTC": (D("0.01"), D(0)),
    }
    rates = await ok(
        sim,
        "POST",
        "/api/v3/order/test",
        account,
        {**market, "side": "BUY", "computeCommissionRates": "true"},
    )
    assert rates["discount"] == {
        "enabledForAccount": True,
        "enabledForSymbol": True,
        "discountAsset": "BNB",
        "discount": "0.25000000",
    }


async def test_bnb_burn_switches_and_too_little_bnb_pays_in_the_received_asset(
    sim: BinanceSim,
) -> None:
    account = await sim.account(BRL="2000", BNB="0.00005")  # less than one commission
    burn = await ok(sim, "GET", "/sapi/v1/bnbBurn", account, {})
    assert burn == {"spotBNBBurn": False, "interestBNBBurn": False}
    switched = await ok(sim, "POST", "/sapi/v1/bnbBurn", account, {"spotBNBBurn": "true"})
    assert switched == {"spotBNBBurn": True, "interestBNBBurn": False}
    market = {"symbol": "BTCBRL", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
    short = await order(sim, account, **market)
    [fill] = short.json()["fills"]
    assert (fill["commission"], fill["commissionAsset"]) == ("0.00000100", "BTC")
    await sim.deposit(account[0], "BNB", D(1))
    paid = await order(sim, account, **market)
    assert paid.json()["fills"][0]["commissionAsset"] == "BNB"
    await ok(sim, "POST", "/sapi/v1/bnbBurn", account, {"spotBNBBurn": "false"})
    plain = await order(sim, account, **market)
    assert plain.json()["fills"][0]["commissionAsset"] == "BTC"
    missing = await call(sim, "POST", "/sapi/v1/bnbBurn", account, {})
    assert error(missing)[1] == -1102
    shown = await query(sim, account, "BTCBRL", plain.json()["orderId"])
    assert shown["status"] == "FILLED"
    control = await sim.http.post(
        f"/_sim/accounts/{account[0]}/fees-in-bnb", json={"enabled": True}
    )
    assert control.json() == {"api_key": account[0], "fees_in_bnb": True}
    assert (await ok(sim, "GET", "/sapi/v1/bnbBurn", account, {}))["spotBNBBurn"] is True
    unknown = await sim.http.post("/_sim/accounts/nobody/fees-in-bnb", json={"enabled": True})
    assert unknown.status_code == 404
