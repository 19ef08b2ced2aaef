"""What the paper venue adds to the conformance checks: real data, sweeps, candles, accounts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.exchanges.errors import InvalidOrder, UnknownSymbol
from adapters.exchanges.paper import (
    DEFAULT_MARKETS,
    PaperExchange,
    PaperMarket,
    build_paper_market,
)
from adapters.exchanges.paper_klines import INTERVALS
from adapters.market_data import OHLCV_DIR, MarketDataError, read_candles
from domain.market import OrderRequest, OrderStatus, OrderType, Side
from domain.price_paths import CandleReplay
from tests.exchanges.conftest import T0, PaperClock

D = Decimal


def test_the_real_ohlcv_data_is_there_for_every_replayed_market() -> None:
    folder = OHLCV_DIR
    replayed = [driver for _, driver in DEFAULT_MARKETS if isinstance(driver, str)]
    assert len(replayed) == 5
    for name in replayed:
        assert (folder / name).is_file(), f"{folder / name} missing"


async def test_btc_markets_replay_the_real_candles(
    paper_exchange: PaperExchange, paper_clock: PaperClock
) -> None:
    replay = CandleReplay(
        read_candles(OHLCV_DIR / "TRX_BTC-5m.parquet"), started_at=T0 - timedelta(days=7)
    )
    for minutes in (0, 7, 95):
        paper_clock.now = T0 + timedelta(minutes=minutes)
        ticker = await paper_exchange.ticker("TRX-BTC")
        assert ticker.last == replay.price_at(paper_clock.now)
    assert await paper_exchange.candles("TRX-BTC", "5m", limit=20) == replay.candles(
        300, paper_clock.now - timedelta(minutes=95), paper_clock.now + timedelta(microseconds=1)
    )


def test_a_missing_data_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MarketDataError, match=r"ETH_BTC-5m\.parquet is missing"):
        build_paper_market(data_dir=tmp_path)


async def test_a_resting_order_fills_when_the_path_swept_its_price_between_calls(
    paper_exchange: PaperExchange, paper_market: PaperMarket, paper_clock: PaperClock
) -> None:
    last = (await paper_exchange.ticker("TRX-BTC")).last
    later = paper_market.path("TRX-BTC").candles(3600, T0 + timedelta(hours=1), T0 + timedelta(1))
    # The first later hour that dips below the current price (the real data has several).
    dip = next(c for c in later if c.low < last)
    paper_market.engine.deposit("alice", "BTC", D(1))
    order = await paper_exchange.create_order(
        OrderRequest(
            client_order_id="dip",
            symbol="TRX-BTC",
            side=Side.BUY,
            type=OrderType.LIMIT,
            quantity=D(1000),
            price=dip.low,
        )
    )
    assert order.status is OrderStatus.NEW
    paper_clock.now = dip.open_time + timedelta(hours=1)
    filled = await paper_exchange.get_order("TRX-BTC", client_order_id="dip")
    assert filled.status is OrderStatus.FILLED and filled.average_price == dip.low


async def test_create_order_quantises_onto_tick_and_lot(
    paper_market: PaperMarket, paper_exchange: PaperExchange
) -> None:
    paper_market.engine.deposit("alice", "BRL", D(100_000))
    order = await paper_exchange.create_order(
        OrderRequest(
            client_order_id="q",
            symbol="btc-brl",
            side=Side.BUY,
            type=OrderType.LIMIT,
            quantity=D("0.0123456789"),
            price=D("100000.99"),
        )
    )
    assert (order.symbol, order.quantity, order.price) == ("BTC-BRL", D("0.01234"), D(100_000))


async def test_candles_for_every_binance_interval_respect_limit_and_now(
    paper_exchange: PaperExchange, paper_clock: PaperClock
) -> None:
    paper_clock.now = T0 + timedelta(hours=5, minutes=3, seconds=7)
    assert len(paper_exchange.intervals) == 16
    for interval in INTERVALS:
        candles = await paper_exchange.candles("BTC-BRL", interval, limit=4)
        assert len(candles) == 4, interval
        assert candles[-1].open_time <= paper_clock.now < candles[-1].open_time + timedelta(days=31)
    assert len(await paper_exchange.candles("ETH-USDT", "1m")) == 500
    assert len(await paper_exchange.candles("ETH-USDT", "1s", limit=5000)) == 1000


async def test_candles_from_start_to_end_and_calendar_months(
    paper_exchange: PaperExchange, paper_clock: PaperClock
) -> None:
    paper_clock.now = datetime(2024, 3, 15, 12, tzinfo=UTC)
    start, end = datetime(2024, 3, 15, 9, 30, tzinfo=UTC), datetime(2024, 3, 15, 11, tzinfo=UTC)
    hourly = await paper_exchange.candles("BTC-BRL", "1h", start=start, end=end)
    assert [c.open_time.hour for c in hourly] == [9, 10, 11]
    assert await paper_exchange.candles("BTC-BRL", "1h", start=paper_clock.now + timedelta(1)) == []
    months = await paper_exchange.candles("BTC-BRL", "1M", limit=3)
    assert [c.open_time.month for c in months] == [1, 2, 3]
    assert all(c.open_time.day == 1 for c in months)


async def test_accounts_start_with_their_balances_and_are_isolated(
    paper_clock: PaperClock,
) -> None:
    market = build_paper_market(
        {"alice": {"BRL": D(1000)}, "bob": {"BTC": D("0.5"), "USDT": D(10)}},
        clock=paper_clock,
        data_dir=OHLCV_DIR,
    )
    alice, bob = market.exchange("alice"), market.exchange("bob")
    assert [(b.asset, b.free) for b in await alice.balances()] == [("BRL", D(1000))]
    assert [(b.asset, b.free) for b in await bob.balances()] == [("BTC", D("0.5")), ("USDT", 10)]
    await alice.create_order(
        OrderRequest(
            client_order_id="mine",
            symbol="BTC-BRL",
            side=Side.BUY,
            type=OrderType.MARKET,
            quote_quantity=D(500),
        )
    )
    assert await bob.recent_orders("BTC-BRL") == []
    assert len(await alice.open_orders()) == 0 and len(await alice.fills("BTC-BRL")) == 1


async def test_unknown_symbols_and_intervals_are_refused(paper_exchange: PaperExchange) -> None:
    with pytest.raises(UnknownSymbol):
        await paper_exchange.ticker("DOGE-BRL")
    with pytest.raises(UnknownSymbol):
        await paper_exchange.candles("nonsense", "1m")
    with pytest.raises(InvalidOrder):
        await paper_exchange.candles("BTC-BRL", "2d")


async def test_a_paper_market_still_moves_two_months_after_it_started(
    paper_market: PaperMarket, paper_exchange: PaperExchange, paper_clock: PaperClock
) -> None:
    """The data runs out about 13 days in; the replays loop, so a month-long paper run works."""
    replayed = [rules.symbol for rules, driver in DEFAULT_MARKETS if isinstance(driver, str)]
    await paper_exchange.balances()  # synced at the start, so the first catch-up spans 60 days
    start = paper_clock.now
    paper_clock.now = start + timedelta(days=60)
    for symbol in replayed:
        prices = set()
        for _ in range(12):
            paper_clock.advance(timedelta(minutes=20))
            prices.add((await paper_exchange.ticker(symbol)).last)
        assert len(prices) > 3, symbol
        for interval in ("5m", "1h", "1d"):
            candles = await paper_exchange.candles(symbol, interval, limit=48)
            assert len(candles) == 48 and len({c.close for c in candles}) > 3, (symbol, interval)
            assert all(
                c.low <= min(c.open, c.close) and max(c.open, c.close) <= c.high for c in candles
            )
            assert all(c.volume > 0 for c in candles[:-1]), (symbol, interval)
    flat = build_paper_market(clock=lambda: start, data_dir=OHLCV_DIR, looping=False)
    later = [start + timedelta(days=60, hours=h) for h in range(4)]
    assert len({flat.path("TRX-BTC").price_at(t) for t in later}) == 1  # the old dead market
