"""The venue-agnostic conformance checks against `BinanceExchange` and the simulator, with
whole fills and with partial fills plus slippage."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.matching import Fees
from tests.exchanges import conformance
from tests.exchanges.conftest_binance import BinanceControl, BinanceSim, SimFactory, binance_symbols


@pytest.fixture(scope="session")
def binance_partial_sim(binance_sim_factory: SimFactory) -> BinanceSim:
    return binance_sim_factory(
        symbols=binance_symbols(),
        partial_fill_ratio=Decimal("0.5"),
        slippage=Decimal("0.002"),
        maker_fee=Decimal("0.002"),
        taker_fee=Decimal("0.004"),
    )


@pytest.mark.parametrize("kind", ["whole", "partial"])
@pytest.mark.parametrize(
    "check", conformance.CHECKS + conformance.ORDER_TYPE_CHECKS, ids=conformance.check_id
)
async def test_binance_conforms(
    check: conformance.Check,
    kind: str,
    binance_sim: BinanceSim,
    binance_partial_sim: BinanceSim,
) -> None:
    sim = binance_sim if kind == "whole" else binance_partial_sim
    key, secret = await sim.account()
    control = BinanceControl(
        sim,
        key,
        "BTC-BRL",
        Fees(maker=sim.config.maker_fee, taker=sim.config.taker_fee),
        sim.config.slippage,
    )
    async with sim.exchange(key, secret) as exchange:
        await check(exchange, control)
