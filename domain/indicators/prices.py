"""Indicators of the close alone: moving averages, RSI, Bollinger Bands, volatility."""

from __future__ import annotations

import polars as pl

from domain.indicators.columns import column, positive


def sma(candles: pl.DataFrame, *, period: int = 20) -> pl.Series:
    """Simple moving average of the close; the first `period - 1` rows are null."""
    positive(period, "period")
    return column(candles, "close").rolling_mean(period).alias("sma")


def ema(candles: pl.DataFrame, *, period: int = 20) -> pl.Series:
    """Exponential moving average of the close, alpha = 2 / (period + 1), started on the first
    close (`ta`: pandas' `ewm(span, adjust=False)`); the first `period - 1` rows are null."""
    positive(period, "period")
    close = column(candles, "close")
    return close.ewm_mean(span=period, adjust=False, min_samples=period).alias("ema")


def rsi(candles: pl.DataFrame, *, period: int = 14) -> pl.Series:
    """Wilder's Relative Strength Index, 0..100.

    Gains and losses of the close smoothed with alpha = 1 / period from the first row (which
    counts as no move, as in `ta`); the first `period - 1` rows are null. Where both averages
    are 0 (no move in the whole history so far) the RSI is 50, neutral; `ta` says 100 there.
    """
    positive(period, "period")
    change = column(candles, "close").diff().fill_null(0.0)

    def smoothed(moves: pl.Series) -> pl.Series:
        return moves.clip(lower_bound=0.0).ewm_mean(
            alpha=1.0 / period, adjust=False, min_samples=period
        )

    frame = pl.DataFrame({"gain": smoothed(change), "loss": smoothed(-change)})
    gain, loss = pl.col("gain"), pl.col("loss")
    value = (
        pl.when(loss == 0.0)
        .then(pl.when(gain == 0.0).then(50.0).otherwise(100.0))
        .otherwise(100.0 - 100.0 / (1.0 + gain / loss))
    )
    return frame.select(value.alias("rsi")).to_series()


def bollinger(candles: pl.DataFrame, *, period: int = 20, std: float = 2) -> pl.DataFrame:
    """Bollinger Bands: `middle` the simple moving average, `upper` and `lower` `std`
    population standard deviations (ddof 0, as `ta`) away; the first `period - 1` rows null."""
    positive(period, "period")
    if not std >= 0:
        raise ValueError(f"std must be a number of at least 0, not {std!r}")
    close = column(candles, "close")
    middle = close.rolling_mean(period)
    spread = float(std) * close.rolling_std(period, ddof=0)
    return pl.DataFrame(
        {"upper": middle + spread, "middle": middle, "lower": middle - spread},
        schema={"upper": pl.Float64, "middle": pl.Float64, "lower": pl.Float64},
    )


def volatility(candles: pl.DataFrame, *, period: int = 20) -> pl.Series:
    """Sample standard deviation (ddof 1) of the close's simple returns over `period` returns,
    per candle (not annualised); the first `period` rows are null (row 0 has no return)."""
    if positive(period, "period") < 2:
        raise ValueError("period must be at least 2: one return has no deviation")
    close = column(candles, "close")
    returns = close / close.shift(1) - 1.0
    return returns.rolling_std(period, ddof=1).alias("volatility")
