"""The venue-agnostic conformance checks, run against the paper venue on a BRL market driven by
a random walk and on a satoshi-priced market replayed from real candles."""

from __future__ import annotations

import pytest

from adapters.exchanges.paper import PaperMarket
from tests.exchanges import conformance
from tests.exchanges.conftest import PaperClock, PaperControl


@pytest.mark.parametrize("symbol", ["BTC-BRL", "TRX-BTC"])
@pytest.mark.parametrize(
    "check", conformance.CHECKS + conformance.ORDER_TYPE_CHECKS, ids=conformance.check_id
)
async def test_paper_conforms(
    check: conformance.Check, symbol: str, paper_market: PaperMarket, paper_clock: PaperClock
) -> None:
    account = f"conformance-{symbol}"
    control = PaperControl(paper_market, paper_clock, account, symbol)
    await check(paper_market.exchange(account), control)
