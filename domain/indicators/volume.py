"""Indicators of traded volume: OBV, MFI, VWAP, volume averages and the volume profile."""

from __future__ import annotations

import polars as pl

from domain.indicators.columns import column, positive, typical_direction, typical_price


def obv(candles: pl.DataFrame) -> pl.Series:
    """On-Balance Volume: the running sum of the volume of candles that closed up, minus that
    of candles that closed down; an unchanged close adds nothing, and the first row is 0.

    Granville's definition (and TradingView's). `ta` adds the volume of unchanged closes and of
    the first row as if they rose, so its OBV drifts upward on flat markets.
    """
    direction = column(candles, "close").diff().sign().fill_null(0.0)
    return (direction * column(candles, "volume")).cum_sum().alias("obv")


def mfi(candles: pl.DataFrame, *, period: int = 14) -> pl.Series:
    """Money Flow Index, 0..100: the typical price * volume of the last `period` candles,
    split by whether the typical price rose or fell (the first row and unchanged prices count
    as neither; decimal candles compare exactly, `columns.typical_direction`), as
    100 - 100 / (1 + rising / falling). The first `period - 1` rows are null.

    Only rising flow: 100 (as `ta`). Neither (flat prices or no volume): 50, neutral, where
    `ta` has no value (0 / 0).
    """
    positive(period, "period")
    price = typical_price(candles)
    flow = price * column(candles, "volume") * typical_direction(candles)
    frame = pl.DataFrame(
        {
            "rising": flow.clip(lower_bound=0.0).rolling_sum(period),
            "falling": (-flow).clip(lower_bound=0.0).rolling_sum(period),
            "rises": _count(flow > 0.0, period),
            "falls": _count(flow < 0.0, period),
        }
    )
    rising, falling = pl.col("rising"), pl.col("falling")
    rises, falls = pl.col("rises"), pl.col("falls")
    value = (
        pl.when(falls == 0)
        .then(pl.when(rises == 0).then(50.0).otherwise(100.0))
        .when(rises == 0)
        .then(0.0)
        .otherwise(100.0 - 100.0 / (1.0 + rising / falling))
    )
    return frame.select(value.alias("mfi")).to_series()


def _count(condition: pl.Series, period: int) -> pl.Series:
    """How many of the last `period` rows meet `condition`: an exact integer, where a running
    float sum keeps a residue of the values that left the window. So "nothing traded" and "no
    money flowed down" are decided exactly, never by a sum that should be 0 and is 1e-12."""
    return condition.cast(pl.Int32).rolling_sum(period)


def vwap(candles: pl.DataFrame, *, period: int = 14) -> pl.Series:
    """Volume-weighted average of the typical price over the last `period` candles (`ta`'s
    rolling VWAP, not a session VWAP); null where those candles traded nothing, and in the
    first `period - 1` rows."""
    positive(period, "period")
    volume = column(candles, "volume")
    value = (typical_price(candles) * volume).rolling_sum(period) / volume.rolling_sum(period)
    return _where_traded(value, volume, period).alias("vwap")


def volume_average(candles: pl.DataFrame, *, period: int = 20) -> pl.Series:
    """Mean volume of the last `period` candles; the first `period - 1` rows are null."""
    positive(period, "period")
    volume = column(candles, "volume")
    mean = volume.rolling_mean(period)
    return _where_traded(mean, volume, period, otherwise=0.0).alias("volume_average")


def relative_volume(candles: pl.DataFrame, *, period: int = 20) -> pl.Series:
    """A candle's volume over the mean volume of the `period` candles before it (2.0: twice
    the usual); null where that mean is 0, and in the first `period` rows."""
    positive(period, "period")
    volume = column(candles, "volume")
    usual = _where_traded(volume.rolling_mean(period), volume, period)
    return (volume / usual.shift(1)).alias("relative_volume")


def _where_traded(
    value: pl.Series, volume: pl.Series, period: int, otherwise: float | None = None
) -> pl.Series:
    """`value` where some of the last `period` candles traded, `otherwise` where none did,
    decided by an exact count (`_count`). Candles without a zero volume need no count."""
    if not (volume == 0.0).any():
        return value
    frame = pl.DataFrame({"value": value, "trades": _count(volume != 0.0, period)})
    chosen = pl.when(pl.col("trades") == 0).then(otherwise).otherwise(pl.col("value"))
    return frame.select(chosen).to_series()


_PROFILE_SCHEMA = {
    "price_low": pl.Float64,
    "price_high": pl.Float64,
    "volume": pl.Float64,
    "poc": pl.Boolean,
}


def volume_profile(candles: pl.DataFrame, *, bins: int = 24) -> pl.DataFrame:
    """Volume by price: the candles' whole range (lowest low to highest high) in `bins` equal
    buckets, lowest first, each with the volume traded in it; `poc` marks the point of control,
    the bucket of most volume (the lowest of equals).

    A candle's volume is spread over the buckets its low-high range overlaps, in proportion to
    the overlap (volume is not known by price inside a candle; uniform is the usual
    assumption). A candle without range puts its volume in the bucket of its close; the top
    price belongs to the last bucket.
    """
    positive(bins, "bins")
    frame = pl.DataFrame(
        {
            "low": column(candles, "low"),
            "high": column(candles, "high"),
            "close": column(candles, "close"),
            "volume": column(candles, "volume"),
        }
    )
    lowest, highest = frame.get_column("low").min(), frame.get_column("high").max()
    if not isinstance(lowest, float) or not isinstance(highest, float):
        return pl.DataFrame(schema=_PROFILE_SCHEMA)
    width = (highest - lowest) / bins
    edges = [lowest + width * i for i in range(bins)] + [highest]
    low, high, volume = pl.col("low"), pl.col("high"), pl.col("volume")
    spread = high - low
    bucket = (
        ((pl.col("close") - lowest) / width).floor().clip(0, bins - 1)
        if width > 0
        else pl.lit(bins - 1)
    )
    shares = [
        pl.when(spread > 0)
        .then(
            (pl.min_horizontal(high, edges[i + 1]) - pl.max_horizontal(low, edges[i])).clip(
                lower_bound=0.0
            )
            / spread
            * volume
        )
        .when(bucket == i)
        .then(volume)
        .otherwise(0.0)
        .sum()
        .alias(str(i))
        for i in range(bins)
    ]
    volumes = frame.select(shares).row(0)
    most = max(range(bins), key=lambda i: (volumes[i], -i))
    return pl.DataFrame(
        {
            "price_low": edges[:-1],
            "price_high": edges[1:],
            "volume": volumes,
            "poc": [i == most for i in range(bins)],
        },
        schema=_PROFILE_SCHEMA,
    )
