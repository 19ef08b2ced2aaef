"""Prices of the Binance simulator over real HTTP: a pinned price shows in klines, 24h
statistics and avgPrice; a venue of 300 markets computes only the markets asked for; a replayed
market's klines of its data's interval are the recorded candles themselves."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from adapters.market_data import data_dir, read_candles
from domain.market import OrderRequest, OrderStatus, OrderType, Side
from simulators.binance import SimConfig, SymbolConfig, ThreadedServer, create_app
from simulators.binance.config import RandomWalkPath, default_symbols
from simulators.binance.venue import BinanceVenue
from tests.exchanges.conftest_binance import SimFactory

D = Decimal
BTC_USDT = SymbolConfig(base="BTC", quote="USDT", path=RandomWalkPath(start_price=D(65000)))


async def _get(sim_url: str, path: str, **params: Any) -> Any:
    async with httpx.AsyncClient(base_url=sim_url, timeout=10) as http:
        response = await http.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_pinned_price_reaches_the_current_kline_and_the_day_statistics(
    binance_sim_factory: SimFactory,
) -> None:
    sim = binance_sim_factory(symbols=[BTC_USDT])
    path_price = D((await _get(sim.base_url, "/api/v3/ticker/price", symbol="BTCUSDT"))["price"])
    pinned = (path_price * 2).quantize(D("0.01"))  # far above anything the walk reached
    await sim.set_price("BTCUSDT", pinned)

    [*_, current] = await _get(sim.base_url, "/api/v3/klines", symbol="BTCUSDT", interval="1m")
    assert D(current[4]) == pinned  # close
    assert D(current[2]) == pinned  # high: the pin is the highest price of the candle
    assert D(current[3]) < pinned  # low: the walk before the pin, same candle
    day = await _get(sim.base_url, "/api/v3/ticker/24hr", symbol="BTCUSDT")
    assert D(day["lastPrice"]) == pinned and D(day["highPrice"]) == pinned
    assert D(day["openPrice"]) < pinned


async def test_avg_price_is_the_pinned_price_once_it_held_five_minutes(
    binance_sim_factory: SimFactory,
) -> None:
    sim = binance_sim_factory(symbols=[BTC_USDT])
    await sim.set_price("BTCUSDT", D("12345.67"))
    before = await _get(sim.base_url, "/api/v3/avgPrice", symbol="BTCUSDT")
    assert D(before["price"]) != D("12345.67")  # four of the five minutes are the walk's
    await sim.clock(advance_seconds=360)

    after = await _get(sim.base_url, "/api/v3/avgPrice", symbol="BTCUSDT")
    assert after["mins"] == 5 and D(after["price"]) == D("12345.67")
    klines = await _get(sim.base_url, "/api/v3/klines", symbol="BTCUSDT", interval="1m", limit=5)
    assert {D(k[i]) for k in klines for i in (1, 2, 3, 4)} == {D("12345.67")}


async def test_unpinning_resumes_the_walk_but_keeps_the_pinned_history(
    binance_sim_factory: SimFactory,
) -> None:
    sim = binance_sim_factory(symbols=[BTC_USDT])
    await sim.set_price("BTCUSDT", D("1000.00"))
    await sim.clock(advance_seconds=180)
    await sim.set_price("BTCUSDT", None)
    await sim.clock(advance_seconds=120)

    price = D((await _get(sim.base_url, "/api/v3/ticker/price", symbol="BTCUSDT"))["price"])
    assert price > D(10000)  # the walk again, nowhere near the pin
    klines = await _get(sim.base_url, "/api/v3/klines", symbol="BTCUSDT", interval="1m", limit=6)
    closes = [D(k[4]) for k in klines]
    assert D("1000.00") in closes[:4] and closes[-1] > D(10000)


async def test_a_replayed_market_serves_the_recorded_minute_candles(
    binance_sim_factory: SimFactory,
) -> None:
    """The replay starts on the data's own grid, whatever second the simulator started at: a
    one-minute kline is one recorded candle, not a blend of two (and a minute missing from the
    data holds the previous close, nothing traded)."""
    [eth_btc] = [market for market in default_symbols() if market.name == "ETHBTC"]
    sim = binance_sim_factory(symbols=[eth_btc])
    klines = await _get(sim.base_url, "/api/v3/klines", symbol="ETHBTC", interval="1m", limit=120)
    recorded = read_candles(data_dir() / "ETH_BTC-1m.parquet")
    by_open = {c.open_time: (c.open, c.high, c.low, c.close, c.volume) for c in recorded}
    served = [
        (datetime.fromtimestamp(k[0] / 1000, UTC), tuple(D(v) for v in k[1:6]))
        for k in klines[:-1]  # the last one is still open
    ]
    opened_at = {ohlcv: at for at, ohlcv in by_open.items()}
    shift = next((at - opened_at[o] for at, o in served if o in opened_at and o[4] > 0), None)
    assert shift is not None, "no kline is a recorded candle"
    matched = 0
    for (at, ohlcv), (_, previous) in zip(served[1:], served, strict=False):
        if (at - shift) in by_open:
            assert ohlcv == by_open[at - shift]
            matched += 1
        else:
            close = previous[3]
            assert ohlcv == (close, close, close, close, D(0))
    assert matched > 100


async def test_a_300_market_venue_computes_only_the_market_asked_for() -> None:
    symbols = [
        SymbolConfig(
            base=f"C{i:03d}", quote="USDT", path=RandomWalkPath(start_price=D(100), seed=i)
        )
        for i in range(300)
    ]
    app = create_app(SimConfig(symbols=symbols))
    venue: BinanceVenue = app.state.venue
    assert sum(m.evaluations for m in venue.markets.values()) == 0  # building prices nothing
    with ThreadedServer(app) as server:
        ticker = await _get(server.base_url, "/api/v3/ticker/price", symbol="C042USDT")
        info = await _get(server.base_url, "/api/v3/exchangeInfo")
        again = await _get(server.base_url, "/api/v3/ticker/price", symbol="C042USDT")

    assert D(ticker["price"]) > 0 and D(again["price"]) > 0 and len(info["symbols"]) == 300
    computed = {name for name, m in venue.markets.items() if m.evaluations}
    assert computed == {"C042USDT"}
    assert venue.markets["C042USDT"].evaluations <= 4  # priced once, perhaps moved one step


async def test_resting_orders_fill_when_the_walk_moves_to_them_later(
    binance_sim_factory: SimFactory,
) -> None:
    """The market is not read between the placements and the lookups: the venue catches it up
    with the clock because its path's next step came. A buy a tick below and a sell a tick
    above the price: an hour of the walk (steps of ~0.02%) moves through one of them."""
    sim = binance_sim_factory(symbols=[BTC_USDT])
    key, secret = await sim.account(USDT="100000", BTC="1")
    tick = D("0.01")
    async with sim.exchange(key, secret) as exchange:
        last = (await exchange.ticker("BTC-USDT")).last
        placed = [
            await exchange.create_order(
                OrderRequest(
                    client_order_id=f"walk-{side.value}",
                    symbol="BTC-USDT",
                    side=side,
                    type=OrderType.LIMIT,
                    quantity=D("0.001"),
                    price=price,
                )
            )
            for side, price in ((Side.BUY, last - tick), (Side.SELL, last + tick))
        ]
        assert [o.status for o in placed] == [OrderStatus.NEW, OrderStatus.NEW]
        await sim.clock(advance_seconds=3600)
        orders = [await exchange.get_order("BTC-USDT", order_id=o.order_id) for o in placed]
    filled = [o for o in orders if o.status is OrderStatus.FILLED]
    assert filled and all(o.average_price == o.price for o in filled)
