"""The dashboard's balances over HTTP: read from each venue the caller trades on with their own
key (the Binance simulator, the paper venue), only assets held; kept for a minute; when the
venue fails, the last known balances, flagged stale, with the reason."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from adapters.settings import Settings
from api.app import create_app
from api.dashboard.cache import BalanceBook
from api.deps import Services
from tests.api.bot_helpers import Trader, add_context, save_binance_key, trader
from tests.exchanges.conftest_binance import BinanceSim

__all__ = ["trader"]  # the fixture

MakeTrader = Callable[[], Awaitable[Trader]]


async def balances(api: httpx.AsyncClient, t: Trader) -> dict[str, Any]:
    response = await api.get("/api/dashboard/balances", headers=t.headers)
    assert response.status_code == 200, response.text
    return {v["venue"]: v for v in response.json()["venues"]}


async def test_each_venue_read_with_the_callers_key_and_the_last_value_kept_when_it_fails(
    trader: MakeTrader,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    binance_sim: BinanceSim,
) -> None:
    # Read on every request (no minute kept), so the failure is the venue's, not the cache's.
    services = dataclasses.replace(
        Services.build(settings, sessions, temporal), balances=BalanceBook(ttl=0)
    )
    app = create_app(settings, services)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as api:
        t = await trader()
        await add_context(sessions, t.id)  # paper, BTC-BRL
        await save_binance_key(sessions, settings, t.id, binance_sim, BRL="750.5", BTC="0.01")

        read = await balances(api, t)
        assert set(read) == {"binance", "paper"}
        binance = read["binance"]
        assert (binance["stale"], binance["problem"]) == (False, None)
        held = {b["asset"]: Decimal(b["free"]) for b in binance["balances"]}
        assert held == {"BRL": Decimal("750.5"), "BTC": Decimal("0.01")}  # no zero balance
        assert all(b["free"] == b["total"] for b in binance["balances"])
        assert read["paper"]["balances"] and read["paper"]["stale"] is False
        assert all(Decimal(b["total"]) > 0 for b in read["paper"]["balances"])

        await binance_sim.fault(path="/api/v3/account", status=503, count=1000)
        try:
            down = (await balances(api, t))["binance"]
        finally:
            await binance_sim.http.delete("/_sim/faults")
        assert down["stale"] is True and down["problem"]["code"] == "exchange_unavailable"
        assert down["read_at"] == binance["read_at"]
        assert down["balances"] == binance["balances"]

        other = await trader()
        assert await balances(api, other) == {}  # no context, no key: no venue
