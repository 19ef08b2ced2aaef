"""The indicators (domain/indicators) against the `ta` library, or pandas where ta has none, on
every shipped candle file and on seeded synthetic series; their edge cases; and their invariants
on random candles."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ta.momentum import RSIIndicator
from ta.trend import EMAIndicator, SMAIndicator
from ta.volatility import AverageTrueRange, BollingerBands
from ta.volume import MFIIndicator, OnBalanceVolumeIndicator, VolumeWeightedAveragePrice

from adapters.market_data import OHLCV_DIR, read_candles
from benchmarks.indicators import synthetic_candles
from domain import indicators as ind

PRICES = ("open", "high", "low", "close", "volume")
FILES = sorted(path.name for path in OHLCV_DIR.glob("*.parquet"))
# Synthetic series: prices like a stock or ETH/BTC on a 0.01 tick (with some empty candles),
# like BTC in dollars, and like the real altcoins' tiny satoshi prices on a 1e-8 tick.
SYNTHETIC = {
    "walk": dict(seed=1, start=100.0, tick=0.01, volume=50.0, zero_volume=0.02),
    "large": dict(seed=2, start=1e5, tick=0.01, step=1e-3, volume=2.0),
    "tiny": dict(seed=3, start=5e-6, tick=1e-8, step=3e-3, volume=1e5),
}
DATASETS = [*FILES, *SYNTHETIC]
RTOL = 1e-9
BANDS = ["upper", "middle", "lower"]
PROFILE = ["price_low", "price_high", "volume", "poc"]


@cache
def decimal_frame(name: str) -> pl.DataFrame:
    """One shipped file as read_candles gives it: Decimal(18, 8) prices and volume."""
    candles = read_candles(OHLCV_DIR / name)
    return pl.DataFrame(
        {
            "open_time_ms": [int(c.open_time.timestamp() * 1000) for c in candles],
            **{k: [getattr(c, k) for c in candles] for k in PRICES},
        },
        schema_overrides={k: pl.Decimal(18, 8) for k in PRICES},
    )


@cache
def frame(name: str) -> pl.DataFrame:
    if name in SYNTHETIC:
        return synthetic_candles(3_000, **SYNTHETIC[name])
    return decimal_frame(name).with_columns(pl.col(PRICES).cast(pl.Float64))


def columns(df: pl.DataFrame) -> dict[str, pd.Series]:
    return {k: pd.Series(df[k].to_numpy()) for k in PRICES}


def _rsi(s: dict[str, pd.Series], n: int) -> np.ndarray:
    want = RSIIndicator(s["close"], n).rsi().to_numpy(copy=True)
    # ta says 100 where both Wilder averages are 0 (no move in the window); ours 50.
    diff = s["close"].diff()
    up = diff.where(diff > 0, 0.0).ewm(alpha=1 / n, adjust=False).mean()
    down = -diff.where(diff < 0, 0.0).ewm(alpha=1 / n, adjust=False).mean()
    want[((up == 0) & (down == 0)).to_numpy() & ~np.isnan(want)] = 50.0
    return want


def _atr(s: dict[str, pd.Series], n: int) -> np.ndarray:
    want = (
        AverageTrueRange(s["high"], s["low"], s["close"], n)
        .average_true_range()
        .to_numpy(copy=True)
    )
    want[: n - 1] = np.nan  # ta's warm-up is 0, ours null
    return want


def _obv(s: dict[str, pd.Series], _n: int) -> np.ndarray:
    # ta counts +volume on row 0 and on an unchanged close; standard OBV counts 0.
    close, volume = s["close"], s["volume"]
    unchanged = (close == close.shift(1)) | (close.index == 0)
    ta_obv = OnBalanceVolumeIndicator(close, volume).on_balance_volume()
    return (ta_obv - volume.where(unchanged, 0.0).cumsum()).to_numpy()


def _mfi(s: dict[str, pd.Series], n: int) -> np.ndarray:
    want = MFIIndicator(s["high"], s["low"], s["close"], s["volume"], n).money_flow_index()
    want = want.to_numpy(copy=True)
    want[n - 1 :][np.isnan(want[n - 1 :])] = 50.0  # ta's 0/0 (no money flow): ours 50
    return want


def _vwap(s: dict[str, pd.Series], n: int) -> np.ndarray:
    vwap = VolumeWeightedAveragePrice(s["high"], s["low"], s["close"], s["volume"], n)
    return vwap.volume_weighted_average_price().to_numpy()  # 0/0 is NaN: ours null


def _relative_volume(s: dict[str, pd.Series], n: int) -> np.ndarray:
    before = s["volume"].rolling(n).mean().shift(1)
    return (s["volume"] / before.where(before != 0)).to_numpy()


def steady(values: pd.Series, n: int) -> np.ndarray:
    """Windows of `n` equal values. Their deviation is 0, but pandas' running variance leaves
    there a residue of the values that left the window, up to ~sqrt(eps) times their magnitude
    once the square root is taken: the reference, not ours, is corrected."""
    return (values.rolling(n).max() == values.rolling(n).min()).to_numpy()


def _bollinger(s: dict[str, pd.Series], n: int) -> dict[str, np.ndarray]:
    bands = BollingerBands(s["close"], n, 2)
    middle = bands.bollinger_mavg().to_numpy()
    return {
        "upper": np.where(steady(s["close"], n), middle, bands.bollinger_hband()),
        "middle": middle,
        "lower": np.where(steady(s["close"], n), middle, bands.bollinger_lband()),
    }


def _volatility(s: dict[str, pd.Series], n: int) -> np.ndarray:
    returns = s["close"].pct_change()
    return np.where(steady(returns, n), 0.0, returns.rolling(n).std())


Reference = Callable[[dict[str, pd.Series], int], Any]
# name: (the reference, the first row that is not warm-up for a period n, its default period)
CASES: dict[str, tuple[Reference, Callable[[int], int], int]] = {
    "rsi": (_rsi, lambda n: n - 1, 14),
    "sma": (
        lambda s, n: SMAIndicator(s["close"], n).sma_indicator().to_numpy(),
        lambda n: n - 1,
        20,
    ),
    "ema": (
        lambda s, n: EMAIndicator(s["close"], n).ema_indicator().to_numpy(),
        lambda n: n - 1,
        20,
    ),
    "bollinger": (_bollinger, lambda n: n - 1, 20),
    "atr": (_atr, lambda n: n - 1, 14),
    "obv": (_obv, lambda n: 0, 0),
    "mfi": (_mfi, lambda n: n - 1, 14),
    "vwap": (_vwap, lambda n: n - 1, 14),
    "volatility": (_volatility, lambda n: n, 20),
    "volume_average": (lambda s, n: s["volume"].rolling(n).mean().to_numpy(), lambda n: n - 1, 20),
    "relative_volume": (_relative_volume, lambda n: n, 20),
}
SERIES = [name for name in CASES if name != "bollinger"]


def ours(name: str, df: pl.DataFrame, period: int | None = None) -> Any:
    """Our indicator with `period` (its default when None; OBV has none)."""
    kwargs = {} if period is None or name == "obv" else {"period": period}
    return getattr(ind, name)(df, **kwargs)


def as_array(series: pl.Series, rows: int) -> np.ndarray:
    """Our Series as floats with null → NaN, after checking its type and that no NaN hides
    among the values (ours says null, never NaN)."""
    assert series.dtype == pl.Float64 and series.len() == rows
    assert not series.is_nan().any(), "NaN in the result"
    return series.to_numpy()


def assert_matches(got: np.ndarray, want: np.ndarray, first: int, label: str) -> None:
    """Null exactly where the reference has none, every warm-up row null, every other value
    within 1e-9 relative of the reference — with an absolute floor of 1e-9 times the series'
    largest magnitude, for values that cross or touch 0 (OBV, volatility), where a relative
    bound on a value near 0 would demand more than floats can give."""
    assert np.isnan(got[:first]).all(), f"{label}: a warm-up row before {first} is not null"
    assert np.isnan(want[:first]).all(), f"{label}: reference has values in the warm-up"
    mismatch = np.flatnonzero(np.isnan(got) != np.isnan(want))
    assert not mismatch.size, (
        f"{label}: row {mismatch[0]}: got {got[mismatch[0]]}, want {want[mismatch[0]]}"
    )
    scale = np.nanmax(np.abs(want), initial=0.0)
    close = np.isclose(got, want, rtol=RTOL, atol=RTOL * scale, equal_nan=True)
    bad = np.flatnonzero(~close)
    assert not bad.size, (
        f"{label}: {bad.size} rows off, first {bad[0]}: got {got[bad[0]]!r}, want {want[bad[0]]!r}"
    )


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize(
    ("name", "period"),
    [(name, period) for name in CASES for period in (None, 5) if name != "obv" or not period],
    ids=lambda value: str(value or "default"),
)
def test_agrees_with_ta(name: str, dataset: str, period: int | None) -> None:
    df = frame(dataset)
    reference, warmup, default = CASES[name]
    n = period or default
    want = reference(columns(df), n)
    got = ours(name, df, period)
    label = f"{name}({n}) on {dataset}"
    if name == "bollinger":
        assert got.columns == BANDS and got.height == df.height
        for band in got.columns:
            assert_matches(as_array(got[band], df.height), want[band], warmup(n), f"{label} {band}")
    else:
        assert_matches(as_array(got, df.height), want, warmup(n), label)


def profile_reference(df: pl.DataFrame, bins: int) -> list[tuple[float, float, float]]:
    """(price_low, price_high, volume) per bucket, one candle at a time in plain Python."""
    lows, highs, volumes = (df[k].to_list() for k in ("low", "high", "volume"))
    bottom, top = min(lows), max(highs)
    width = (top - bottom) / bins
    edges = [bottom + i * width for i in range(bins)] + [top]
    totals = [0.0] * bins
    for low, high, volume in zip(lows, highs, volumes, strict=True):
        if high == low:  # all in the bucket holding the price; the top belongs to the last
            totals[min(int((low - bottom) / width), bins - 1)] += volume
            continue
        for i in range(bins):
            overlap = min(high, edges[i + 1]) - max(low, edges[i])
            if overlap > 0:
                totals[i] += volume * overlap / (high - low)
    return [(edges[i], edges[i + 1], totals[i]) for i in range(bins)]


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("bins", [24, 7])
def test_volume_profile_agrees_with_a_plain_reference(dataset: str, bins: int) -> None:
    df = frame(dataset)
    got = ind.volume_profile(df, bins=bins)
    assert got.columns == PROFILE and got.height == bins
    want = profile_reference(df, bins)
    for column, values in zip(
        ("price_low", "price_high", "volume"), zip(*want, strict=True), strict=True
    ):
        scale = max(abs(v) for v in values)
        assert np.allclose(got[column].to_numpy(), values, rtol=RTOL, atol=RTOL * scale), column
    assert got["poc"].dtype == pl.Boolean and got["poc"].sum() == 1
    assert got["poc"].arg_max() == int(np.argmax([v for _, _, v in want]))


def flat(rows: int, price: float = 0.0123, volume: float = 1.5) -> pl.DataFrame:
    return pl.DataFrame({k: [price] * rows for k in PRICES[:4]} | {"volume": [volume] * rows})


def test_flat_prices() -> None:
    df = flat(60)

    def nulls_then(name: str, value: float, first: int) -> bool:
        return bool(ours(name, df).to_list() == [None] * first + [value] * (60 - first))

    assert nulls_then("rsi", 50.0, 13) and nulls_then("mfi", 50.0, 13)
    assert nulls_then("atr", 0.0, 13) and nulls_then("volatility", 0.0, 20)
    assert nulls_then("obv", 0.0, 0)
    bands = ind.bollinger(df).slice(19)  # collapsed on the price
    for band in ("upper", "middle", "lower"):
        assert bands[band].to_list() == pytest.approx([0.0123] * 41, rel=RTOL)


def test_zero_volume() -> None:
    df = frame("walk").head(100).with_columns(volume=pl.lit(0.0))
    assert ind.vwap(df).null_count() == 100
    assert ind.relative_volume(df).null_count() == 100
    assert ind.mfi(df).to_list() == [None] * 13 + [50.0] * 87
    assert ind.obv(df).to_list() == [0.0] * 100


# Where the run starts: at 644 and 2044 a running float sum of the walk's volumes is left with a
# residue at the end of the run (at 80 it is not, but one of MFI's money flows is).
@pytest.mark.parametrize("start", [80, 644, 2044])
def test_a_run_of_empty_candles(start: int) -> None:
    """A window wholly inside 40 empty candles traded nothing: VWAP null, MFI 50; relative
    volume null where the candles before are all empty. An exact 0 decides, not the residue a
    running float sum leaves of the volume that left the window."""
    df = frame("walk")
    empty = (pl.int_range(df.height) >= start) & (pl.int_range(df.height) < start + 40)
    df = df.with_columns(volume=pl.when(empty).then(0.0).otherwise(pl.col("volume")))
    inside = range(start + 13, start + 40)  # the 14-candle windows within the run
    assert ind.vwap(df).gather(inside).to_list() == [None] * 27
    assert ind.mfi(df).gather(inside).to_list() == [50.0] * 27
    after = range(start + 20, start + 41)  # the rows whose 20 candles before are empty
    assert ind.relative_volume(df).gather(after).to_list() == [None] * 21


@pytest.mark.parametrize("name", [*CASES, "volume_profile"])
def test_empty_frame(name: str) -> None:
    df = pl.DataFrame(schema={k: pl.Float64 for k in PRICES})
    got = ours(name, df)
    if name in ("bollinger", "volume_profile"):
        assert got.height == 0 and got.columns == (BANDS if name == "bollinger" else PROFILE)
    else:
        assert got.dtype == pl.Float64 and got.len() == 0


@pytest.mark.parametrize("name", CASES)
def test_fewer_candles_than_the_period(name: str) -> None:
    df = frame("walk").head(5)
    got = ours(name, df, 14)
    if name == "obv":
        assert got.len() == 5 and got.null_count() == 0  # no warm-up
    elif name == "bollinger":
        assert got.height == 5 and all(got[c].null_count() == 5 for c in got.columns)
    else:
        assert got.dtype == pl.Float64 and got.len() == 5 and got.null_count() == 5


@pytest.mark.parametrize("name", [*CASES, "volume_profile"])
def test_a_gap_in_time_is_just_the_next_row(name: str) -> None:
    df = frame("walk")
    gapped = df.filter((pl.int_range(df.height) < 1000) | (pl.int_range(df.height) >= 1300))
    regular = gapped.with_columns(open_time_ms=df["open_time_ms"].head(gapped.height))
    got = ours(name, gapped)
    assert got.equals(ours(name, regular)) and got.equals(ours(name, gapped.drop("open_time_ms")))


@pytest.mark.parametrize("name", [*CASES, "volume_profile"])
def test_decimal_and_integer_input(name: str) -> None:
    decimal = decimal_frame("XLM_BTC-5m.parquet")
    if name != "mfi":  # MFI's direction is exact on decimals: the next test
        assert ours(name, decimal).equals(ours(name, frame("XLM_BTC-5m.parquet")))
    integer = frame("walk").with_columns((pl.col(PRICES) * 100).round().cast(pl.Int64))
    as_float = integer.with_columns(pl.col(PRICES).cast(pl.Float64))
    assert ours(name, integer).equals(ours(name, as_float))


@pytest.mark.parametrize("dataset", FILES)
def test_mfi_of_decimal_candles_decides_direction_exactly(dataset: str) -> None:
    """Two equal h + l + c can differ by a rounding in floats, where ta counts a move; ours
    compares decimal candles exactly. So on decimals ours matches ta fed the prices as whole
    satoshis, whose float sums are exact (MFI does not depend on the price's scale)."""
    satoshis = frame(dataset).with_columns((pl.col(PRICES[:4]) * 1e8).round())
    want = _mfi(columns(satoshis), 14)
    assert_matches(as_array(ind.mfi(decimal_frame(dataset)), want.size), want, 13, dataset)


@st.composite
def candles(draw: st.DrawFn) -> pl.DataFrame:
    """OHLCV with high >= max(open, close), low <= min(open, close) and volume >= 0, in 8
    decimals as exchanges give them (not round floats, whose sums are exact); each candle may
    repeat up to 30 times (a flat market) and its volume may be 0."""
    amount = st.integers(0, 10**14).map(lambda satoshis: satoshis / 1e8)
    price = st.integers(1, 10**14).map(lambda satoshis: satoshis / 1e8)
    volume = st.one_of(st.just(0.0), amount)
    repeats = st.one_of(st.just(0), st.integers(0, 30))
    rows: list[tuple[float, ...]] = []
    for o, c, up, down, v, repeat in draw(
        st.lists(st.tuples(price, price, amount, amount, volume, repeats), max_size=30)
    ):
        bottom = min(o, c)
        rows += [(o, max(o, c) + up, bottom - min(down, bottom), c, v)] * (1 + repeat)
    return pl.DataFrame(rows, schema={k: pl.Float64 for k in PRICES}, orient="row")


@st.composite
def walks(draw: st.DrawFn) -> pl.DataFrame:
    """A synthetic series of up to 1,000 candles with a run of empty ones: long histories of
    realistic values, where a running float sum drifts from the exact one."""
    n = draw(st.integers(0, 1_000))
    shape = {**draw(st.sampled_from(list(SYNTHETIC.values()))), "seed": draw(st.integers(0, 2**32))}
    start, length = draw(st.integers(0, n)), draw(st.integers(0, 60))
    empty = (pl.int_range(n) >= start) & (pl.int_range(n) < start + length)
    df = synthetic_candles(n, **shape).drop("open_time_ms")
    return df.with_columns(volume=pl.when(empty).then(0.0).otherwise(pl.col("volume")))


@settings(max_examples=200, deadline=None)
@given(df=st.one_of(candles(), walks()), period=st.integers(2, 30))
def test_invariants_on_random_candles(df: pl.DataFrame, period: int) -> None:
    for name in SERIES:
        assert ours(name, df, period).len() == df.height, name
    for name in ("rsi", "mfi"):
        assert all(0 <= v <= 100 for v in ours(name, df, period).drop_nulls()), name
    assert (ind.atr(df, period=period).drop_nulls() >= 0).all()
    bands = ind.bollinger(df, period=period).drop_nulls()
    assert bands.height == max(df.height - period + 1, 0)
    assert ((bands["lower"] <= bands["middle"]) & (bands["middle"] <= bands["upper"])).all()
    # A window without money flow (each candle without volume or with the typical price
    # unchanged; the first row has none) has MFI 50, one without volume no VWAP: exactly.
    typical = df["high"] + df["low"] + df["close"]
    flowless = (df["volume"] == 0) | (typical == typical.shift(1)).fill_null(True)
    for name, idle, expected in (("mfi", flowless, 50.0), ("vwap", df["volume"] == 0, None)):
        whole = (idle.cast(pl.Int64).rolling_sum(period) == period).fill_null(False)
        assert ours(name, df, period).filter(whole).to_list() == [expected] * whole.sum(), name
    if df.height:
        profile = ind.volume_profile(df, bins=period)
        assert profile["volume"].sum() == pytest.approx(df["volume"].sum(), rel=RTOL)
        assert profile["poc"].sum() == 1
