"""Prices of the Mercado Bitcoin simulator over real HTTP: computed only for the markets asked
for, calibrated random walks by default, and a pin that keeps the path's history in candles."""

from __future__ import annotations

import time
from decimal import Decimal

import httpx

from simulators.mercadobitcoin import MarketSpec, running
from simulators.mercadobitcoin.config import rules
from tests.exchanges.conftest_mercadobitcoin import MbControl, mb_sim_config

D = Decimal


def _walk(symbol: str, seed: int) -> MarketSpec:
    return MarketSpec(
        rules=rules(symbol, "0.01", "0.00001", "1000", "1", "1000000", "0.01", "10000000"),
        start_price=D(350000),
        path="random_walk",
        seed=seed,
    )


async def test_three_hundred_markets_price_only_the_one_asked_for() -> None:
    markets = [_walk(f"C{i:03d}-BRL", i) for i in range(300)]
    async with (
        running(mb_sim_config(markets=markets)) as sim,
        httpx.AsyncClient(base_url=sim.url, timeout=10) as http,
    ):
        tickers = await http.get("/api/v4/tickers", params={"symbols": "C042-BRL"})
        symbols = await http.get("/api/v4/symbols")
        stats = (await http.get("/_sim/stats")).json()
    assert tickers.status_code == 200 and D(tickers.json()[0]["last"]) > 0
    assert len(symbols.json()["symbol"]) == 300
    assert stats["markets_priced"] == 1


async def test_a_pin_shows_in_the_last_candle_and_keeps_the_walk_before_it() -> None:
    async with running(mb_sim_config(markets=[_walk("BTC-BRL", 7)])) as sim:
        control = MbControl(sim)
        async with httpx.AsyncClient(base_url=sim.api_url, timeout=10) as http:
            await control.post("/clock", {"advance_seconds": 600})  # ten minutes of walk
            await control.set_price("BTC-BRL", D("1000.00"))
            query: dict[str, str | int] = {
                "symbol": "BTC-BRL",
                "resolution": "1m",
                "to": int(time.time()) + 3600,
            }
            bars = (await http.get("/candles", params={**query, "countback": 5})).json()
        await control.http.aclose()
    assert D(bars["c"][-1]) == D("1000.00") and D(bars["l"][-1]) == D("1000.00")
    earlier = [D(c) for c in bars["c"][:-2]]
    assert all(c > D(100000) for c in earlier)  # the walk's own prices, not the pin
    assert len(set(earlier)) > 1
