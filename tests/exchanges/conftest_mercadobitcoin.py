"""Fixtures of the Mercado Bitcoin tests (prefixed `mb_`): the simulator on a free loopback port,
an adapter logged into it, and the operator's hands (the /_sim/ control API, over HTTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import pytest

from adapters.exchanges.mercado_bitcoin import MercadoBitcoinExchange
from adapters.exchanges.resilience import Resilience, RetryPolicy
from domain.matching import Fees
from simulators.mercadobitcoin import AccountSpec, RateLimits, RunningSim, SimConfig, running

MB_KEY, MB_SECRET = "mb-token-id", "mb-token-secret"


@dataclass
class MbControl:
    """The /_sim/ control API of one running simulator, for one API token; also a
    `tests.exchanges.conformance.VenueControl`."""

    sim: RunningSim
    key: str = MB_KEY
    symbol: str = "BTC-BRL"
    fees: Fees = field(init=False)
    slippage: Decimal = field(init=False)

    def __post_init__(self) -> None:
        self.fees = self.sim.venue.config.fees
        self.slippage = self.sim.venue.config.slippage
        self.http = httpx.AsyncClient(base_url=self.sim.url, timeout=10)

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await self.http.post(f"/_sim{path}", json=body or {})
        response.raise_for_status()
        return response.json()

    async def fund(self, asset: str, amount: Decimal) -> None:
        await self.post(f"/accounts/{self.key}/deposit", {"asset": asset, "amount": str(amount)})

    async def set_price(self, symbol: str, price: Decimal) -> None:
        await self.post(f"/prices/{symbol}", {"price": str(price)})

    async def orders(self) -> list[dict[str, Any]]:
        """Every order the venue holds for the token's account (the venue's truth)."""
        response = await self.http.get(f"/_sim/accounts/{self.key}/orders")
        response.raise_for_status()
        orders: list[dict[str, Any]] = response.json()
        return orders

    async def tokens_issued(self) -> int:
        response = await self.http.get("/_sim/stats")
        return int(response.json()["tokens_issued"])


MbSimFactory = Callable[..., AbstractAsyncContextManager[RunningSim]]


def mb_sim_config(**overrides: Any) -> SimConfig:
    """Default markets, one funded token, no venue rate limits unless a test asks for them."""
    values: dict[str, Any] = {
        "accounts": [
            AccountSpec(
                key=MB_KEY,
                secret=MB_SECRET,
                balances={"BRL": Decimal("100000"), "BTC": Decimal("1")},
            )
        ],
        "rate_limits": RateLimits(enabled=False),
    }
    values.update(overrides)
    return SimConfig(**values)


def mb_adapter(sim: RunningSim, **kwargs: Any) -> MercadoBitcoinExchange:
    """An adapter on the simulator; fast retries and no client throttle unless overridden."""
    options: dict[str, Any] = {
        "base_url": sim.api_url,
        "timeout": 5.0,
        "limits": None,
        "resilience": Resilience("mercadobitcoin", policy=RetryPolicy(base_delay=0.01)),
    }
    options.update(kwargs)
    return MercadoBitcoinExchange(
        options.pop("login", MB_KEY), options.pop("password", MB_SECRET), **options
    )


@pytest.fixture(scope="session")
async def mb_sim_session() -> AsyncIterator[RunningSim]:
    """One simulator for the whole session: the venue the shared API settings point at."""
    async with running(mb_sim_config()) as sim:
        yield sim


@pytest.fixture
async def mb_sim() -> AsyncIterator[RunningSim]:
    async with running(mb_sim_config()) as sim:
        yield sim


@pytest.fixture
async def mb_control(mb_sim: RunningSim) -> AsyncIterator[MbControl]:
    control = MbControl(mb_sim)
    yield control
    await control.http.aclose()


@pytest.fixture
async def mb_exchange(mb_sim: RunningSim) -> AsyncIterator[MercadoBitcoinExchange]:
    async with mb_adapter(mb_sim) as exchange:
        yield exchange


@pytest.fixture
async def mb_http(mb_sim: RunningSim) -> AsyncIterator[httpx.AsyncClient]:
    """A raw client on /api/v4: what a third-party MB client would send."""
    async with httpx.AsyncClient(base_url=mb_sim.api_url, timeout=10) as client:
        yield client
