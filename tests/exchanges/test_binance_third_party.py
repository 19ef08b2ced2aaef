"""Stock third-party Binance clients pointed at the simulator's base URL work unchanged:
python-binance (`binance.client.Client`, the most used) and Binance's official
binance-sdk-spot (`binance_sdk_spot.spot.Spot`). Only the base URL is redirected."""

from __future__ import annotations

from decimal import Decimal

import pytest
from binance.client import Client
from binance.exceptions import BinanceAPIException
from binance_common.configuration import ConfigurationRestAPI
from binance_common.errors import BadRequestError
from binance_sdk_spot.spot import Spot

from tests.exchanges.conftest_binance import BinanceSim


def python_binance(sim: BinanceSim, key: str, secret: str) -> Client:
    client = Client(key, secret, ping=False, requests_params={"timeout": 10})
    client.API_URL = f"{sim.base_url}/api"  # the one documented override point
    return client


def binance_sdk(sim: BinanceSim, key: str, secret: str) -> Spot:
    return Spot(
        config_rest_api=ConfigurationRestAPI(
            api_key=key, api_secret=secret, base_path=sim.base_url, timeout=10_000
        )
    )


async def test_python_binance_runs_against_the_simulator(binance_sim: BinanceSim) -> None:
    key, secret = await binance_sim.account(BRL="1000", XLM="500")
    await binance_sim.set_price("BTCBRL", Decimal(350000))
    client = python_binance(binance_sim, key, secret)

    assert client.ping() == {}
    assert client.get_symbol_ticker(symbol="XLMBTC") == {"symbol": "XLMBTC", "price": "0.00000123"}
    every_book = {row["symbol"] for row in client.get_orderbook_tickers()}
    assert {"BTCBRL", "ETHBRL", "XLMBTC", "ETHBTC"} <= every_book
    klines = client.get_klines(symbol="ETHBTC", interval="5m", limit=3)
    assert len(klines) == 3 and all(len(row) == 12 for row in klines)
    balances = {b["asset"]: b["free"] for b in client.get_account()["balances"]}
    assert balances == {"BRL": "1000.00000000", "XLM": "500.00000000"}

    assert (
        client.create_test_order(symbol="BTCBRL", side="BUY", type="MARKET", quantity="0.0001")
        == {}
    )
    bought = client.order_market_buy(symbol="BTCBRL", quantity="0.0001")
    assert bought["status"] == "FILLED" and bought["cummulativeQuoteQty"] == "35.00000000"
    assert bought["clientOrderId"].startswith(client.SPOT_ORDER_PREFIX)  # its own id scheme
    trades = client.get_my_trades(symbol="BTCBRL", fromId=0)
    assert [t["orderId"] for t in trades] == [bought["orderId"]]

    resting = client.order_limit_sell(
        symbol="XLMBTC", quantity="100", price="0.00000200", newClientOrderId="pb-1"
    )
    assert resting["status"] == "NEW"
    assert [o["clientOrderId"] for o in client.get_open_orders()] == ["pb-1"]
    assert client.get_order(symbol="XLMBTC", origClientOrderId="pb-1")["price"] == "0.00000200"
    assert client.cancel_order(symbol="XLMBTC", orderId=resting["orderId"])["status"] == "CANCELED"
    with pytest.raises(BinanceAPIException) as refused:
        client.order_market_buy(symbol="BTCBRL", quantity="1")
    assert (refused.value.status_code, refused.value.code) == (400, -2010)

    maker = {"symbol": "BTCBRL", "side": "BUY", "type": "LIMIT_MAKER", "quantity": "0.001"}
    posted = client.create_order(**maker, price="300000", newClientOrderId="pb-maker")
    assert set(posted) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    with pytest.raises(BinanceAPIException, match="immediately match and take"):
        client.create_order(**maker, price="350000")
    replaced = client.cancel_replace_order(
        symbol="BTCBRL", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001",
        price="310000", cancelReplaceMode="STOP_ON_FAILURE", cancelOrigClientOrderId="pb-maker",
    )  # fmt: skip
    assert (replaced["cancelResult"], replaced["newOrderResult"]) == ("SUCCESS", "SUCCESS")
    assert replaced["cancelResponse"]["orderId"] == posted["orderId"]
    [open_order] = client.get_open_orders(symbol="BTCBRL")
    assert open_order["orderId"] == replaced["newOrderResponse"]["orderId"]
    with pytest.raises(BinanceAPIException) as partly:  # cancels, then the new order would take
        client.cancel_replace_order(
            **maker, price="350000", cancelReplaceMode="STOP_ON_FAILURE",
            cancelOrderId=open_order["orderId"],
        )  # fmt: skip
    assert (partly.value.status_code, partly.value.code) == (409, -2021)
    assert partly.value.response.json()["data"]["cancelResult"] == "SUCCESS"
    assert client.get_open_orders(symbol="BTCBRL") == []


async def test_binance_sdk_spot_runs_against_the_simulator(binance_sim: BinanceSim) -> None:
    key, secret = await binance_sim.account(BRL="1000", XLM="500")
    await binance_sim.set_price("BTCBRL", Decimal(350000))
    rest = binance_sdk(binance_sim, key, secret).rest_api

    assert rest.ping().status == 200
    assert rest.ticker_price(symbol="XLMBTC").data().to_dict() == {
        "symbol": "XLMBTC",
        "price": "0.00000123",
    }
    klines = rest.klines(symbol="ETHBTC", interval="5m", limit=3).data()
    assert len(klines) == 3
    balances = {b.asset: b.free for b in rest.get_account().data().balances}
    assert balances == {"BRL": "1000.00000000", "XLM": "500.00000000"}

    # The SDK sends quantities and prices as Python floats, so their str(): a satoshi price
    # becomes "2e-06", which Binance's number pattern refuses (-1100) as the simulator does.
    bought = rest.new_order(symbol="BTCBRL", side="BUY", type="MARKET", quantity=0.0001).data()
    assert bought.status == "FILLED" and bought.cummulative_quote_qty == "35.00000000"
    with pytest.raises(BadRequestError, match="Illegal characters found in parameter 'price'"):
        rest.new_order(
            symbol="XLMBTC", side="SELL", type="LIMIT", time_in_force="GTC",
            quantity=100.0, price=0.000002,
        )  # fmt: skip
    resting = rest.new_order(
        symbol="BTCBRL", side="BUY", type="LIMIT", time_in_force="GTC",
        quantity=0.001, price=300000.0, new_client_order_id="sdk-1",
    ).data()  # fmt: skip
    assert resting.status == "NEW"
    [open_order] = rest.get_open_orders(symbol="BTCBRL").data()
    assert (open_order.client_order_id, open_order.price) == ("sdk-1", "300000.00000000")
    canceled = [o.to_dict() for o in rest.delete_open_orders(symbol="BTCBRL").data()]
    assert [(o["origClientOrderId"], o["status"]) for o in canceled] == [("sdk-1", "CANCELED")]
    with pytest.raises(BadRequestError, match="insufficient balance"):
        rest.new_order(symbol="BTCBRL", side="BUY", type="MARKET", quantity=1.0)

    posted = rest.new_order(
        symbol="BTCBRL", side="BUY", type="LIMIT_MAKER", quantity=0.001, price=300000.0
    ).data()
    assert posted.status is None  # LIMIT_MAKER answers ACK by default
    replaced = rest.order_cancel_replace(
        symbol="BTCBRL", side="BUY", type="LIMIT", cancel_replace_mode="ALLOW_FAILURE",
        time_in_force="GTC", quantity=0.001, price=310000.0, cancel_order_id=posted.order_id,
    ).data()  # fmt: skip
    assert (replaced.cancel_result, replaced.new_order_result) == ("SUCCESS", "SUCCESS")
    [open_order] = rest.get_open_orders(symbol="BTCBRL").data()
    assert (open_order.type, open_order.price) == ("LIMIT", "310000.00000000")
