"""Indicators of the candle's range: the Average True Range."""

from __future__ import annotations

import polars as pl

from domain.indicators.columns import column, nulls, positive


def true_range(candles: pl.DataFrame) -> pl.Series:
    """The largest of high - low, |high - previous close|, |low - previous close|; the first
    row, with no previous close, is high - low."""
    high, low = column(candles, "high"), column(candles, "low")
    previous = column(candles, "close").shift(1)
    frame = pl.DataFrame({"range": high - low, "up": (high - previous).abs()})
    frame = frame.with_columns(down=(low - previous).abs())
    return frame.select(pl.max_horizontal("range", "up", "down").alias("true_range")).to_series()


def atr(candles: pl.DataFrame, *, period: int = 14) -> pl.Series:
    """Wilder's Average True Range: at row `period - 1` the mean of the first `period` true
    ranges, then ATR = (previous * (period - 1) + true range) / period. The rows before are
    null (`ta` fills them with 0).

    Wilder's recursion is an exponential mean with alpha = 1 / period started on that first
    mean, which is what polars' `ewm_mean(adjust=False)` computes over [mean, tr[period:]...].
    """
    positive(period, "period")
    ranges = true_range(candles)
    if len(ranges) < period:
        return nulls(len(ranges), "atr")
    first = pl.Series([ranges.head(period).mean()], dtype=pl.Float64)
    seeded = pl.concat([first, ranges.slice(period)])
    smoothed = seeded.ewm_mean(alpha=1.0 / period, adjust=False)
    return pl.concat([nulls(period - 1, "atr"), smoothed]).alias("atr")
