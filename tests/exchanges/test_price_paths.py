"""Price paths: real candles replayed, random walks, candle aggregation."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.price_paths import CandleReplay, FixedPrice, RandomWalk, bucket_start
from tests.exchanges.conftest import require_ohlcv

T0 = datetime(2024, 1, 1, tzinfo=UTC)
D = Decimal


def test_replay_reproduces_the_real_csv_candles_at_their_own_interval() -> None:
    path_to_csv = require_ohlcv() / "TRX_BTC-5m.csv"
    with path_to_csv.open() as f:
        rows = list(csv.DictReader(f))
    replay = CandleReplay.from_csv(path_to_csv, started_at=T0)
    candles = replay.candles(300, T0, T0 + timedelta(minutes=50))
    assert len(candles) == 10
    for candle, row in zip(candles, rows, strict=False):
        assert (candle.open, candle.high, candle.low, candle.close, candle.volume) == tuple(
            D(row[k]) for k in ("open", "high", "low", "close", "volume")
        )
    assert candles[1].open_time == T0 + timedelta(minutes=5)


def test_replay_aggregates_hours_and_holds_the_edges() -> None:
    replay = CandleReplay.from_csv(require_ohlcv() / "XLM_BTC-5m.csv", started_at=T0)
    fives = replay.candles(300, T0, T0 + timedelta(hours=1))
    [hour] = replay.candles(3600, T0, T0 + timedelta(hours=1))
    assert hour.open == fives[0].open and hour.close == fives[-1].close
    assert hour.high == max(c.high for c in fives) and hour.low == min(c.low for c in fives)
    assert hour.volume == sum(c.volume for c in fives)
    assert replay.price_at(T0 - timedelta(days=1)) == fives[0].open
    after = replay.price_at(T0 + replay.duration + timedelta(days=3))
    assert (
        after
        == replay.candles(300, T0 + replay.duration - timedelta(minutes=5), T0 + replay.duration)[
            -1
        ].close
    )


def test_replay_walks_each_candle_through_its_low_and_high() -> None:
    replay = CandleReplay.from_csv(require_ohlcv() / "ADA_BTC-5m.csv", started_at=T0)
    [first] = replay.candles(300, T0, T0 + timedelta(minutes=5))
    seen = {replay.price_at(T0 + timedelta(seconds=s)) for s in range(0, 300, 15)}
    assert {first.open, first.high, first.low, first.close} == seen


def test_replay_speed_compresses_time_and_scale_multiplies_prices() -> None:
    normal = CandleReplay.from_csv(require_ohlcv() / "LTC_BTC-5m.csv", started_at=T0)
    fast = CandleReplay.from_csv(
        require_ohlcv() / "LTC_BTC-5m.csv", started_at=T0, speed=60.0, scale=D(2)
    )
    assert (
        fast.price_at(T0 + timedelta(seconds=50)) == normal.price_at(T0 + timedelta(minutes=50)) * 2
    )


def test_random_walk_is_deterministic_and_starts_at_its_price() -> None:
    def walk(seed: int) -> RandomWalk:
        return RandomWalk(seed=seed, start_price=D(350_000), started_at=T0, volatility=D("0.0001"))

    times = [T0 + timedelta(seconds=s) for s in (-86_400, 0, 1, 59, 3600, 86_400 * 30)]
    first, again, other = walk(7), walk(7), walk(8)
    assert [first.price_at(t) for t in times] == [again.price_at(t) for t in times]
    assert [first.price_at(t) for t in times] != [other.price_at(t) for t in times]
    assert first.price_at(T0) == D(350_000)
    day = [first.price_at(T0 + timedelta(hours=h)) for h in range(24)]
    assert max(day) / min(day) < D("1.5")  # a market, not noise
    assert len(set(day)) > 20


def test_random_walk_candles_cover_their_steps_and_tiny_prices_keep_digits() -> None:
    walk = RandomWalk(
        seed=1, start_price=D("0.00000123"), started_at=T0, volatility=D("0.001"), step_seconds=5
    )
    [minute] = walk.candles(60, T0, T0 + timedelta(minutes=1))
    prices = [walk.price_at(T0 + timedelta(seconds=s)) for s in range(0, 60, 5)]
    assert (minute.open, minute.close) == (prices[0], prices[-1])
    assert (minute.high, minute.low) == (max(prices), min(prices))
    assert minute.volume == 12
    assert all(p > 0 and p.as_tuple().exponent >= -20 for p in prices)
    assert len({p for p in prices}) > 1


def test_candles_stop_at_end_with_a_forming_last_candle() -> None:
    path = FixedPrice(D("42"))
    candles = path.candles(3600, T0 + timedelta(minutes=30), T0 + timedelta(hours=2, minutes=1))
    assert [c.open_time for c in candles] == [T0 + timedelta(hours=h) for h in range(3)]
    assert all(c.close == 42 and c.volume == 0 for c in candles)


def test_weekly_buckets_open_on_monday() -> None:
    thursday = datetime(2024, 1, 4, 15, tzinfo=UTC)
    assert bucket_start(thursday, 604_800) == datetime(2024, 1, 1, tzinfo=UTC)  # a Monday
    assert bucket_start(thursday, 86_400) == datetime(2024, 1, 4, tzinfo=UTC)
    with pytest.raises(ValueError):
        bucket_start(thursday, 0)
