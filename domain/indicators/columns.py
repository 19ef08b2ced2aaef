"""Reading candle columns as floats, and the shared checks on periods."""

from __future__ import annotations

import polars as pl

CANDLE_COLUMNS = ("open", "high", "low", "close", "volume")


def column(candles: pl.DataFrame, name: str) -> pl.Series:
    """`name` as Float64 (a Decimal column converts to the nearest float)."""
    if name not in candles.columns:
        raise ValueError(f"the candles have no {name!r} column (they need {CANDLE_COLUMNS})")
    return candles.get_column(name).cast(pl.Float64)


def typical_price(candles: pl.DataFrame) -> pl.Series:
    """(high + low + close) / 3, summed in that order as `ta` does."""
    return (column(candles, "high") + column(candles, "low") + column(candles, "close")) / 3.0


def typical_direction(candles: pl.DataFrame) -> pl.Series:
    """+1 where the typical price rose from the previous candle, -1 where it fell, 0 where it
    did not move and on the first row. Decided on high + low + close in the input's own type,
    so decimal candles compare exactly: in floats, two equal typical prices can differ by a
    rounding and count as a move (as they do in `ta`).
    """
    total = candles.get_column("high") + candles.get_column("low") + candles.get_column("close")
    before = total.shift(1)
    rose, fell = (total > before).cast(pl.Float64), (total < before).cast(pl.Float64)
    return (rose - fell).fill_null(0.0)


def positive(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
    return value


def nulls(count: int, name: str) -> pl.Series:
    return pl.Series(name, [None] * count, dtype=pl.Float64)
