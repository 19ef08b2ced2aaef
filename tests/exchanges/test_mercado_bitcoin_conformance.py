"""The venue-agnostic conformance checks, run against MercadoBitcoinExchange over HTTP on the
simulator: a BRL market, a satoshi-priced one (PEPE-BRL) and real ETH/BTC candles replayed."""

from __future__ import annotations

import pytest

from simulators.mercadobitcoin import AccountSpec, running
from tests.exchanges import conformance
from tests.exchanges.conftest_mercadobitcoin import MbControl, mb_adapter, mb_sim_config

_FRESH = AccountSpec(key="conformance-token", secret="conformance-secret")


@pytest.mark.parametrize("symbol", ["BTC-BRL", "PEPE-BRL", "ETH-BTC"])
@pytest.mark.parametrize(
    "check", conformance.CHECKS + conformance.ORDER_TYPE_CHECKS, ids=conformance.check_id
)
async def test_mercado_bitcoin_conforms(check: conformance.Check, symbol: str) -> None:
    async with running(mb_sim_config(accounts=[_FRESH])) as sim:
        control = MbControl(sim, key=_FRESH.key, symbol=symbol)
        async with mb_adapter(sim, login=_FRESH.key, password=_FRESH.secret) as exchange:
            await check(exchange, control)
        await control.http.aclose()
