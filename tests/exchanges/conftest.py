"""Fixtures of the exchange tests (prefixed `paper_` / `engine_`; the root conftest is shared)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from adapters.exchanges.paper import PaperExchange, PaperMarket, build_paper_market
from adapters.market_data import OHLCV_DIR
from domain.market import MarketRules
from domain.matching import Fees, MatchingEngine
from domain.price_paths import FixedPrice

T0 = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass
class PaperClock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class PaperControl:
    """`tests.exchanges.conformance.VenueControl` for the paper venue."""

    market: PaperMarket
    clock: PaperClock
    account: str
    symbol: str
    fees: Fees = field(init=False)
    slippage: Decimal = field(init=False)

    def __post_init__(self) -> None:
        self.fees = self.market.engine.fees
        self.slippage = self.market.engine.slippage

    async def fund(self, asset: str, amount: Decimal) -> None:
        self.market.engine.deposit(self.account, asset, amount)

    async def set_price(self, symbol: str, price: Decimal) -> None:
        self.clock.advance(timedelta(seconds=1))
        self.market.set_path(symbol, FixedPrice(price))


@pytest.fixture
def paper_clock() -> PaperClock:
    return PaperClock()


@pytest.fixture
def paper_market(paper_clock: PaperClock) -> PaperMarket:
    return build_paper_market(clock=paper_clock, data_dir=OHLCV_DIR)


@pytest.fixture
def paper_exchange(paper_market: PaperMarket) -> Iterator[PaperExchange]:
    yield paper_market.exchange("alice")


@pytest.fixture
def engine_rules() -> MarketRules:
    return MarketRules(
        symbol="BTC-BRL",
        price_tick=Decimal("0.01"),
        lot_step=Decimal("0.00001"),
        min_quantity=Decimal("0.00001"),
        min_notional=Decimal("10"),
    )


@pytest.fixture
def engine_tiny_rules() -> MarketRules:
    """A satoshi-priced market like TRX-BTC in 2018."""
    return MarketRules(
        symbol="TRX-BTC",
        price_tick=Decimal("0.00000001"),
        lot_step=Decimal("1"),
        min_quantity=Decimal("1"),
        min_notional=Decimal("0.0001"),
    )


@pytest.fixture
def engine_matcher(engine_rules: MarketRules, engine_tiny_rules: MarketRules) -> MatchingEngine:
    return MatchingEngine(
        [engine_rules, engine_tiny_rules],
        Fees(maker=Decimal("0.003"), taker=Decimal("0.007")),
        slippage=Decimal("0.001"),
    )
