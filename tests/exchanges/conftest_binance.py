"""Fixtures of the Binance tests: the simulator under uvicorn on a free loopback port, fresh
accounts through its /_sim/ control API, and `BinanceExchange` pointed at it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from adapters.exchanges.binance import BinanceExchange
from adapters.exchanges.resilience import Resilience, RetryPolicy
from adapters.market_data import OHLCV_DIR
from domain.matching import Fees
from simulators.binance import SimConfig, SymbolConfig, ThreadedServer, create_app
from simulators.binance.config import FixedPath, RandomWalkPath, ReplayPath

BINANCE_FAST_RETRIES = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)

BTC_BRL = SymbolConfig(base="BTC", quote="BRL", path=FixedPath(price=Decimal("350000")))
XLM_BTC = SymbolConfig(  # satoshi prices: 0.00000123 BTC
    base="XLM",
    quote="BTC",
    path=FixedPath(price=Decimal("0.00000123")),
    tick_size=Decimal("0.00000001"),
    min_price=Decimal("0.00000001"),
    step_size=Decimal("1"),
    min_qty=Decimal("1"),
    max_qty=Decimal("90000000"),
    market_max_qty=Decimal("90000000"),
    min_notional=Decimal("0.0001"),
    max_notional=Decimal("9000"),
)


def binance_symbols() -> list[SymbolConfig]:
    return [
        BTC_BRL,
        SymbolConfig(
            base="ETH", quote="BRL", path=RandomWalkPath(start_price=Decimal(18000), seed=2)
        ),
        XLM_BTC,
        SymbolConfig(
            base="ETH",
            quote="BTC",
            path=ReplayPath(file=OHLCV_DIR / "ETH_BTC-1m.parquet"),
            tick_size=Decimal("0.00000001"),
            min_price=Decimal("0.00000001"),
            step_size=Decimal("0.0001"),
            min_qty=Decimal("0.0001"),
            min_notional=Decimal("0.0001"),
        ),
    ]


class BinanceSim:
    """A running simulator and a client of its control API."""

    def __init__(self, server: ThreadedServer, config: SimConfig) -> None:
        self.server = server
        self.config = config
        self.base_url = server.base_url
        self.http = httpx.AsyncClient(base_url=server.base_url, timeout=10)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.http.post(path, json=body)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def account(self, **balances: str) -> tuple[str, str]:
        """A fresh API key and secret with these balances."""
        key, secret = f"key-{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
        await self._post("/_sim/accounts", {"api_key": key, "secret": secret, "balances": balances})
        return key, secret

    async def deposit(self, api_key: str, asset: str, amount: Decimal) -> None:
        await self._post(
            f"/_sim/accounts/{api_key}/deposit", {"asset": asset, "amount": str(amount)}
        )

    async def balances(self, api_key: str) -> dict[str, tuple[Decimal, Decimal]]:
        response = await self.http.get(f"/_sim/accounts/{api_key}")
        response.raise_for_status()
        return {
            b["asset"]: (Decimal(b["free"]), Decimal(b["locked"]))
            for b in response.json()["balances"]
        }

    async def set_price(self, symbol: str, price: Decimal | None) -> int:
        body = {"symbol": symbol, "price": None if price is None else str(price)}
        fills: int = (await self._post("/_sim/price", body))["fills"]
        return fills

    async def clock(self, **changes: float) -> dict[str, Any]:
        return await self._post("/_sim/clock", changes)

    async def fault(self, **fault: Any) -> None:
        await self._post("/_sim/faults", fault)

    async def limits(self, **limits: int) -> None:
        await self._post("/_sim/limits", limits)

    async def stats(self) -> dict[str, Any]:
        response = await self.http.get("/_sim/stats")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def exchange(self, key: str, secret: str, **options: Any) -> BinanceExchange:
        options.setdefault("resilience", Resilience("binance", policy=BINANCE_FAST_RETRIES))
        return BinanceExchange(key, secret, base_url=self.base_url, **options)


@dataclass
class BinanceControl:
    """`tests.exchanges.conformance.VenueControl` over the simulator's control API."""

    sim: BinanceSim
    api_key: str
    symbol: str
    fees: Fees
    slippage: Decimal

    async def fund(self, asset: str, amount: Decimal) -> None:
        await self.sim.deposit(self.api_key, asset, amount)

    async def set_price(self, symbol: str, price: Decimal) -> None:
        await self.sim.set_price(symbol.replace("-", ""), price)


SimFactory = Callable[..., BinanceSim]


@pytest.fixture(scope="session")
def binance_sim_factory() -> Iterator[SimFactory]:
    """Start a simulator with a custom config; stopped at the end of the session."""
    started: list[BinanceSim] = []

    def start(**config: Any) -> BinanceSim:
        config.setdefault("symbols", [BTC_BRL, XLM_BTC])
        sim_config = SimConfig(**config)
        server = ThreadedServer(create_app(sim_config)).start()
        sim = BinanceSim(server, sim_config)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.server.stop()


@pytest.fixture(scope="session")
def binance_sim(binance_sim_factory: SimFactory) -> BinanceSim:
    """The shared simulator: every test works in fresh accounts, never changes its limits,
    clocks or faults (those tests start their own), and pins only its own prices."""
    return binance_sim_factory(symbols=binance_symbols())


@pytest.fixture
async def binance_account(binance_sim: BinanceSim) -> tuple[str, str]:
    return await binance_sim.account()


@pytest.fixture
async def binance_exchange(
    binance_sim: BinanceSim, binance_account: tuple[str, str]
) -> AsyncIterator[BinanceExchange]:
    async with binance_sim.exchange(*binance_account) as exchange:
        yield exchange
