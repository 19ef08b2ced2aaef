"""A stock third-party Binance client (binance-connector's `Spot`) pointed at the simulator's
base URL works unchanged: market data, signed account reads and orders."""

from __future__ import annotations

from decimal import Decimal

import pytest
from binance.error import ClientError
from binance.spot import Spot

from tests.exchanges.conftest_binance import BinanceSim


async def test_binance_connector_runs_against_the_simulator(binance_sim: BinanceSim) -> None:
    key, secret = await binance_sim.account(BRL="1000", XLM="500")
    await binance_sim.set_price("BTCBRL", Decimal(350000))
    client = Spot(api_key=key, api_secret=secret, base_url=binance_sim.base_url, timeout=10)

    assert client.ping() == {}
    assert client.ticker_price("XLMBTC") == {"symbol": "XLMBTC", "price": "0.00000123"}
    klines = client.klines("ETHBTC", "5m", limit=3)
    assert len(klines) == 3 and all(len(row) == 12 for row in klines)
    balances = {b["asset"]: b["free"] for b in client.account()["balances"]}
    assert balances == {"BRL": "1000.00000000", "XLM": "500.00000000"}

    bought = client.new_order(symbol="BTCBRL", side="BUY", type="MARKET", quantity="0.0001")
    assert bought["status"] == "FILLED" and bought["cummulativeQuoteQty"] == "35.00000000"
    resting = client.new_order(
        symbol="XLMBTC", side="SELL", type="LIMIT", timeInForce="GTC",
        quantity="100", price="0.00000200", newClientOrderId="connector-1",
    )  # fmt: skip
    assert resting["status"] == "NEW"
    assert client.get_order("XLMBTC", origClientOrderId="connector-1")["price"] == "0.00000200"
    assert client.cancel_order("XLMBTC", orderId=resting["orderId"])["status"] == "CANCELED"
    with pytest.raises(ClientError) as refused:
        client.new_order(symbol="BTCBRL", side="BUY", type="MARKET", quantity="1")
    assert (refused.value.status_code, refused.value.error_code) == (400, -2010)
