"""Price paths: real candles replayed, random walks, candle aggregation."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import polars as pl
import pytest

from adapters.market_data import OHLCV_DIR, read_candles
from domain.market import Candle
from domain.price_paths import (
    CandleReplay,
    FixedPrice,
    PricePath,
    RandomWalk,
    bucket_start,
)
from domain.volatility import realised_daily_volatility
from simulators.calibration import CALIBRATION_FILE, daily_volatility, default_volatility

T0 = datetime(2024, 1, 1, tzinfo=UTC)
D = Decimal


def test_replay_reproduces_the_real_candles_at_their_own_interval() -> None:
    data = OHLCV_DIR / "TRX_BTC-5m.parquet"
    rows = pl.read_parquet(data).head(10).rows(named=True)
    replay = CandleReplay(read_candles(data), started_at=T0)
    candles = replay.candles(300, T0, T0 + timedelta(minutes=50))
    assert len(candles) == 10
    for candle, row in zip(candles, rows, strict=False):
        assert (candle.open, candle.high, candle.low, candle.close, candle.volume) == tuple(
            row[k] for k in ("open", "high", "low", "close", "volume")
        )
    assert candles[1].open_time == T0 + timedelta(minutes=5)


def test_replay_aggregates_hours_and_holds_the_edges() -> None:
    replay = CandleReplay(read_candles(OHLCV_DIR / "XLM_BTC-5m.parquet"), started_at=T0)
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
    replay = CandleReplay(read_candles(OHLCV_DIR / "ADA_BTC-5m.parquet"), started_at=T0)
    [first] = replay.candles(300, T0, T0 + timedelta(minutes=5))
    seen = {replay.price_at(T0 + timedelta(seconds=s)) for s in range(0, 300, 15)}
    assert {first.open, first.high, first.low, first.close} == seen


def test_replay_speed_compresses_time_and_scale_multiplies_prices() -> None:
    normal = CandleReplay(read_candles(OHLCV_DIR / "LTC_BTC-5m.parquet"), started_at=T0)
    fast = CandleReplay(
        read_candles(OHLCV_DIR / "LTC_BTC-5m.parquet"), started_at=T0, speed=60.0, scale=D(2)
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
    exponents = [p.as_tuple().exponent for p in prices]
    assert all(p > 0 for p in prices) and all(isinstance(e, int) and e >= -20 for e in exponents)
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


def _looping() -> CandleReplay:
    return CandleReplay(read_candles(OHLCV_DIR / "TRX_BTC-5m.parquet"), started_at=T0, looping=True)


def _well_formed(candle: Candle) -> bool:
    low, high = candle.low, candle.high
    return low <= candle.open <= high and low <= candle.close <= high and candle.volume >= 0


def test_a_replay_without_looping_keeps_holding_the_last_close() -> None:
    replay = CandleReplay(read_candles(OHLCV_DIR / "TRX_BTC-5m.parquet"), started_at=T0)
    end = T0 + replay.duration
    [last] = replay.candles(300, end - timedelta(minutes=5), end)
    later = [end + timedelta(hours=h) for h in (0, 1, 24 * 13, 24 * 60)]
    assert {replay.price_at(t) for t in later} == {last.close}
    for candle in replay.candles(86_400, end + timedelta(days=1), end + timedelta(days=5)):
        assert candle.open == candle.high == candle.low == candle.close == last.close
        assert candle.volume == 0


def test_looping_replay_turns_at_the_end_and_the_start_without_a_jump() -> None:
    replay = _looping()
    end, lap = T0 + replay.duration, 2 * replay.duration
    [first] = replay.candles(300, T0, T0 + timedelta(minutes=5))
    [last] = replay.candles(300, end - timedelta(minutes=5), end)
    tick = timedelta(microseconds=1)
    for turn, candle in ((end, last), (T0 + lap, first), (T0, first), (end + lap, last)):
        before, after = replay.price_at(turn - tick), replay.price_at(turn)
        assert abs(after - before) <= candle.high - candle.low
    # A mirror: played backwards from the end, the last hour comes back in reverse order.
    for seconds in (0, 1, 74, 75, 299, 300, 1800, 3599):
        offset = timedelta(seconds=seconds)
        assert replay.price_at(end + offset) == replay.price_at(end - offset - tick)
    # Between turns, consecutive quarters move no more than a candle's range apart.
    fives = replay.candles(300, end - timedelta(hours=2), end + timedelta(hours=2))
    widest = max(c.high - c.low for c in fives)
    prices = [replay.price_at(end + timedelta(seconds=s)) for s in range(-7200, 7200, 75)]
    assert all(abs(b - a) <= widest for a, b in pairwise(prices))


def test_looping_replay_candles_across_a_turn_are_well_formed_and_add_up() -> None:
    replay = _looping()
    end = T0 + replay.duration
    around = bucket_start(end, 3600) - timedelta(hours=1)
    fives = replay.candles(300, around, around + timedelta(hours=3))
    hours = replay.candles(3600, around, around + timedelta(hours=3))
    assert len(hours) == 3 and all(_well_formed(c) for c in fives + hours)
    for hour, twelve in zip(hours, (fives[i : i + 12] for i in range(0, 36, 12)), strict=True):
        assert (hour.open, hour.close) == (twelve[0].open, twelve[-1].close)
        assert hour.high == max(c.high for c in twelve) and hour.low == min(c.low for c in twelve)
        assert hour.volume == sum(c.volume for c in twelve)
    # Long candles over several laps, both turns included, still bracket their open and close.
    for interval in (86_400, 604_800):
        candles = replay.candles(interval, T0 - timedelta(days=30), T0 + timedelta(days=90))
        assert all(_well_formed(c) and c.volume > 0 for c in candles)
        assert len({c.close for c in candles}) > 1


def test_replay_candles_equal_the_step_by_step_aggregation_in_both_modes() -> None:
    """`CandleReplay.candle` aggregates whole candles from an index: it must agree exactly with
    walking every step (`PricePath.candle`), wherever the range falls."""
    for looping in (False, True):
        replay = CandleReplay(
            read_candles(OHLCV_DIR / "LTC_BTC-5m.parquet"),
            started_at=T0,
            speed=3.0,
            looping=looping,
        )
        end = T0 + replay.duration
        starts = [
            T0 - timedelta(hours=5),
            T0,
            end - timedelta(hours=7),
            end,
            T0 + 2 * replay.duration,
        ]
        lengths = [timedelta(seconds=s) for s in (1, 37, 300, 3601, 86_400, 5 * 86_400 + 17)]
        for start in starts:
            for offset in (timedelta(0), timedelta(seconds=-1234), timedelta(minutes=41)):
                for length in lengths:
                    a = start + offset
                    assert replay.candle(a, a + length) == PricePath.candle(replay, a, a + length)


def test_looping_replay_is_a_deterministic_periodic_function_of_time() -> None:
    one, two = _looping(), _looping()
    lap = 2 * one.duration
    times = [
        T0 + timedelta(days=d, seconds=s) for d in (-40, -1, 0, 3, 13, 29, 60, 400) for s in (0, 77)
    ]
    assert [one.price_at(t) for t in times] == [two.price_at(t) for t in times]
    assert [one.price_at(t) for t in times] == [one.price_at(t + 3 * lap) for t in times]
    since = T0 + timedelta(days=55)
    assert one.candles(3600, since, since + timedelta(days=1)) == two.candles(
        3600, since, since + timedelta(days=1)
    )
    assert len({one.price_at(T0 + timedelta(days=60, hours=h)) for h in range(24)}) > 5


# -- volatility calibrated on the real candles ------------------------------------------------


def _daily_log_returns(path: PricePath, days: int, offset: timedelta) -> list[float]:
    closes = [float(path.price_at(T0 + offset + timedelta(days=d))) for d in range(days + 1)]
    return [math.log(b / a) for a, b in pairwise(closes)]


def _stdev(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def test_the_real_candles_move_a_few_percent_a_day() -> None:
    daily = daily_volatility()
    assert D("0.02") < daily < D("0.08")  # ETH/BTC, January 2018: about 5%
    eth_btc = read_candles(OHLCV_DIR / CALIBRATION_FILE)
    assert realised_daily_volatility(eth_btc) == daily
    # The estimator on hourly closes agrees with the plain daily returns in scale.
    assert D("0.5") < realised_daily_volatility(eth_btc, 86_400) / daily < D("1.5")


def test_a_default_walk_moves_a_day_as_much_as_the_real_market() -> None:
    """Realised over a year of daily closes, for several seeds: within a sane band of the real
    daily volatility (the estimate from 365 returns has a spread of about 4%)."""
    daily = float(daily_volatility())
    for seed in (1, 2, 3):
        walk = RandomWalk(
            seed=seed, start_price=D(65000), started_at=T0, volatility=default_volatility()
        )
        realised = _stdev(_daily_log_returns(walk, 365, timedelta(hours=seed)))
        assert 0.75 * daily < realised < 1.25 * daily, (seed, realised, daily)


def test_step_volatility_inverts_daily_volatility_at_any_step() -> None:
    for step_seconds in (1, 5, 60):
        step = RandomWalk.step_volatility(D("0.04"), step_seconds)
        assert abs(RandomWalk.daily_volatility(step, step_seconds) - D("0.04")) < D("0.00001")
    # The old default, 0.001 a one-second step, was a market moving about a quarter a day.
    assert RandomWalk.daily_volatility(D("0.001")) > D("0.2")


def test_a_walk_is_constant_within_a_step_and_says_so() -> None:
    walk = RandomWalk(
        seed=4, start_price=D(100), started_at=T0, volatility=D("0.001"), step_seconds=5
    )
    inside = [T0 + timedelta(seconds=10, milliseconds=ms) for ms in (0, 1, 2500, 4999)]
    assert {walk.step_of(t) for t in inside} == {2}
    assert len({walk.price_at(t) for t in inside}) == 1
    assert walk.step_of(T0 + timedelta(seconds=15)) == 3
    assert FixedPrice(D(1)).step_of(T0) == FixedPrice(D(1)).step_of(T0 + timedelta(days=9))


@pytest.mark.parametrize("looping", [False, True])
def test_a_replay_is_constant_until_the_change_it_announces(looping: bool) -> None:
    """step_of/next_change let the simulators skip a market until its price can move: the
    price must hold from any time until just before the announced change, played forwards,
    mirrored, across gaps and past the ends."""
    replay = CandleReplay(
        read_candles(OHLCV_DIR / "ETH_BTC-1m.parquet"), started_at=T0, speed=7.5, looping=looping
    )
    span = replay.duration * 3
    for i in range(300):
        t = T0 - replay.duration + span * i / 300 + timedelta(microseconds=i * 7919)
        change = replay.next_change(t)
        assert change is not None and change > t
        just_before = change - timedelta(microseconds=1)
        assert replay.step_of(just_before) == replay.step_of(t) != replay.step_of(change)
        held = replay.candle(t, change)
        assert held.high == held.low == replay.price_at(t) == replay.price_at(just_before)
