"""The venue-agnostic conformance checks, run against MercadoBitcoinExchange over HTTP on the
simulator: a BRL market, a satoshi-priced one (PEPE-BRL) and real ETH/BTC candles replayed with
whole fills; BTC-BRL with partial fills plus slippage too (each crossing fills half of what is
left: the other markets' orders count too many lots to fill within the checks' crossings)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from simulators.mercadobitcoin import AccountSpec, running
from tests.exchanges import conformance
from tests.exchanges.conftest_mercadobitcoin import MbControl, mb_adapter, mb_sim_config

_FRESH = AccountSpec(key="conformance-token", secret="conformance-secret")
_PARTIAL = {"partial_fill_ratio": Decimal("0.5"), "slippage": Decimal("0.002")}


@pytest.mark.parametrize(
    ("symbol", "kind"),
    [("BTC-BRL", "whole"), ("PEPE-BRL", "whole"), ("ETH-BTC", "whole"), ("BTC-BRL", "partial")],
)
@pytest.mark.parametrize(
    "check", conformance.CHECKS + conformance.ORDER_TYPE_CHECKS, ids=conformance.check_id
)
async def test_mercado_bitcoin_conforms(check: conformance.Check, symbol: str, kind: str) -> None:
    config = mb_sim_config(accounts=[_FRESH], **(_PARTIAL if kind == "partial" else {}))
    async with running(config) as sim:
        control = MbControl(sim, key=_FRESH.key, symbol=symbol)
        async with mb_adapter(sim, login=_FRESH.key, password=_FRESH.secret) as exchange:
            await check(exchange, control)
        await control.http.aclose()
